import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { VeilClient } from '../../src/producer/client.js';
import { generateKeys, type KeyPair, type Owner } from '../../src/producer/crypto.js';
import { loadOwner, saveKeys } from '../../src/producer/sdk.js';
import { DEFAULT_PRESET, type PresetId } from '../../src/shared/params.js';
import { CLI_PATH, spawnRedis, startLocalStack, type LocalStack, type StackOptions } from '../../src/stack/local.js';
import { inProcessApi } from './api-process.js';

/**
 * A real stack for a test file: its own redis-server on a free port (or REDIS_URL with a unique
 * key prefix), the API, worker processes and the scheduler, all from dist/ as in production (with
 * inProcessApi, the API runs from src/ in the test's process).
 */
export type TestStack = Omit<LocalStack, 'api' | 'scheduler'> & {
  prefix: string;
  /** The API process; undefined when the API runs in the test's own process. */
  api?: ChildProcess;
  /** The scheduler process; undefined with `scheduler: false`. */
  scheduler?: ChildProcess;
};

export interface TestStackOptions extends StackOptions {
  /**
   * Run the API in this process on port 0 (startApi, the code `veil api` runs) where no test reads
   * the API process itself; workers and the scheduler stay separate processes.
   */
  inProcessApi?: boolean;
  /** With inProcessApi: start no scheduler process, for files that run no dataset schedules or sweeps. */
  scheduler?: boolean;
}

export async function testStack(opts: TestStackOptions = {}): Promise<TestStack> {
  if (!existsSync(new URL('../../dist/producer/cli.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm test` (it builds first) or `npm run build`');
  }
  const prefix = opts.env?.VEIL_PREFIX ?? `veiltest-${randomUUID().slice(0, 8)}`;
  const { inProcessApi, scheduler, ...rest } = opts;
  if (scheduler === false && !inProcessApi) throw new Error('scheduler: false needs inProcessApi (startLocalStack always starts one)');
  const stackOpts: StackOptions = {
    workers: 2,
    // VEIL_TEST_LOGS=1 shows the roles' logs when a test needs debugging.
    logs: process.env.VEIL_TEST_LOGS === '1' ? 'inherit' : 'ignore',
    ...rest,
    env: { VEIL_PREFIX: prefix, LOG_LEVEL: 'warn', JOB_LOCK_MS: '2000', ...opts.env },
  };
  const stack = inProcessApi ? await inProcessApiStack(stackOpts, scheduler ?? true) : await startLocalStack(stackOpts);
  return Object.assign(stack, { prefix });
}

/** startLocalStack's roles, with the API in this process: Redis (spawned or REDIS_URL), then the API, then the role processes. */
async function inProcessApiStack(opts: StackOptions, withScheduler: boolean): Promise<Omit<TestStack, 'prefix'>> {
  const external = opts.redisUrl ?? process.env.REDIS_URL;
  const redis = external ? { url: external, close: async () => {} } : await spawnRedis();
  const env = { ...process.env, ...opts.env };
  const logLevel = opts.logs === 'inherit' ? (env.LOG_LEVEL ?? 'info') : 'silent';
  const api = await inProcessApi(redis.url, { ...env, LOG_LEVEL: logLevel }).catch(async (err: unknown) => {
    await redis.close();
    throw err;
  });
  const stdio = opts.logs ?? 'ignore';
  const children: ChildProcess[] = [];
  const start = (role: 'worker' | 'scheduler') => {
    const child = spawn(process.execPath, [CLI_PATH, role], { env: { ...env, REDIS_URL: redis.url }, stdio: ['ignore', stdio, stdio] });
    children.push(child);
    return child;
  };
  const workers = Array.from({ length: opts.workers ?? 2 }, () => start('worker'));
  const scheduler = withScheduler ? start('scheduler') : undefined;
  let closing: Promise<void> | undefined;
  return {
    apiUrl: api.url,
    redisUrl: redis.url,
    workers,
    scheduler,
    addWorker: () => {
      const w = start('worker');
      workers.push(w);
      return w;
    },
    close: () =>
      (closing ??= (async () => {
        await api.close();
        await Promise.all(children.map((c) => stopRole(c)));
        await redis.close();
      })()),
  };
}

/** fetch against the stack with a msgpack or JSON body; returns status and parsed JSON (if any). */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: { type: string; data: Uint8Array | string },
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': body.type } : {}) },
    body: body?.data as RequestInit['body'],
  });
  const text = await res.text();
  let json: { error?: { code: string; message: string } } & Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // binary or empty body
  }
  return { status: res.status, json };
}

export const relErr = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);

/**
 * One key pair per preset and test process (~0.5 s of CPU to generate, with its checks): every
 * stack has its own Redis, so describe blocks that share keys share no state.
 */
const keyPairs = new Map<PresetId, Promise<KeyPair>>();
export function testKeyPair(preset: PresetId = DEFAULT_PRESET): Promise<KeyPair> {
  let keys = keyPairs.get(preset);
  if (!keys) keyPairs.set(preset, (keys = generateKeys(preset)));
  return keys;
}
export async function writeTestKeys(dir: string, preset: PresetId = DEFAULT_PRESET): Promise<{ contextId: string }> {
  return saveKeys(dir, await testKeyPair(preset));
}

/**
 * A stack plus a key pair for one describe block: set up in beforeAll, torn down in
 * afterAll. Fields are filled once beforeAll has run.
 */
export function useStackWithOwner(opts: TestStackOptions = {}, preset: PresetId = DEFAULT_PRESET) {
  const fixture = {} as { stack: TestStack; owner: Owner; client: VeilClient; keyDir: string; queue: Queue; redis: Redis };
  beforeAll(async () => {
    fixture.stack = await testStack(opts);
    fixture.client = new VeilClient({ server: fixture.stack.apiUrl });
    fixture.keyDir = await mkdtemp(join(tmpdir(), 'veil-test-keys-'));
    await writeTestKeys(fixture.keyDir, preset);
    fixture.owner = await loadOwner(fixture.keyDir);
    // Direct access to the BullMQ queue, for what the API does not show (processedBy, counts).
    fixture.redis = new Redis(fixture.stack.redisUrl, { maxRetriesPerRequest: null });
    fixture.queue = new Queue('jobs', { connection: fixture.redis, prefix: `${fixture.stack.prefix}:bull` });
  });
  afterAll(async () => {
    fixture.owner?.dispose();
    await fixture.queue?.close();
    fixture.redis?.disconnect();
    await fixture.stack?.close();
    if (fixture.keyDir) await rm(fixture.keyDir, { recursive: true, force: true });
  });
  return fixture;
}

/** The pid of the worker process running `jobId`, once it is active (and, optionally, has progress). */
export async function workerRunning(queue: Queue, jobId: string, opts: { withProgress?: boolean } = {}): Promise<number> {
  for (let i = 0; i < 3000; i++) {
    const job = await queue.getJob(jobId);
    const state = await job?.getState();
    if (state === 'completed') throw new Error('the job finished before it could be interrupted; make it bigger');
    const started = !opts.withProgress || (typeof job?.progress === 'number' && job.progress > 0);
    if (state === 'active' && started && job?.processedBy) return Number(job.processedBy.replace('veil-worker-', ''));
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`job ${jobId} never became active`);
}

export const alive = (c: ChildProcess | undefined): c is ChildProcess => c !== undefined && c.exitCode === null && c.signalCode === null;

/** SIGTERM a role and wait for it to drain and exit (SIGKILL after graceMs). */
export async function stopRole(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
