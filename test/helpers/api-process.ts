import { spawn, type ChildProcess } from 'node:child_process';
import { CLI_PATH, freePort } from '../../src/stack/local.js';

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
    const up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
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
