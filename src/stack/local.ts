import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ioredis } from '../server/cjs.js';
import { VeilError } from '../shared/errors.js';

/**
 * The `veil` command (bin/veil.js, which runs the compiled code) the stack runs for each role,
 * exactly like docker-compose does — also when this module runs from src/ under vitest (roles
 * always run compiled code, in their own process).
 */
export const CLI_PATH = fileURLToPath(new URL('../../bin/veil.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new VeilError('stack_start_failed', `${what} did not become ready within ${timeoutMs / 1000}s`, 500);
}

export interface LocalRedis {
  url: string;
  close(): Promise<void>;
}

/**
 * How often Redis fsyncs its append-only file. `always`: a write is on disk before Redis replies,
 * so a 202 survives Redis being killed (Redis ≥ 7.2 could use WAITAOF instead; 7.0 cannot).
 * `everysec` may lose the last second of writes. README, Operations, has the measured cost.
 */
export type AppendFsync = 'always' | 'everysec';

/**
 * A throwaway redis-server on a free loopback port with a temp dir, removed on close. Durable
 * like production (AOF, fsync per write) so a Redis crash mid-run loses no accepted job.
 */
export async function spawnRedis(opts: { appendfsync?: AppendFsync } = {}): Promise<LocalRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'veil-redis-'));
  const durability = ['--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'always'];
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...durability, '--dir', dir, '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) =>
    child.once('error', () =>
      reject(new VeilError('redis_not_found', 'redis-server is not on PATH; install Redis (apt-get install redis-server) or set REDIS_URL', 500)),
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  await Promise.race([
    failed,
    waitFor(async () => {
      const r = new ioredis.Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {}); // refused while redis-server starts: expected, retried by waitFor
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    }, 'redis-server'),
  ]);
  return {
    url,
    async close() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface LocalStack {
  apiUrl: string;
  redisUrl: string;
  /** The API process (tests read its memory). */
  api: ChildProcess;
  workers: ChildProcess[];
  /** The scheduler role (tests stop it to simulate an outage). */
  scheduler: ChildProcess;
  /** Start one more worker process (tests use this to replace a killed one). */
  addWorker(): ChildProcess;
  close(): Promise<void>;
}

export interface StackOptions {
  workers?: number;
  /** Redis to use instead of REDIS_URL or a spawned redis-server. */
  redisUrl?: string;
  port?: number;
  env?: Record<string, string>;
  /** Where the roles' logs go: inherited (npm start) or discarded (demo, tests). */
  logs?: 'inherit' | 'ignore';
}

/**
 * Redis (REDIS_URL or a spawned one), the API, N worker processes and the scheduler, each role a
 * separate `veil <role>` process. `close()` drains them in order and is safe to call twice.
 */
export async function startLocalStack(opts: StackOptions = {}): Promise<LocalStack> {
  const external = opts.redisUrl ?? process.env.REDIS_URL;
  const redis = external ? { url: external, close: async () => {} } : await spawnRedis();
  const port = opts.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, REDIS_URL: redis.url, PORT: String(port) };
  const stdio = opts.logs ?? 'ignore';
  const children: ChildProcess[] = [];
  const start = (role: string) => {
    const child = spawn(process.execPath, [CLI_PATH, role], { env, stdio: ['ignore', stdio, stdio] });
    children.push(child);
    return child;
  };
  const api = start('api');
  const workers = Array.from({ length: opts.workers ?? 2 }, () => start('worker'));
  const scheduler = start('scheduler');
  const host = env.HOST && env.HOST !== '0.0.0.0' ? env.HOST : '127.0.0.1';
  const apiUrl = `http://${host}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await stopChild(api);
      await Promise.all(children.filter((c) => c !== api).map((c) => stopChild(c)));
      await redis.close();
    })());
  try {
    await waitFor(async () => api.exitCode === null && (await fetch(`${apiUrl}/readyz`)).ok, `the API on ${apiUrl}`);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    apiUrl,
    redisUrl: redis.url,
    api,
    workers,
    scheduler,
    addWorker: () => {
      const w = start('worker');
      workers.push(w);
      return w;
    },
    close,
  };
}
