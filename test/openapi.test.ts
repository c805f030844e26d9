import { EventEmitter } from 'node:events';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import type { ApiDeps } from '../src/api/deps.js';
import { Drain } from '../src/api/drain.js';
import { buildOpenApi } from '../src/api/openapi.js';
import { appendReadings, createDataset, finishReport } from '../src/producer/datasets.js';
import { submitGrs, waitAndFinish } from '../src/producer/workflow.js';
import { parseConfig } from '../src/server/config.js';
import { pack } from '../src/shared/wire.js';
import { spawnApi, type ApiProcess } from './helpers/api-process.js';
import { documentedRoutes, expressRoutes, responseChecker } from './helpers/openapi.js';
import { recorder, settled } from './helpers/openapi-setup.js';
import { call, useStackWithOwner } from './helpers/stack.js';

const doc = buildOpenApi();

/** The app as server.ts builds it, with stand-ins for what routing never touches at build time. */
function appForRoutes() {
  const deps = { config: parseConfig({}), store: { redis: new EventEmitter() } };
  return createApp(deps as unknown as ApiDeps, new Drain());
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 for a real validator, which does reject a broken one', async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc));
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // Every $ref resolves.
    expect(() => validator.resolveRefs()).not.toThrow();

    const broken = structuredClone(doc) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    broken.paths['/v1/jobs']!.post!.responses['202'] = { content: {} }; // a response needs a description
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it("covers exactly the Express app's /v1 routes", () => {
    const app = appForRoutes();
    const routed = expressRoutes(app).filter((r) => / \/v1(\/|$)/.test(r));
    expect(routed.length).toBeGreaterThan(15);
    expect(documentedRoutes(doc)).toEqual(routed);
    // A route added without a table entry shows up as a difference.
    app.get('/v1/undocumented', (_req, res) => void res.end());
    expect(expressRoutes(app).filter((r) => r.includes('/v1/'))).toContain('GET /v1/undocumented');
    expect(documentedRoutes(doc)).not.toContain('GET /v1/undocumented');
  });

  it('names an error body for every error status, and Retry-After on 429 and 503', () => {
    const paths = doc.paths as Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }>; headers?: object }> }>
    >;
    for (const [path, item] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, reply] of Object.entries(op.responses)) {
          if (Number(status) < 400 || status === '431' || (path === '/v1/jobs' && status === '409')) continue;
          expect(reply.content?.['application/json']?.schema?.$ref, `${method} ${path} ${status}`).toBe('#/components/schemas/Error');
          if (status === '429' || status === '503') expect(reply.headers, `${method} ${path} ${status}`).toHaveProperty('Retry-After');
        }
      }
    }
  });
});

describe('the response checker (what the setup file applies to every /v1 response)', () => {
  const check = responseChecker(doc);
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const at = (method: string, path: string, status: number, body: unknown, contentType = 'application/json; charset=utf-8') =>
    check({ method, path, status, contentType, body: json(body) });
  const error = { error: { code: 'x', message: 'y' } };

  it('passes documented answers', () => {
    expect(at('GET', '/v1/models', 200, { models: [] })).toBeUndefined();
    expect(at('GET', '/v1/jobs/abc', 404, error)).toBeUndefined();
    expect(check({ method: 'DELETE', path: '/v1/jobs/abc', status: 204, contentType: '', body: new Uint8Array() })).toBeUndefined();
    // An unknown route's catch-all 404.
    expect(at('GET', '/v1/nothing/here', 404, error)).toBeUndefined();
  });

  it('fails an undocumented status, body shape, content type, route or body', () => {
    expect(at('GET', '/v1/jobs/abc', 418, error)).toMatch(/status 418 is not documented/);
    expect(at('GET', '/v1/models', 500, { oops: true })).toMatch(/does not match the documented schema/);
    expect(at('GET', '/v1/models', 200, { models: [{ modelId: 'm' }] })).toMatch(/does not match/);
    expect(at('GET', '/v1/models', 200, { models: [], extra: 1 })).toMatch(/does not match/);
    expect(at('GET', '/v1/models', 200, { models: [] }, 'text/html')).toMatch(/content type 'text\/html' is not documented/);
    expect(at('GET', '/v1/nothing/here', 200, {})).toMatch(/no such operation/);
    expect(at('PATCH', '/v1/models', 200, {})).toMatch(/no such operation/);
    expect(check({ method: 'DELETE', path: '/v1/jobs/abc', status: 204, contentType: 'application/json', body: json({}) })).toMatch(/without a body/);
    expect(check({ method: 'GET', path: '/v1/jobs/abc/result', status: 200, contentType: 'application/msgpack', body: pack({ v: 1 }) })).toMatch(
      /does not match/,
    );
    expect(check({ method: 'GET', path: '/v1/models', status: 200, contentType: 'application/json', body: new TextEncoder().encode('{"models":') })).toMatch(
      /not valid/,
    );
  });
});

