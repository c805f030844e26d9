import cors from 'cors';
import type { RequestHandler } from 'express';

/**
 * CORS for the API: closed unless VEIL_CORS_ORIGINS lists an origin (a third-party app that
 * runs veil's client code in its own page). Listed origins may send the API's headers and read
 * Location / Retry-After; any other origin gets no CORS headers, so browsers keep it out.
 */
export function corsFor(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return cors({
    origin: (origin, done) => done(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
    exposedHeaders: ['Location', 'Retry-After'],
    maxAge: 600,
  });
}
