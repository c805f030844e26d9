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

/** Redis down or full → `503 unavailable` with Retry-After; logged by name only, never with the command. */
export function redisFailureHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (err instanceof UnavailableError) {
      res.set('Retry-After', String(err.retryAfterSeconds));
      return next(err);
    }
    if (!isRedisUnavailable(err)) return next(err);
    const unavailable = unavailableFor(err as Error);
    logger.warn({ err, method: req.method, path: req.path }, 'redis unavailable; answered 503');
    res.set('Retry-After', String(unavailable.retryAfterSeconds));
    next(unavailable);
  };
}
