import { execFile } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
    stack = await testStack({ workers: 1, inProcessApi: true, scheduler: false });
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
    // Two independent CLI runs side by side.
    const [out, submitted] = await Promise.all([
      veil('mean', '--keys', keys, '--values', '72.5,71.0,73.2,69.8,70.5,74.1,71.7'),
      veil('mean', '--keys', keys, '--values', '1,2,3,4', '--no-wait'),
    ]);
    expect(Math.abs(out.mean - 71.828571)).toBeLessThan(1e-5);
    expect(out.count).toBe(7);
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

  it('grs --vcf --sample: one model request and at most one context upload (a proxy counts them)', async () => {
    const keys = join(dir, 'keys');
    await writeFile(
      join(dir, 'vcf-model.json'),
      JSON.stringify({
        id: 'vcf-model',
        name: 'vcf',
        weights: [0.5, -0.25, 1],
        bias: 0.1,
        link: 'logistic',
        variants: [
          { chr: '1', pos: 100, effectAllele: 'G', otherAllele: 'A' },
          { chr: '1', pos: 200, effectAllele: 'T', otherAllele: 'C' },
          { chr: '2', pos: 300, effectAllele: 'A', otherAllele: 'C' },
        ],
      }),
    );
    await veil('models', 'add', join(dir, 'vcf-model.json'));
    const line = (chr: string, pos: number, ref: string, alt: string, ...calls: string[]) =>
      [chr, pos, '.', ref, alt, '.', '.', '.', 'GT', ...calls].join('\t');
    const vcfFile = join(dir, 'two.vcf');
    await writeFile(
      vcfFile,
      [
        '##fileformat=VCFv4.2',
        ['#CHROM', 'POS', 'ID', 'REF', 'ALT', 'QUAL', 'FILTER', 'INFO', 'FORMAT', 'S1', 'S2'].join('\t'),
        line('1', 100, 'A', 'G', '0/1', '1/1'),
        line('1', 200, 'C', 'T', '1/1', '0/0'),
        line('2', 300, 'A', 'C', '0/0', '0/1'),
        '',
      ].join('\n'),
    );
    const seen: string[] = [];
    const proxy: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const target = new URL(req.url ?? '/', stack.apiUrl);
      req.pipe(
        request(target, { method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        }),
      );
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const server = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const { stdout } = await exec(
        process.execPath,
        ['bin/veil.js', '--server', server, '--json', 'grs', '--model', 'vcf-model', '--keys', keys, '--vcf', vcfFile, '--sample', 'S2'],
        { cwd: ROOT },
      );
      const out = JSON.parse(stdout.trim().split('\n').pop()!);
      // S2: dosages 2, 0, 1 → 0.5·2 − 0.25·0 + 1·1 + 0.1 = 2.1
      expect(Math.abs(out.score - 2.1)).toBeLessThan(1e-6);
      expect(Math.abs(out.probability - 1 / (1 + Math.exp(-2.1)))).toBeLessThan(1e-6);
      expect(out).toMatchObject({ modelId: 'vcf-model', variantsUsed: 3, variantsMissing: 0 });
    } finally {
      await new Promise((r) => proxy.close(r));
    }
    expect(seen.filter((r) => r.startsWith('GET /v1/models'))).toHaveLength(1);
    expect(seen.filter((r) => r.startsWith('POST /v1/contexts')).length).toBeLessThanOrEqual(1);
    expect(seen.filter((r) => r.startsWith('POST /v1/jobs'))).toHaveLength(1);
  });

  it('fails with a one-line message and a non-zero exit', async () => {
    const err = await exec(
      process.execPath,
      ['bin/veil.js', '--server', stack.apiUrl, 'grs', '--model', 'nope', '--keys', join(dir, 'keys'), '--genotype', '1,2'],
      { cwd: ROOT },
    ).catch((e) => e);
    expect(err.code).not.toBe(0);
    expect(err.stderr.trim().split('\n')).toHaveLength(1);
    expect(err.stderr).toContain('model_not_found');
  });
});
