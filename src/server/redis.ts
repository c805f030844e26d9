import type { Cluster, Redis } from 'ioredis';
import { ioredis } from './cjs.js';
import { ConfigError } from '../shared/errors.js';

export type RedisClient = Redis | Cluster;

/**
 * Parse REDIS_URL into ioredis options. Besides redis:// and rediss://:
 *   redis+sentinel://[:password@]host:port[,host:port…]/masterName[?db=N]
 *   redis+cluster://[:password@]host:port[,host:port…]
 */
function parseHosts(list: string, url: string): { host: string; port: number }[] {
  return list.split(',').map((hp) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hp) ?? /^([^:]+)$/.exec(hp);
    if (!m) throw new ConfigError(`REDIS_URL ${url}: '${hp}' is not host:port`);
    return { host: m[1] as string, port: Number(m[2] ?? 26379) };
  });
}

/** Whether keys must share one cluster hash slot (BullMQ's Lua scripts and our MULTIs need it). */
export function isCluster(url: string): boolean {
  return url.startsWith('redis+cluster://');
}

/**
 * The key prefix for a deployment. On a Cluster it is a hash tag, `{veil}`, so every key veil and
 * BullMQ use lands in one slot: multi-key scripts and transactions then work, at the cost of one
 * shard holding veil's data (the cluster still gives failover).
 */
export function keyPrefix(prefix: string, url: string): string {
  return isCluster(url) ? `{${prefix}}` : prefix;
}

/**
 * An ioredis connection. `maxRetriesPerRequest: null` is what BullMQ requires of the connections
 * its workers block on; the API uses the same so a Redis blip delays requests instead of failing them.
 */
export function connectRedis(url: string, name: string): RedisClient {
  const m = /^redis\+(sentinel|cluster):\/\/(?::([^@]*)@)?([^/?]+)(?:\/([^?]*))?(?:\?db=(\d+))?$/.exec(url);
  if (!m) return new ioredis.Redis(url, { maxRetriesPerRequest: null, connectionName: name });
  const [, kind, password, hosts, master, db] = m;
  const nodes = parseHosts(hosts as string, url);
  if (kind === 'cluster') {
    return new ioredis.Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null, connectionName: name, password: password || undefined } });
  }
  if (!master) throw new ConfigError(`REDIS_URL ${url}: name the master, e.g. redis+sentinel://host:26379/mymaster`);
  return new ioredis.Redis({
    sentinels: nodes,
    name: master,
    password: password || undefined,
    db: Number(db ?? 0),
    maxRetriesPerRequest: null,
    connectionName: name,
  });
}
