import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_PATH, freePort } from '../../src/stack/local.js';

/**
 * The processes chaos kills: a durable redis-server (AOF, fsync on every write, so a 202 survives
 * SIGKILL), API processes on fixed ports, and worker processes — each a real `veil <role>` from
 * dist/, restartable on the same port and data directory.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

export class DurableRedis {
  child?: ChildProcess;
  kills = 0;
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<DurableRedis> {
    const redis = new DurableRedis(await freePort(), await mkdtemp(join(tmpdir(), 'veil-chaos-redis-')));
    await redis.spawn();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
    ];
    this.child = spawn('redis-server', args, { stdio: 'ignore' });
    // redis-cli is not assumed: a PING on a raw socket is enough.
    await waitUntil(() => ping(this.port), 'redis-server');
  }

  /** SIGKILL (no shutdown save: only what AOF fsynced survives), then start again on the same files. */
  async killAndRestart(downMs: number): Promise<void> {
    const child = this.child!;
    child.kill('SIGKILL');
    await exited(child);
    this.kills++;
    await sleep(downMs);
    await this.spawn();
  }

  async close(): Promise<void> {
    if (this.child) {
      this.child.kill('SIGKILL');
      await exited(this.child);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function ping(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(false));
    s.on('data', (d) => (s.destroy(), resolve(d.toString().startsWith('+PONG'))));
    s.on('connect', () => s.write('PING\r\n'));
  });
}

/** One role process; `env` is shared by all roles of the cluster. */
export function spawnRole(role: 'api' | 'worker', env: NodeJS.ProcessEnv, logs: boolean): ChildProcess {
  return spawn(process.execPath, [CLI_PATH, role], { env, stdio: ['ignore', logs ? 'inherit' : 'ignore', logs ? 'inherit' : 'ignore'] });
}

export class ApiProcess {
  child!: ChildProcess;
  restarts = 0;
  /** Restarts whose drain outlasted the bound and had to be SIGKILLed. */
  slowDrains: number[] = [];
  /** Exits nobody asked for. */
  unexpectedExits = 0;
  private stopping = false;

  constructor(
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logs: boolean,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawnRole('api', { ...this.env, PORT: String(this.port) }, this.logs);
    const child = this.child;
    child.once('exit', () => {
      if (!this.stopping && child === this.child) this.unexpectedExits++;
    });
    await waitUntil(async () => (await fetch(`${this.url}/healthz`)).ok, `the API on port ${this.port}`);
  }

  /** SIGTERM, wait up to `drainMs` for a clean exit (SIGKILL after), start again on the same port. */
  async restart(drainMs: number): Promise<void> {
    const began = Date.now();
    await this.stop(drainMs);
    const took = Date.now() - began;
    if (took > drainMs) this.slowDrains.push(took);
    this.restarts++;
    await this.start();
  }

  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), drainMs);
    await exited(this.child);
    clearTimeout(timer);
    this.stopping = false;
  }
}

/** Worker processes kept at `count`: a killed (or crashed) one is replaced at once. */
export class WorkerPool {
  readonly children: ChildProcess[] = [];
  private readonly born = new WeakMap<ChildProcess, number>();
  kills = 0;
  /** Exits nobody asked for (a worker that gives up when Redis goes away, say). */
  unexpectedExits = 0;
  private readonly killed = new WeakSet<ChildProcess>();
  private closing = false;

  constructor(
    count: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logs: boolean,
  ) {
    for (let i = 0; i < count; i++) this.add();
  }

  private add(): void {
    const child = spawnRole('worker', this.env, this.logs);
    this.children.push(child);
    this.born.set(child, Date.now());
    child.once('exit', () => {
      if (this.closing || this.killed.has(child)) return;
      this.unexpectedExits++;
      this.children.splice(this.children.indexOf(child), 1);
      this.add();
    });
  }

  /**
   * SIGKILL the longest-lived worker (it most likely holds a job) and start its replacement —
   * if it has lived `minAgeMs`: a worker killed before it finished starting never takes a job,
   * and the test would only measure start-up.
   */
  killOldest(minAgeMs: number): boolean {
    const victim = this.children[0];
    if (!victim || Date.now() - (this.born.get(victim) ?? 0) < minAgeMs) return false;
    this.children.shift();
    this.killed.add(victim);
    victim.kill('SIGKILL');
    this.kills++;
    this.add();
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.children.map((c) => {
        c.kill('SIGKILL');
        return exited(c);
      }),
    );
  }
}
