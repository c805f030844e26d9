import type { NextFunction, Request, Response } from 'express';
import { VeilError } from '../shared/errors.js';

/** The tenant every request acts as; set by `authenticate`. */
export function tenantOf(res: Response): string {
  return res.locals.tenant as string;
}

export const LOCAL_TENANT = 'local';

/**
 * Bearer-token tenants. Without VEIL_TOKENS there is one local tenant, and server.ts refuses to
 * listen anywhere but loopback.
 */
export function authenticate(tokens: Map<string, string> | undefined) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!tokens) {
      res.locals.tenant = LOCAL_TENANT;
      return next();
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const tenant = match ? tokens.get(match[1] as string) : undefined;
    if (!tenant) {
      res.set('WWW-Authenticate', 'Bearer');
      return next(new VeilError('unauthorized', 'send Authorization: Bearer <token> with a token from VEIL_TOKENS', 401));
    }
    res.locals.tenant = tenant;
    next();
  };
}
