import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { RedisClient } from '../server/redis.js';
import { isRedisUnavailable, UnavailableError, unavailableFor } from '../server/redis-errors.js';

/** How long a request may wait on a lost Redis connection before it is answered 503. */
const LOST_REDIS_WAIT_MS = 5000;

/**
 * Refuse at once while Redis is disconnected: the API's connection queues commands until Redis
 * is back (BullMQ needs that), so without this a request would hang instead of getting a 503.
 * Requests already waiting when the connection drops get their 503 after LOST_REDIS_WAIT_MS, unless
 * Redis is back by then.
 */
export function requireRedis(redis: RedisClient) {
  const pending = new Set<Response>();
  let lost: NodeJS.Timeout | undefined;
  redis.on('close', () => {
    lost ??= setTimeout(() => {
      lost = undefined;
      if (redis.status === 'ready') return;
      for (const res of pending) if (!res.headersSent) sendUnavailable(res);
    }, LOST_REDIS_WAIT_MS).unref();
  });
  return (_req: Request, res: Response, next: NextFunction) => {
    if (redis.status !== 'ready') return sendUnavailable(res);
    pending.add(res);
    res.once('close', () => pending.delete(res));
    next();
  };
}

function sendUnavailable(res: Response): void {
  const err = new UnavailableError('down');
  res
    .set('Retry-After', String(err.retryAfterSeconds))
    .status(err.status)
    .json({ error: { code: err.code, message: err.message } });
}

/**
 * Redis down or full → `503 unavailable` with Retry-After; logged by name only, never with the
 * command. Any error that knows its retry delay (429s) gets its Retry-After here too.
 */
export function redisFailureHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    // Already answered (a 503 for a request stuck on a lost Redis): nothing more to say.
    if (res.headersSent) return void res.end();
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
