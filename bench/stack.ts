import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { Queue } from 'bullmq';
import { VeilClient } from '../src/producer/client.js';
import { Owner } from '../src/producer/crypto.js';
import { QUEUE_NAME } from '../src/server/queue.js';
import { connectRedis, keyPrefix, type RedisClient } from '../src/server/redis.js';
import { CLI_PATH, startLocalStack, type LocalStack } from '../src/stack/local.js';
import { procRss } from './util.js';

/**
 * A local stack as `npm start` runs it (its own redis-server unless REDIS_URL is set, the API, N
 * worker processes and the scheduler, all from dist/), with a unique key prefix and a direct
 * BullMQ handle for what the API does not expose (processedOn, stalledCounter).
 */
export interface BenchStack {
  stack: LocalStack;
  client: VeilClient;
  queue: Queue;
  redis: RedisClient;
  prefix: string;
  apiPid(): number | undefined;
  workerPids(): number[];
  close(): Promise<void>;
}

export async function benchStack(workers: number, env: Record<string, string> = {}): Promise<BenchStack> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first (npm run bench does)`);
  const prefix = `veilbench-${randomUUID().slice(0, 8)}`;
  const stack = await startLocalStack({
    workers,
    env: { VEIL_PREFIX: prefix, LOG_LEVEL: 'warn', ...env },
    logs: process.env.BENCH_STACK_LOGS === '1' ? 'inherit' : 'ignore',
  });
  const redis = connectRedis(stack.redisUrl, 'veil-bench');
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: `${keyPrefix(prefix, stack.redisUrl)}:bull` });
  const client = new VeilClient({ server: stack.apiUrl });
  const workerPids = () => stack.workers.map((w) => w.pid).filter((p): p is number => typeof p === 'number');
  return {
    stack,
    client,
    queue,
    redis,
    prefix,
    workerPids,
    // The API is the child of this process running `cli.js api` (local.ts does not hand it out).
    apiPid: () => stackProcesses().find((p) => p.role === 'api')?.pid,
    async close() {
      await queue.close();
      redis.disconnect();
      await stack.close();
    },
  };
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** The stack's processes (children of this one) by role: api, worker, scheduler, redis. */
export function stackProcesses(): { role: string; pid: number }[] {
  return childPids(process.pid).flatMap((pid) => {
    const cmd = cmdline(pid);
    if (cmd.startsWith('redis-server')) return [{ role: 'redis', pid }];
    const at = cmd.indexOf(`${CLI_PATH} `);
    return at >= 0 ? [{ role: cmd.slice(at + CLI_PATH.length + 1), pid }] : [];
  });
}

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command; clock ticks of 10 ms.
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/** CPU ms per role (summed over processes of a role), this process included as 'bench'. */
export function cpuByRole(): Record<string, number> {
  const out: Record<string, number> = { bench: cpuMs(process.pid) };
  for (const p of stackProcesses()) out[p.role] = (out[p.role] ?? 0) + cpuMs(p.pid);
  return out;
}

/** RSS of every worker process, bytes. */
export function workerRss(s: BenchStack): { pid: number; rss: number; hwm: number }[] {
  return s.workerPids().flatMap((pid) => {
    const r = procRss(pid);
    return r ? [{ pid, ...r }] : [];
  });
}

/** BullMQ's own timestamps of a finished job (ms since epoch). */
export interface JobTimes {
  createdAt: number;
  processedOn: number;
  finishedOn: number;
  attemptsMade: number;
  /** Times the job was moved to active: > 1 after a stall or a retry. */
  attemptsStarted: number;
  stalledCounter: number;
  processedBy?: string;
}

export async function jobTimes(queue: Queue, jobId: string): Promise<JobTimes> {
  const job = await queue.getJob(jobId);
  if (!job) throw new Error(`job ${jobId} is not in the queue`);
  return {
    createdAt: job.timestamp,
    processedOn: job.processedOn ?? NaN,
    finishedOn: job.finishedOn ?? NaN,
    attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted ?? 0,
    stalledCounter: job.stalledCounter ?? 0,
    processedBy: job.processedBy,
  };
}

/** Upload a key pair's public context and keep the owner for encrypt/decrypt. */
export async function ownerFor(client: VeilClient, keys: { publicContext: Uint8Array; secretKeyFile: Uint8Array }): Promise<Owner> {
  const owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
  await client.uploadContext(keys.publicContext);
  return owner;
}
