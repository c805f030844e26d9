import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiServer } from '../src/api/server.js';
import { VeilClient } from '../src/producer/client.js';
import { loadOwner, submitMean } from '../src/producer/sdk.js';
import { parseConfig } from '../src/server/config.js';
import { QUEUE_NAME } from '../src/server/queue.js';
import { spawnRedis, type LocalRedis } from '../src/stack/local.js';
import { hasChromium, launchChromium } from './helpers/browser.js';
import { writeTestKeys } from './helpers/stack.js';

/**
 * The queue dashboard on a real API (in-process, port 0) over a real redis-server. No workers run,
 * so a submitted job stays waiting where the dashboard can show it.
 */
const ADMIN_TOKEN = randomBytes(16).toString('hex');
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('the queue dashboard (/admin/queues)', () => {
  let redis: LocalRedis;
  let api: ApiServer;
  let bare: ApiServer;
  let jobId: string;
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

  beforeAll(async () => {
    redis = await spawnRedis();
    const env = { PORT: '0', LOG_LEVEL: 'silent', VEIL_PREFIX: 'admintest' };
    api = await startApi(parseConfig({ ...env, VEIL_ADMIN_TOKEN: ADMIN_TOKEN }), redis.url);
    bare = await startApi(parseConfig(env), redis.url);
    const keyDir = await mkdtemp(join(tmpdir(), 'veil-admin-keys-'));
    try {
      await writeTestKeys(keyDir);
      const owner = await loadOwner(keyDir);
      try {
        jobId = await submitMean(new VeilClient({ server: api.url }), owner, [72.5, 71.0]);
      } finally {
        owner.dispose();
      }
    } finally {
      await rm(keyDir, { recursive: true, force: true });
    }
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await bare?.close();
    await redis?.close();
  });

  it.each([
    ['no Authorization header', {}],
    ['a wrong token', bearer(randomBytes(16).toString('hex'))],
    ['the right token in the wrong scheme', { authorization: `Basic ${ADMIN_TOKEN}` }],
  ])('answers 401 with the JSON error to %s', async (_what, headers) => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      const res = await fetch(`${api.url}${path}`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      const error = await errorOf(res);
      expect(error.code).toBe('unauthorized');
      expect(JSON.stringify(error)).not.toContain(ADMIN_TOKEN);
    }
  });

  it('serves the dashboard page and its assets to the admin token, under a CSP scoped to /admin', async () => {
    const res = await fetch(`${api.url}/admin/queues`, { headers: bearer(ADMIN_TOKEN) });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<base href="/admin/queues/"');
    expect(html).toContain('<title>veil queues</title>');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    // Every script and stylesheet the page names loads (same origin, so the CSP allows it).
    const assets = [...html.matchAll(/(?:src|href)="(static\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const got = await fetch(`${api.url}/admin/queues/${asset}`, { headers: bearer(ADMIN_TOKEN) });
      expect(got.status, asset).toBe(200);
      await got.arrayBuffer();
    }
    // The patient's page keeps its own, stricter policy.
    const page = await fetch(`${api.url}/`);
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    await page.arrayBuffer();
  });

  it("lists veil's queue, read-only, with the submitted job", async () => {
    const res = await fetch(`${api.url}/admin/queues/api/queues?activeQueue=${QUEUE_NAME}&status=waiting`, { headers: bearer(ADMIN_TOKEN) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      queues: { name: string; readOnlyMode: boolean; allowRetries: boolean; counts: Record<string, number>; jobs: { id: string }[] }[];
    };
    const queue = body.queues.find((q) => q.name === QUEUE_NAME);
    expect(queue).toBeDefined();
    expect(queue?.readOnlyMode).toBe(true);
    expect(queue?.allowRetries).toBe(false);
    expect(queue?.counts.waiting).toBe(1);
    expect(queue?.jobs.map((j) => j.id)).toEqual([jobId]);
  });

  it('refuses every call that would change a queue, and leaves the job in place', async () => {
    const writes: [string, string][] = [
      ['PUT', `/api/queues/${QUEUE_NAME}/clean/waiting`],
      ['PUT', `/api/queues/${QUEUE_NAME}/retry/failed`],
      ['PUT', `/api/queues/${QUEUE_NAME}/${jobId}/promote`],
      ['PUT', `/api/queues/${QUEUE_NAME}/${jobId}/clean`],
      ['PUT', `/api/queues/${QUEUE_NAME}/pause`],
      ['PUT', `/api/queues/${QUEUE_NAME}/empty`],
      ['PUT', `/api/queues/${QUEUE_NAME}/obliterate`],
      ['POST', `/api/queues/${QUEUE_NAME}/add`],
    ];
    for (const [method, path] of writes) {
      const res = await fetch(`${api.url}/admin/queues${path}`, {
        method,
        headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect((await errorOf(res)).code).toBe('read_only');
    }
    const status = await new VeilClient({ server: api.url }).status(jobId);
    expect(status.status).toBe('queued');
    const listing = await fetch(`${api.url}/admin/queues/api/queues`, { headers: bearer(ADMIN_TOKEN) });
    const queue = ((await listing.json()) as { queues: { name: string; isPaused: boolean; counts: Record<string, number> }[] }).queues.find(
      (q) => q.name === QUEUE_NAME,
    );
    expect(queue?.counts.waiting).toBe(1);
    expect(queue?.isPaused).toBe(false);
  });

  // What an operator sees: the UI's scripts run and fetch the API under the dashboard's CSP.
  it.skipIf(!hasChromium)(
    'renders in Chromium under its CSP, showing the waiting job',
    async () => {
      const browser = await launchChromium();
      try {
        const context = await browser.newContext({ extraHTTPHeaders: bearer(ADMIN_TOKEN) });
        const page = await context.newPage();
        const violations: string[] = [];
        page.on('console', (msg) => {
          // The UI links Google Fonts; blocking that third party is intended (system font instead).
          if (/Content Security Policy/i.test(msg.text()) && !/fonts\.googleapis\.com/.test(msg.text())) violations.push(msg.text());
        });
        await page.goto(`${api.url}/admin/queues/queue/${QUEUE_NAME}?status=waiting`);
        await expect.poll(() => page.locator('body').innerText(), { timeout: 30_000 }).toContain(jobId);
        expect(violations).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );

  it('is not there at all without VEIL_ADMIN_TOKEN', async () => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      const res = await fetch(`${bare.url}${path}`, { headers: bearer(ADMIN_TOKEN) });
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe('not_found');
    }
  });

  it('refuses a weak VEIL_ADMIN_TOKEN at start without printing it', () => {
    for (const weak of ['short', 'a'.repeat(64), randomBytes(8).toString('hex'), `${randomBytes(16).toString('hex')}!`]) {
      let message = '';
      try {
        parseConfig({ VEIL_ADMIN_TOKEN: weak });
      } catch (err) {
        message = String((err as Error).message);
      }
      expect(message).toMatch(/VEIL_ADMIN_TOKEN: the token/);
      expect(message).not.toContain(weak);
    }
    const config = parseConfig({ VEIL_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(JSON.stringify(config)).not.toContain(ADMIN_TOKEN);
  });
});
