import type { NextFunction, Request, Response } from 'express';
import { VeilError } from '../shared/errors.js';
import type { Scope, TokenTable } from '../server/tokens.js';

/** The tenant every request acts as; set by `authenticate`. */
export function tenantOf(res: Response): string {
  return res.locals.tenant as string;
}

/** What the request's token may do; set by `authenticate`. */
export function scopeOf(res: Response): Scope {
  return res.locals.scope as Scope;
}

/** Which token made the request (a hash prefix; `local` without tokens), for per-token limits. */
export function tokenIdOf(res: Response): string {
  return res.locals.tokenId as string;
}

export const LOCAL_TENANT = 'local';

/** The bearer token of a request, if it sent one. */
export function bearerToken(req: Request): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
}

export function unauthorized(res: Response, what: string): VeilError {
  res.set('WWW-Authenticate', 'Bearer');
  // The presented token is never echoed: it may be someone's real token, mistyped.
  return new VeilError('unauthorized', `send Authorization: Bearer <token> with ${what}`, 401);
}

/**
 * Bearer-token tenants. Without VEIL_TOKENS there is one local tenant with every scope, and
 * server.ts refuses to listen anywhere but loopback.
 */
export function authenticate(tokens: TokenTable | undefined) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!tokens) {
      res.locals.tenant = LOCAL_TENANT;
      res.locals.scope = 'admin';
      res.locals.tokenId = LOCAL_TENANT;
      return next();
    }
    const token = bearerToken(req);
    const principal = token === undefined ? undefined : tokens.match(token);
    if (!principal) return next(unauthorized(res, 'a token from VEIL_TOKENS'));
    res.locals.tenant = principal.tenant;
    res.locals.scope = principal.scope;
    res.locals.tokenId = principal.tokenId;
    next();
  };
}
