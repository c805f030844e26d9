import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_MODEL } from '../src/stack/demo.js';
import { testStack, type TestStack } from './helpers/stack.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);

/** The `veil` CLI as a user runs it, against a running stack. */
describe('veil CLI', () => {
  let stack: TestStack;
  let dir: string;
  const veil = async (...args: string[]) => {
    const { stdout } = await exec(process.execPath, ['bin/veil.js', '--server', stack.apiUrl, '--json', ...args], { cwd: ROOT });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  };

  beforeAll(async () => {
    stack = await testStack({ workers: 1 });
    dir = await mkdtemp(join(tmpdir(), 'veil-cli-'));
  });
  afterAll(async () => {
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keygen writes secret.key (0600) and public.ctx', async () => {
    const out = await veil('keygen', '--out', join(dir, 'keys'));
    expect(out.contextId).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(join(dir, 'keys', 'secret.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'keys', 'public.ctx'))).isFile()).toBe(true);
  });

  it('mean --values gives the plaintext mean; --no-wait, status and result work', async () => {
    const keys = join(dir, 'keys');
    const out = await veil('mean', '--keys', keys, '--values', '72.5,71.0,73.2,69.8,70.5,74.1,71.7');
    expect(Math.abs(out.mean - 71.828571)).toBeLessThan(1e-5);
    expect(out.count).toBe(7);
    const submitted = await veil('mean', '--keys', keys, '--values', '1,2,3,4', '--no-wait');
    expect(Object.keys(submitted)).toEqual(['jobId']);
    const result = await veil('result', submitted.jobId, '--keys', keys);
    expect(result).toMatchObject({ jobId: submitted.jobId, count: 4 });
    expect(Math.abs(result.mean - 2.5)).toBeLessThan(1e-9);
    const status = await veil('status', submitted.jobId);
    expect(status).toMatchObject({ jobId: submitted.jobId, status: 'completed', progress: 100 });
  });

  it('models add / list and grs --genotype', async () => {
    const file = join(dir, 'seed.json');
    await writeFile(file, JSON.stringify(SEED_MODEL));
    expect(await veil('models', 'add', file)).toMatchObject({ modelId: 'seed-grs', variants: 5 });
    expect((await veil('models', 'list')).models).toContainEqual({ modelId: 'seed-grs', variants: 5, name: SEED_MODEL.name });
    const out = await veil('grs', '--model', 'seed-grs', '--keys', join(dir, 'keys'), '--genotype', '1,0,2,1,0');
    expect(out.modelId).toBe('seed-grs');
    expect(Math.abs(out.score - -0.03)).toBeLessThan(1e-6);
    expect(Math.abs(out.probability - 1 / (1 + Math.exp(0.03)))).toBeLessThan(1e-5);
  });

  it('fails with a one-line message and a non-zero exit', async () => {
    const err = await exec(process.execPath, ['bin/veil.js', '--server', stack.apiUrl, 'grs', '--model', 'nope', '--keys', join(dir, 'keys'), '--genotype', '1,2'], { cwd: ROOT }).catch((e) => e);
    expect(err.code).not.toBe(0);
    expect(err.stderr.trim().split('\n')).toHaveLength(1);
    expect(err.stderr).toContain('model_not_found');
  });
});
