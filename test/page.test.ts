import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VeilClient } from '../src/producer/client.js';
import { SEED_GENOTYPE, SEED_HEART_RATES, SEED_MODEL } from '../src/stack/demo.js';
import { parseConfig } from '../src/server/config.js';
import { jobRequestSchema, pack, parseWire, publicContextSchema, secretKeyFileSchema, unpack } from '../src/shared/wire.js';
import { hasChromium, launchChromium, recordRequests, type Recorded, CHROMIUM_PATH } from './helpers/browser.js';
import { syntheticGenome } from './helpers/genome.js';
import { testStack, type TestStack } from './helpers/stack.js';
import { CLI_PATH } from '../src/stack/local.js';

if (!hasChromium) console.warn(`patient page: skipped, no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);

const APP_ORIGIN = 'http://app.example';
/** The stack has tenants, as a deployment does: the page must be given its access code. */
const TOKEN = randomBytes(16).toString('hex');
/** The service's own token for uploading models (the patient's 'owner' scope may not). */
const MODELS_TOKEN = randomBytes(16).toString('hex');

/** A number as msgpack float 32 and float 64 (whole numbers would be one byte, found anywhere). */
function msgpackFloats(v: number): Buffer[] {
  const f32 = Buffer.alloc(5);
  f32[0] = 0xca;
  f32.writeFloatBE(v, 1);
  const f64 = Buffer.alloc(9);
  f64[0] = 0xcb;
  f64.writeDoubleBE(v, 1);
  return [f32, f64];
}

/** The patient's page in real Chromium against a real stack (redis, API, worker processes). */
describe.skipIf(!hasChromium)('the patient page', () => {
  let stack: TestStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let requests: Recorded[];
  let dir: string;
  let jobsRun = 0;
  const genome = syntheticGenome();
  const cspViolations: string[] = [];
  const budget: Record<string, number> = {};
  /** Waits until the element's text matches (Playwright's own expect is not vitest's). */
  const textOf = async (p: Page, testId: string, pattern: RegExp) => {
    await expect.poll(() => p.getByTestId(testId).textContent(), { timeout: 60_000 }).toMatch(pattern);
  };

  beforeAll(async () => {
    // The browser starts while the stack does (the API in-process: no test here reads its process).
    [stack, browser] = await Promise.all([
      testStack({
        env: { VEIL_CORS_ORIGINS: APP_ORIGIN, VEIL_TOKENS: `patient:${TOKEN},patient:${MODELS_TOKEN}:models` },
        workers: 1,
        inProcessApi: true,
        scheduler: false,
      }),
      launchChromium(),
    ]);
    const client = new VeilClient({ server: stack.apiUrl, token: MODELS_TOKEN });
    await client.addModelJson(SEED_MODEL);
    await client.addModelFile(Buffer.from(genome.model), 'pgs-page-test');
    dir = await mkdtemp(join(tmpdir(), 'veil-page-'));
    context = await browser.newContext({ acceptDownloads: true });
    requests = recordRequests(context);
    page = await context.newPage();
    // The browser reports CSP violations (an eval probe, an inline style) on the console of the page or worker.
    const watch = (m: ConsoleMessage) => {
      if (process.env.VEIL_TEST_LOGS === '1') console.log(`browser console: ${m.type()}: ${m.text()}`);
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    };
    page.on('console', watch);
    page.on('worker', (w) => w.on('console', watch));
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (Object.keys(budget).length) console.log(`patient page budget: ${JSON.stringify(budget)}`);
  });

  it('makes keys in the page on first visit, asks for the access code, then lists the server’s models', async () => {
    await page.goto(`${stack.apiUrl}/`);
    await page.waitForSelector('body[data-keys="ready"]', { timeout: 60_000 });
    budget.keysReadyMs = Math.round(await page.evaluate(() => performance.getEntriesByName('veil:keys-ready')[0]?.startTime ?? NaN));
    await textOf(page, 'status', /needs an access code/);
    // What came over the wire (Chromium asks for brotli), and the same files fetched as gzip.
    let br = 0;
    let gzip = 0;
    for (const r of requests) {
      br += (await r.request.sizes()).responseBodySize;
      const again = await fetch(r.url, { headers: { 'accept-encoding': 'gzip' } });
      gzip += Number(again.headers.get('content-length')); // as sent, before fetch decompresses
      await again.arrayBuffer();
    }
    budget.firstLoadRequests = requests.length;
    budget.firstLoadBrotliBytes = br;
    budget.firstLoadGzipBytes = gzip;

    await page.getByTestId('token').fill(TOKEN);
    await page.getByTestId('save-token').click();
    await textOf(page, 'status', /Access code saved/);
    expect(
      await page
        .getByTestId('model')
        .locator('option')
        .evaluateAll((os) => os.map((o) => (o as { value: string }).value)),
    ).toContain(SEED_MODEL.id);

    // A reload finds keys and access code in IndexedDB.
    const keyId = (await page.getByTestId('keys-state').textContent())?.match(/key id (\w+)/)?.[1];
    await page.reload();
    await page.waitForSelector('body[data-keys="ready"]', { timeout: 60_000 });
    budget.keysReadyOnReloadMs = Math.round(await page.evaluate(() => performance.getEntriesByName('veil:keys-ready')[0]?.startTime ?? NaN));
    await textOf(page, 'status', /Ready/);
    expect((await page.getByTestId('keys-state').textContent())?.match(/key id (\w+)/)?.[1]).toBe(keyId);
  });

  it('scores the seed genotype typed into the page: −0.03 and probability 0.49250', async () => {
    await page.getByTestId('model').selectOption(SEED_MODEL.id);
    await page.getByTestId('genotype').fill(SEED_GENOTYPE.join(', '));
    const started = Date.now();
    await page.getByTestId('compute').click();
    await page.getByTestId('score').filter({ hasText: /\d/ }).waitFor({ timeout: 60_000 });
    budget.seedGrsMs = Date.now() - started;
    jobsRun++;
    const score = Number(await page.getByTestId('score').textContent());
    expect(Math.abs(score - -0.03)).toBeLessThan(1e-4);
    expect(await page.getByTestId('probability').textContent()).toBe('0.49250');
    await textOf(page, 'status', /decrypted on this device/);
  });

  it('averages typed readings and readings from a CSV file', async () => {
    await page.getByTestId('values').fill(SEED_HEART_RATES.join(', '));
    await page.getByTestId('compute-mean').click();
    await page
      .getByTestId('mean')
      .filter({ hasText: /readings/ })
      .waitFor({ timeout: 60_000 });
    jobsRun++;
    const mean = Number((await page.getByTestId('mean').textContent())?.split(' ')[0]);
    expect(Math.abs(mean - 71.82857)).toBeLessThan(1e-4);

    const csv = ['time,heart_rate', ...SEED_HEART_RATES.map((v, i) => `2026-11-0${i + 1}T08:00:00Z,${v}`)].join('\n');
    await page.getByTestId('values').fill('');
    await page.getByTestId('values-file').setInputFiles({ name: 'heart.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await textOf(page, 'status', /7 readings read from heart.csv/);
    await page.getByTestId('mean').evaluate((el) => (el.textContent = ''));
    await page.getByTestId('compute-mean').click();
    await page
      .getByTestId('mean')
      .filter({ hasText: /readings/ })
      .waitFor({ timeout: 60_000 });
    jobsRun++;
    expect(Math.abs(Number((await page.getByTestId('mean').textContent())?.split(' ')[0]) - 71.82857)).toBeLessThan(1e-4);
    if (process.env.VEIL_SCREENSHOT) await page.screenshot({ path: process.env.VEIL_SCREENSHOT, fullPage: true });
  });

  it('scores 23andMe (plain and gzip) and bgzipped VCF files in the browser exactly as veil grs --23andme / --vcf do', async () => {
    const file = join(dir, 'genome.txt');
    const vcf = join(dir, 'genome.vcf.gz');
    await writeFile(file, genome.genome);
    await writeFile(`${file}.gz`, gzipSync(genome.genome));
    // bgzip-style: several gzip members, as real VCFs come (the browser's own gunzip reads only one).
    const half = genome.vcf.indexOf('\n22\t17020000');
    expect(half).toBeGreaterThan(0);
    await writeFile(vcf, Buffer.concat([gzipSync(genome.vcf.slice(0, half + 1)), gzipSync(genome.vcf.slice(half + 1))]));
    const cli = async (...args: string[]) =>
      JSON.parse((await promisify(execFile)(process.execPath, [CLI_PATH, '--server', stack.apiUrl, '--token', TOKEN, '--json', ...args])).stdout);
    await cli('keygen', '--out', join(dir, 'keys'));
    const grs = (...args: string[]) => cli('grs', '--model', 'pgs-page-test', '--keys', join(dir, 'keys'), ...args);
    const from23andMe = await grs('--23andme', file);
    expect(from23andMe.variantsUsed).toBe(genome.used);
    expect(Math.abs(from23andMe.score - genome.expected)).toBeLessThan(1e-6);
    const fromVcf = await grs('--vcf', vcf);
    expect(fromVcf.variantsUsed).toBeGreaterThanOrEqual(genome.used); // a no-call may count, mean-imputed

    await page.getByTestId('model').selectOption('pgs-page-test');
    for (const [chosen, fromCli] of [
      [file, from23andMe],
      [`${file}.gz`, from23andMe],
      [vcf, fromVcf],
    ] as const) {
      await page.getByTestId('score').evaluate((el) => (el.textContent = ''));
      await page.getByTestId('genotype-file').setInputFiles(chosen);
      await page.getByTestId('compute').click();
      await page.getByTestId('score').filter({ hasText: /\d/ }).waitFor({ timeout: 60_000 });
      jobsRun++;
      expect(Number(await page.getByTestId('score').getAttribute('data-value'))).toBe(fromCli.score);
      expect(Math.abs(Number(await page.getByTestId('score').textContent()) - fromCli.score)).toBeLessThan(1e-5); // shown to 5 decimals
      expect(await page.getByTestId('probability').textContent()).toBe('not given by this model');
      await textOf(page, 'variants', new RegExp(`^${fromCli.variantsUsed} used, ${fromCli.variantsMissing} missing \\(`));
    }
  });

  it('says what is wrong in plain words', async () => {
    // A file dropped on the page, as a person would: it is taken as the chosen genotype file.
    // (A string: this runs in the page, and the tests are typed without the DOM library.)
    const dropped = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dear diary\\n'], 'notes.txt', { type: 'text/plain' }));
      return dt;
    })()`);
    await page.locator('#drop').dispatchEvent('drop', { dataTransfer: dropped });
    await textOf(page, 'file-name', /notes\.txt/);
    await page.getByTestId('compute').click();
    await textOf(page, 'status', /could not recognise this file/);
    await page.getByTestId('genotype-file').setInputFiles([]);

    // A model removed since the list was loaded.
    await page.evaluate(`document.querySelector('[data-testid="model"]').append(new Option('gone', 'model-gone'))`);
    await page.getByTestId('model').selectOption('model-gone');
    await page.getByTestId('genotype').fill('1, 0');
    await page.getByTestId('compute').click();
    await textOf(page, 'status', /no longer on the service/);

    await page.getByTestId('model').selectOption(SEED_MODEL.id);
    await page.getByTestId('genotype').fill('1, 0, 2');
    await page.getByTestId('compute').click();
    await textOf(page, 'status', /does not match the model/);
    await page.getByTestId('genotype').fill('one, two');
    await page.getByTestId('compute').click();
    await textOf(page, 'status', /numbers separated by commas/);
  });

  it('sent only the public context and msgpack ciphertext jobs, and no plaintext or secret key', async () => {
    const download = page.waitForEvent('download');
    await page.getByTestId('key-backup').click();
    const backup = unpack(await readFile((await (await download).path()) as string)) as { secretKeyFile: Uint8Array; publicContext: Uint8Array };
    const secretKey = Buffer.from(parseWire(secretKeyFileSchema, unpack(backup.secretKeyFile), 'secret key').secretKey);

    const origin = new URL(stack.apiUrl).origin;
    const sent = requests.filter((r) => r.body && r.body.length > 0);
    for (const r of requests) expect(new URL(r.url).origin).toBe(origin);
    // One context upload (content-addressed, sent once), then one ciphertext job per computation.
    expect(sent.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(['POST /v1/contexts', ...Array(jobsRun).fill('POST /v1/jobs')]);
    for (const r of sent) {
      expect(r.request.headers()['content-type']).toBe('application/msgpack');
      const body = unpack(r.body as Buffer);
      if (r.url.endsWith('/v1/contexts')) {
        // The same bytes the page keeps as its public half: the CLI's format, nothing added.
        expect(Buffer.from(r.body as Buffer).equals(Buffer.from(backup.publicContext))).toBe(true);
        parseWire(publicContextSchema, body, 'public context');
      } else {
        const job = parseWire(jobRequestSchema, body, 'job');
        expect(job.ciphertexts.length).toBeGreaterThan(0);
      }
    }
    // No plaintext: not the typed text, not the numbers as msgpack encodes them; no secret-key slice.
    const forbidden = [
      Buffer.from(SEED_GENOTYPE.join(', ')),
      Buffer.from(SEED_HEART_RATES.join(', ')),
      ...genome.genome
        .split('\n')
        .filter((l) => /^(rs|i)\d/.test(l))
        .map((l) => Buffer.from(l.split('\t')[0] as string)),
      Buffer.from(genome.vcf.slice(0, 64)),
      pack(SEED_GENOTYPE),
      ...SEED_HEART_RATES.filter((v) => !Number.isInteger(v)).flatMap(msgpackFloats),
      ...Array.from({ length: Math.floor(secretKey.length / 1024) }, (_, i) => secretKey.subarray(i * 1024, i * 1024 + 32)),
    ];
    for (const r of requests) {
      const bytes = Buffer.concat([Buffer.from(r.url), r.body ?? Buffer.alloc(0)]);
      for (const f of forbidden) expect(bytes.indexOf(f)).toBe(-1);
    }
    expect(cspViolations).toEqual([]);
  });

  it('restores keys from the backup in a fresh browser profile', async () => {
    const download = page.waitForEvent('download');
    await page.getByTestId('key-backup').click();
    const file = (await (await download).path()) as string;
    const keyId = (await page.getByTestId('keys-state').textContent())?.match(/key id (\w+)/)?.[1];
    const fresh = await browser.newContext();
    const other = await fresh.newPage();
    await other.goto(`${stack.apiUrl}/`);
    await other.waitForSelector('body[data-keys="ready"]', { timeout: 60_000 });
    expect((await other.getByTestId('keys-state').textContent())?.match(/key id (\w+)/)?.[1]).not.toBe(keyId);
    await other.getByTestId('key-import').setInputFiles(file);
    await textOf(other, 'status', /Keys imported/);
    expect((await other.getByTestId('keys-state').textContent())?.match(/key id (\w+)/)?.[1]).toBe(keyId);
    await fresh.close();
  });

  it('serves the page with a strict CSP, compressed assets and CORS only for listed origins', async () => {
    const res = await fetch(`${stack.apiUrl}/`, { headers: { 'accept-encoding': 'br' } });
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('content-encoding')).toBe('br');
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const wasmPath = requests.map((r) => new URL(r.url).pathname).find((p) => p.endsWith('.wasm')) as string;
    const wasm = await fetch(`${stack.apiUrl}${wasmPath}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(wasm.headers.get('content-encoding')).toBe('gzip');
    expect(wasm.headers.get('cache-control')).toContain('immutable');

    const preflight = (origin: string) =>
      fetch(`${stack.apiUrl}/v1/jobs`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
      });
    const listed = await preflight(APP_ORIGIN);
    expect(listed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    const other = await preflight('http://elsewhere.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const plain = await fetch(`${stack.apiUrl}/v1/models`, { headers: { origin: 'http://elsewhere.example' } });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('says so when the service cannot be reached', async () => {
    await stack.close(); // afterAll's close is then a no-op
    await page.getByTestId('genotype').fill(SEED_GENOTYPE.join(', '));
    await page.getByTestId('compute').click();
    await textOf(page, 'status', /cannot reach the veil service/);
  });
});

describe('VEIL_CORS_ORIGINS', () => {
  it('is empty (CORS closed) by default and lists exact origins when set', () => {
    expect(parseConfig({}).VEIL_CORS_ORIGINS).toEqual([]);
    expect(parseConfig({ VEIL_CORS_ORIGINS: 'https://app.example.com, http://localhost:3000' }).VEIL_CORS_ORIGINS).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
  });

  it('stops the start with a message naming it for a wildcard or a URL with a path', () => {
    for (const bad of ['*', 'https://app.example.com/page', 'app.example.com']) {
      expect(() => parseConfig({ VEIL_CORS_ORIGINS: bad })).toThrow(/VEIL_CORS_ORIGINS/);
    }
  });
});
