import { Redis } from 'ioredis';

/**
 * ioredis connection for veil. `maxRetriesPerRequest: null` is what BullMQ requires of the
 * connections its workers block on; the API uses the same so a Redis blip delays, not fails.
 */
export function connectRedis(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false });
}