describe('GET /v1/openapi.json', () => {
  let api: ApiProcess;
  beforeAll(async () => {
    // Tokens required, and no Redis at all: the description is public and static.
    api = await spawnApi({ VEIL_TOKENS: 'a:0123456789abcdef0123456789abcdef:owner', REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'silent' });
  });
  afterAll(() => api?.stop());

  it('serves the document without a token, while the rest of /v1 refuses', async () => {
    const res = await fetch(`${api.url}/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(doc);
    expect((await fetch(`${api.url}/v1/models`)).status).toBeGreaterThanOrEqual(400);
  });
});

describe('every /v1 route through a real stack, each response checked against the document', () => {
  const f = useStackWithOwner();
  const model = { id: 'toy', name: 'toy', weights: [0.5, -0.25, 1], bias: -0.1, link: 'logistic' as const };

  it('models, jobs, datasets, reports and schedules', async () => {
    const { client, owner } = f;
    const base = f.stack.apiUrl;
    expect((await call(base, 'GET', '/v1/openapi.json')).status).toBe(200);
    await client.uploadContext(owner.publicContext);
    await client.addModelJson(model);
    const again = await call(base, 'POST', '/v1/models', { type: 'application/json', data: JSON.stringify({ ...model, bias: 1 }) });
    expect(again, JSON.stringify(again)).toMatchObject({ status: 409, json: { error: { code: 'model_exists' } } });
    expect((await call(base, 'POST', '/v1/models', { type: 'image/png', data: 'x' })).status).toBe(415);
    expect((await call(base, 'PUT', '/v1/models/toy', { type: 'application/json', data: JSON.stringify({ ...model, bias: 0.2 }) })).status).toBe(200);
    expect((await client.listModels()).map((m) => m.modelId)).toContain('toy');
    expect((await client.getModel('toy')).version).toBe(2);

    const jobId = await submitGrs(client, owner, 'toy', [[1, 0, 2]], { hardCalls: true });
    expect((await client.status(jobId)).jobId).toBe(jobId);
    const [grs] = await waitAndFinish(client, owner, jobId);
    expect((grs as { score: number }).score).toBeCloseTo(0.5 + 2 + 0.2, 3);
    await client.deleteJob(jobId);
    expect((await call(base, 'GET', `/v1/jobs/${jobId}`)).status).toBe(404);
    expect((await call(base, 'GET', `/v1/jobs/${jobId}/result`)).status).toBe(404);
    expect((await call(base, 'POST', '/v1/jobs', { type: 'application/json', data: '{}' })).status).toBe(415);

    await createDataset(client, owner, 'hr', { retentionDays: 30 });
    expect((await call(base, 'POST', '/v1/datasets', { type: 'application/json', data: '{' })).json.error?.code).toBe('malformed_json');
    const now = Date.now();
    const key = 'openapi-append-1';
    await appendReadings(client, owner, 'hr', [{ at: now - 60_000, values: [60, 64] }], { idempotencyKey: key });
    await appendReadings(client, owner, 'hr', [{ at: now - 60_000, values: [60, 64] }], { idempotencyKey: key }); // 200: a repeat
    expect((await client.listDatasets()).map((d) => d.dataset)).toEqual(['hr']);
    expect((await client.getDataset('hr')).groups).toBe(1);
    const reportId = await client.requestReport('hr', { op: 'mean' }, 'openapi-report-1');
    expect(await client.requestReport('hr', { op: 'mean' }, 'openapi-report-1')).toBe(reportId); // 200: a repeat
    const report = await finishReport(client, owner, await client.result(reportId, { timeoutMs: 60_000 }));
    expect(report).toMatchObject({ op: 'mean', count: 2 });
    expect((report as { value: number }).value).toBeCloseTo(62, 3);
    expect((await client.listReports('hr')).map((r) => r.jobId)).toContain(reportId);
    await client.putSchedule('hr', 'nightly', { op: 'mean', cron: '0 3 * * *' });
    await client.putSchedule('hr', 'nightly', { op: 'mean', cron: '0 4 * * *', windowDays: 7 });
    expect((await client.listSchedules('hr')).map((s) => s.cron)).toEqual(['0 4 * * *']);
    await client.deleteSchedule('hr', 'nightly');
    expect((await call(base, 'DELETE', '/v1/datasets/hr/schedules/nightly')).status).toBe(404);
    await client.deleteDataset('hr');
    expect((await call(base, 'GET', '/v1/datasets/hr')).status).toBe(404);
    expect((await call(base, 'DELETE', '/v1/models/toy')).status).toBe(204);
    expect((await call(base, 'GET', '/v1/no/such/route')).status).toBe(404);

    // Every response above was checked by the setup file; none may disagree with the document.
    expect(await settled()).toEqual([]);
    // And every documented operation was answered with a success at least once.
    const templates = documentedRoutes(doc).map((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return { r, method, re: new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`) };
    });
    const succeeded = new Set(
      recorder()
        .seen.filter((s) => s.status < 300)
        .map((s) => templates.find((t) => t.method === s.method && t.re.test(s.path))?.r),
    );
    expect(documentedRoutes(doc).filter((r) => !succeeded.has(r))).toEqual([]);
  });
});
