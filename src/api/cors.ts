import cors from 'cors';
import type { RequestHandler } from 'express';

/**
 * CORS for the API: closed unless VEIL_CORS_ORIGINS lists an origin (a third-party app that
 * runs veil's client code in its own page). Listed origins may send the API's headers and read
 * Location / Retry-After. Any other request passes through untouched — no CORS headers, and a
 * preflight gets the API's usual 404 — so browsers keep other origins out.
 */
export function corsFor(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  const handler = cors({
    origin: true, // reflect the request's origin: only listed ones get this far
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
    exposedHeaders: ['Location', 'Retry-After'],
    maxAge: 600,
  });
  return (req, res, next) => (req.headers.origin !== undefined && allowed.has(req.headers.origin) ? handler(req, res, next) : next());
}
