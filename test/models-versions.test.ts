import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Owner } from '../src/producer/crypto.js';
import { pack, WIRE_VERSION } from '../src/shared/wire.js';
import type { ApiServer } from '../src/api/server.js';
import { spawnRedis, type LocalRedis } from '../src/stack/local.js';
import { inProcessApi } from './helpers/api-process.js';
import { call, testKeyPair } from './helpers/stack.js';

const JSON_TYPE = 'application/json';
const json = (model: Record<string, unknown>) => ({ type: JSON_TYPE, data: JSON.stringify(model) });

/**
 * Models are versioned, never silently overwritten; private models hide weights and bias and limit
 * jobs. The API runs in-process on port 0 over a real redis-server: no process boundary is tested here.
 */
describe('model versions and private models', () => {
  let redis: LocalRedis;
  let api: ApiServer;
  let bfv: Owner;
  let ckks: Owner;
  const req = (method: string, path: string, body?: { type: string; data: string | Uint8Array }) => call(api.url, method, path, body);

  beforeAll(async () => {
    redis = await spawnRedis();
    api = await inProcessApi(redis.url, { PRIVATE_MODEL_JOBS_PER_DAY: '2', PRIVATE_MODEL_MAX_SAMPLES: '1' });
    const [b, c] = [await testKeyPair(), await testKeyPair('ckks-slots-8192')];
    [bfv, ckks] = [await Owner.fromBytes(b.publicContext, b.secretKeyFile), await Owner.fromBytes(c.publicContext, c.secretKeyFile)];
  });
  afterAll(async () => {
    bfv?.dispose();
    ckks?.dispose();
    await api?.close();
    await redis?.close();
  });

  it('409 model_exists for another model under a taken id; PUT makes a new version; DELETE removes it', async () => {
    const v1 = { id: 'risk', name: 'risk', weights: [0.1, 0.2, 0.3] };
    expect((await req('POST', '/v1/models', json(v1))).json).toMatchObject({ modelId: 'risk', version: 1 });
    const clash = await req('POST', '/v1/models', json({ ...v1, weights: [9, 9, 9] }));
    expect(clash.status).toBe(409);
    expect(clash.json.error?.code).toBe('model_exists');
    // The same model again is no overwrite (a retried upload).
    expect((await req('POST', '/v1/models', json(v1))).json).toMatchObject({ version: 1 });
    const v2 = await req('PUT', '/v1/models/risk', json({ ...v1, weights: [0.4, 0.5, 0.6] }));
    expect(v2.status).toBe(200);
    expect(v2.json).toMatchObject({ modelId: 'risk', version: 2 });
    expect((await req('GET', '/v1/models/risk')).json).toMatchObject({ version: 2 });
    expect((await req('PUT', '/v1/models/nothing', json(v1))).json.error?.code).toBe('model_not_found');
    expect((await req('DELETE', '/v1/models/risk')).status).toBe(204);
    expect((await req('GET', '/v1/models/risk')).status).toBe(404);
  });

  it('a private model publishes its variant list but never its weights or bias', async () => {
    const res = await req('POST', '/v1/models', json({ id: 'secret-json', name: 'secret', weights: [0.123456, -0.654321], bias: -1.2345, private: true }));
    expect(res.status).toBe(201);
    const file = [
      '#pgs_id=secret-tsv',
      '#veil_private=true',
      '#veil_bias=0.987654',
      'rsID\teffect_allele\teffect_weight',
      'rs1\tA\t0.246813',
      'rs2\tG\t-0.135791',
    ].join('\n');
    expect((await req('POST', '/v1/models', { type: 'text/tab-separated-values', data: file })).status).toBe(201);
    for (const id of ['secret-json', 'secret-tsv']) {
      const got = await req('GET', `/v1/models/${id}`);
      expect(got.json).toMatchObject({ modelId: id, private: true, variants: 2 });
      expect((got.json.variantList as unknown[]).length).toBe(2);
      expect(got.json).not.toHaveProperty('bias');
    }
    const everything =
      JSON.stringify((await req('GET', '/v1/models')).json) +
      JSON.stringify((await req('GET', '/v1/models/secret-tsv')).json) +
      JSON.stringify((await req('GET', '/v1/models/secret-json')).json);
    for (const secret of ['0.123456', '0.654321', '1.2345', '0.987654', '0.246813', '0.135791']) expect(everything).not.toContain(secret);
  });

  it('limits jobs against a private model (samples per job, jobs per token per day) and refuses CKKS', async () => {
    await req('POST', '/v1/models', json({ id: 'priv', name: 'priv', weights: [0.5, 0.25, 0.125], private: true }));
    const grs = async (owner: Owner, samples: number[][]) => {
      const contextId = (await req('POST', '/v1/contexts', { type: 'application/msgpack', data: owner.publicContext })).json.contextId as string;
      const enc = owner.encryptVectors(samples, { purpose: 'dot' });
      const body = pack({
        v: WIRE_VERSION,
        op: 'grs',
        contextId,
        modelId: 'priv',
        samples: samples.length,
        scaleBits: enc.scaleBits,
        valueBits: enc.valueBits,
        ciphertexts: enc.ciphertexts,
      });
      return fetch(`${api.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body });
    };
    const ckksJob = await grs(ckks, [[1, 0, 2]]);
    expect(ckksJob.status).toBe(422);
    expect(((await ckksJob.json()) as { error: { code: string } }).error.code).toBe('private_model_needs_bfv');
    const twoSamples = await grs(bfv, [
      [1, 0, 2],
      [0, 1, 1],
    ]);
    expect(twoSamples.status).toBe(422);
    expect(((await twoSamples.json()) as { error: { code: string } }).error.code).toBe('private_model_sample_limit');

    const first = await grs(bfv, [[1, 0, 2]]);
    expect(first.status).toBe(202);
    const { jobId } = (await first.json()) as { jobId: string };
    expect((await req('GET', `/v1/jobs/${jobId}`)).json).toMatchObject({ modelId: 'priv', modelVersion: 1 });
    expect((await grs(bfv, [[0, 0, 1]])).status).toBe(202);
    const third = await grs(bfv, [[1, 1, 1]]);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('private_model_daily_limit');
    const retryAfter = Number(third.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(24 * 3600);

    // A dataset report scores every record: no per-token limit bounds it, so private models are refused.
    const contextId = (await req('POST', '/v1/contexts', { type: 'application/msgpack', data: bfv.publicContext })).json.contextId as string;
    expect((await req('POST', '/v1/datasets', json({ name: 'cohort', contextId, kind: 'genotypes', modelId: 'priv' }))).status).toBe(201);
    const report = await req('POST', '/v1/datasets/cohort/reports', json({ op: 'grs', modelId: 'priv' }));
    expect(report.status).toBe(422);
    expect(report.json.error?.code).toBe('private_model_not_allowed');
  });
});
