import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../server/config.js';
import { VeilError } from '../shared/errors.js';
import type { Scope } from '../server/tokens.js';
import { bearerToken, scopeOf, unauthorized } from './auth.js';

/**
 * Which scope a /v1 request needs: reading models is for everyone (owners need the variant
 * layout), changing them is `models`, everything else (contexts, jobs, datasets) is `owner`.
 * `admin` may do everything.
 */
export function requiredScope(method: string, path: string): Scope | 'any' {
  if (/^\/models(\/|$)/.test(path)) return method === 'GET' || method === 'HEAD' ? 'any' : 'models';
  return 'owner';
}

/** 403 `forbidden_scope` for a token whose scope does not cover the route. Mount after authenticate. */
export function authorize(req: Request, res: Response, next: NextFunction) {
  const needed = requiredScope(req.method, req.path);
  const scope = scopeOf(res);
  if (needed === 'any' || scope === 'admin' || scope === needed) return next();
  next(
    new VeilError('forbidden_scope', `${req.method} ${req.baseUrl}${req.path} needs a token of scope '${needed}' (or 'admin'); this one has '${scope}'`, 403),
  );
}

/**
 * Operator endpoints (/metrics): open when the API runs without tokens (loopback only), else they
 * need VEIL_ADMIN_TOKEN or an admin-scope token from VEIL_TOKENS.
 */
export function requireAdmin(config: Pick<Config, 'VEIL_TOKENS' | 'VEIL_ADMIN_TOKEN'>) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!config.VEIL_TOKENS && !config.VEIL_ADMIN_TOKEN) return next();
    const token = bearerToken(req);
    const principal = token === undefined ? undefined : (config.VEIL_ADMIN_TOKEN?.match(token) ?? config.VEIL_TOKENS?.match(token));
    if (principal?.scope === 'admin') return next();
    next(unauthorized(res, 'VEIL_ADMIN_TOKEN or an admin-scope token'));
  };
}
