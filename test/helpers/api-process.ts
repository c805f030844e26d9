import { spawn, type ChildProcess } from 'node:child_process';
import { startApi, type ApiServer } from '../../src/api/server.js';
import { parseConfig } from '../../src/server/config.js';
import { CLI_PATH, freePort } from '../../src/stack/local.js';

/**
 * The API in the test's own process on port 0 (startApi, the code `veil api` runs), for tests that
 * do not test the process boundary. Resolves once /readyz answers: startApi listens before its
 * Redis connection is up, and until then every Redis route is a 503.
 */
export async function inProcessApi(redisUrl: string, env: Record<string, string | undefined> = {}): Promise<ApiServer> {
  const api = await startApi(parseConfig({ LOG_LEVEL: 'silent', ...env, PORT: '0' }), redisUrl);
  for (const deadline = Date.now() + 20_000; ;) {
    if (
      await fetch(`${api.url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return api;
    if (Date.now() > deadline) {
      await api.close();
      throw new Error(`the in-process API on ${api.url} did not become ready (Redis ${redisUrl})`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One `veil api` process (compiled, as in production) whose stdout and stderr a test can read. */
export interface ApiProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote so far (its log). */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export async function spawnApi(env: Record<string, string>): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI_PATH, 'api'], { env: { ...process.env, PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const output = () => Buffer.concat(chunks).toString('utf8');
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`veil api exited at start:\n${output()}`);
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 200) throw new Error(`veil api did not start:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
