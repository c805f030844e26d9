import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { VeilClient } from '../src/producer/client.js';
import { loadOwner, submitMean, waitAndFinish, type MeanOutcome } from '../src/producer/sdk.js';
import { freePort, spawnRedis, type LocalRedis } from '../src/stack/local.js';
import { writeTestKeys } from './helpers/stack.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface ComposeService {
  command: string[];
  environment?: Record<string, string>;
}

/** Runs every command docker-compose.yml runs (there is no Docker engine here) and checks each works. */
describe('docker-compose.yml entry points', () => {
  let compose: { services: Record<string, ComposeService> };
  let redis: LocalRedis;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    compose = parse(await readFile(join(ROOT, 'docker-compose.yml'), 'utf8'));
    redis = await spawnRedis();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await redis?.close();
  });

  it('redis: the compose flags (AOF, noeviction) are accepted by redis-server', async () => {
    const [bin, ...args] = compose.services.redis!.command;
    expect(args).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction']));
    const dir = await mkdtemp(join(tmpdir(), 'veil-compose-redis-'));
    const port = await freePort();
    const r = spawn(bin!, [...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir], { stdio: 'ignore' });
    let policy = '';
    for (let i = 0; i < 50 && !policy.includes('noeviction'); i++) {
      await new Promise((res) => setTimeout(res, 100));
      policy = spawnSync('redis-cli', ['-p', String(port), 'config', 'get', 'maxmemory-policy'], { encoding: 'utf8' }).stdout;
    }
    // Wait for the exit: redis writes its AOF directory until then.
    await new Promise((res) => {
      r.once('exit', res);
      r.kill('SIGTERM');
    });
    await rm(dir, { recursive: true, force: true });
    expect(policy).toContain('noeviction');
  });

  it('api, worker and scheduler: the compose commands serve a job end to end and stop cleanly on SIGTERM', async () => {
    const port = await freePort();
    const run = (name: string, extra: Record<string, string> = {}) => {
      const svc = compose.services[name]!;
      const env = { ...process.env, ...svc.environment, REDIS_URL: redis.url, VEIL_PREFIX: `compose-${port}`, LOG_LEVEL: 'warn', ...extra };
      const [cmd, ...args] = svc.command;
      const child = spawn(cmd!, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(child);
      return child;
    };
    // The compose file binds 0.0.0.0 and demands tokens: exactly that, on a free port.
    const api = run('api', { PORT: String(port), VEIL_TOKENS: 'clinic:c0ffee00d15ea5e5c0ffee00d15ea5e5' });
    const worker = run('worker');
    const scheduler = run('scheduler');
    const client = new VeilClient({ server: `http://127.0.0.1:${port}`, token: 'c0ffee00d15ea5e5c0ffee00d15ea5e5' });
    for (let i = 0; i < 100 && !(await client.health()); i++) await new Promise((r) => setTimeout(r, 100));
    const keyDir = await mkdtemp(join(tmpdir(), 'veil-compose-keys-'));
    await writeTestKeys(keyDir);
    const owner = await loadOwner(keyDir);
    const jobId = await submitMean(client, owner, [60, 62, 64]);
    const [mean] = (await waitAndFinish(client, owner, jobId)) as MeanOutcome[];
    owner.dispose();
    await rm(keyDir, { recursive: true, force: true });
    expect(Math.abs(mean!.mean - 62)).toBeLessThan(1e-9);
    const exits = [api, worker, scheduler].map((c) => new Promise<number | null>((r) => c.once('exit', (code) => r(code))));
    for (const c of [api, worker, scheduler]) c.kill('SIGTERM');
    expect(await Promise.all(exits)).toEqual([0, 0, 0]);
  });

  it('a role with a bad environment stops with a message naming the variable', () => {
    const bad = spawnSync(process.execPath, ['bin/veil.js', 'worker'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redis.url, WORKER_CONCURRENCY: 'lots' },
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('WORKER_CONCURRENCY');
    const open = spawnSync(process.execPath, ['bin/veil.js', 'api'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redis.url, HOST: '0.0.0.0', VEIL_TOKENS: '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(open.status).not.toBe(0);
    expect(open.stderr).toContain('VEIL_TOKENS');
  });
});
