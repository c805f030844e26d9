import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { RedisClient } from '../shared/redis.js';
import { isRedisUnavailable, UnavailableError, unavailableFor } from '../server/redis-errors.js';

/**
 * Refuse at once while Redis is disconnected: the API's connection queues commands until Redis
 * is back (BullMQ needs that), so without this a request would hang instead of getting a 503.
 */
export function requireRedis(redis: RedisClient) {
  return (_req: Request, res: Response, next: NextFunction) => {
    if (redis.status === 'ready') return next();
    const err = new UnavailableError('down');
    res.set('Retry-After', String(err.retryAfterSeconds));
    next(err);
  };
}

/**
 * Redis down or full → `503 unavailable` with Retry-After; logged by name only, never with the
 * command. Any error that knows its retry delay (429s) gets its Retry-After here too.
 */
export function redisFailureHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    // 429s and 503s say when to come back.
    const retryAfter = (err as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (typeof retryAfter === 'number') {
      res.set('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
      return next(err);
    }
    if (!isRedisUnavailable(err)) return next(err);
    const unavailable = unavailableFor(err as Error);
    logger.warn({ err, method: req.method, path: req.path }, 'redis unavailable; answered 503');
    res.set('Retry-After', String(unavailable.retryAfterSeconds));
    next(unavailable);
  };
}
