import { VeilError } from '../shared/errors.js';

/** Seconds a client is told to wait when Redis is down or full: long enough for a failover or an operator. */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

/**
 * Redis replies that mean "not now" rather than "bad request": out of memory under noeviction,
 * loading its dataset, a replica or a cluster without a master, a failed background save.
 */
const BUSY_REPLY = /(^|\W)(OOM|LOADING|MISCONF|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|BUSY)\b/;
/** ioredis and net errors of a lost or refused connection. */
const CONNECTION_LOST =
  /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|All sentinels are unreachable|Failed to refresh slots cache|Command timed out|Reached the max retries/;

/** Whether `err` is Redis being unavailable or full, as opposed to a bug or a bad input. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof VeilError) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  if (err.name === 'ReplyError' && BUSY_REPLY.test(err.message)) return true;
  // A MULTI refused as a whole (EXECABORT) carries the replies of the commands that were refused.
  const previous = (err as { previousErrors?: unknown }).previousErrors;
  if (Array.isArray(previous) && previous.some(isRedisUnavailable)) return true;
  // BullMQ rethrows script replies as plain Errors: match the reply text itself.
  return /OOM command not allowed/.test(err.message) || CONNECTION_LOST.test(err.message);
}

export class UnavailableError extends VeilError {
  override readonly name = 'UnavailableError';
  readonly retryAfterSeconds = UNAVAILABLE_RETRY_AFTER_S;
  constructor(reason: 'full' | 'down') {
    super(
      'unavailable',
      reason === 'full'
        ? 'the service is out of storage for the moment; retry after the Retry-After delay (operators: raise Redis maxmemory or lower RETENTION_SECONDS)'
        : 'the service cannot reach its queue store for the moment; retry after the Retry-After delay',
      503,
    );
  }
}

/** The 503 to answer for a Redis failure, without any of the failed command's arguments. */
export function unavailableFor(err: Error): UnavailableError {
  const previous = (err as { previousErrors?: unknown }).previousErrors;
  const messages = [err, ...(Array.isArray(previous) ? previous : [])].map((e) => (e instanceof Error ? e.message : ''));
  return new UnavailableError(messages.some((m) => /OOM/.test(m)) ? 'full' : 'down');
}
