import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Owner } from '../src/producer/crypto.js';
import { QUEUE_NAME } from '../src/server/queue.js';
import { pack, WIRE_VERSION } from '../src/shared/wire.js';
import type { ApiServer } from '../src/api/server.js';
import { spawnRedis, type LocalRedis } from '../src/stack/local.js';
import { inProcessApi } from './helpers/api-process.js';
import { call, testKeyPair } from './helpers/stack.js';

const MSGPACK = 'application/msgpack';

/**
 * Per-tenant quotas: 429 with Retry-After at the limit, room again once jobs finish or things are
 * deleted. The APIs run in-process on port 0 over a real redis-server (no process boundary here).
 */

describe('tenant quotas', () => {
  let redis: LocalRedis;
  let api: ApiServer;
  let owner: Owner;
  let contextId: string;
  const req = (method: string, path: string, body?: { type: string; data: string | Uint8Array }) => call(api.url, method, path, body);
  const submit = () => {
    const enc = owner.encryptVectors([[1, 2]], { purpose: 'sum' });
    const body = pack({ v: WIRE_VERSION, op: 'mean', contextId, count: 2, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts });
    return fetch(`${api.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': MSGPACK }, body });
  };

  beforeAll(async () => {
    redis = await spawnRedis();
    api = await inProcessApi(redis.url, { VEIL_PREFIX: 'q', QUOTA_JOBS_IN_FLIGHT: '2', QUOTA_DATASETS: '1', QUOTA_SCHEDULES: '1' });
    const keys = await testKeyPair();
    owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
    contextId = (await req('POST', '/v1/contexts', { type: MSGPACK, data: keys.publicContext })).json.contextId as string;
  });
  afterAll(async () => {
    owner?.dispose();
    await api?.close();
    await redis?.close();
  });

  it('limits unfinished jobs per tenant, and admits again once one finishes', async () => {
    const first = await submit();
    expect(first.status).toBe(202);
    expect((await submit()).status).toBe(202);
    const third = await submit();
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('quota_jobs_in_flight');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    // No worker runs here: finish the first job the way a worker does, through BullMQ.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix: 'q:bull' });
    const { jobId } = (await first.json()) as { jobId: string };
    await (await queue.getJob(jobId))?.remove();
    expect((await submit()).status).toBe(202);
    await queue.close();
    connection.disconnect();
  });

  it('limits the input bytes of unfinished jobs per tenant', async () => {
    const size = owner.encryptVectors([[1, 2]], { purpose: 'sum' }).ciphertexts[0]!.length;
    // A second API on the same Redis (own prefix) with room for one such job's bytes, not two.
    const small = await inProcessApi(redis.url, { VEIL_PREFIX: 'q2', QUOTA_JOB_BYTES: String(Math.floor(size * 1.5)) });
    try {
      const keys = { type: MSGPACK, data: owner.publicContext };
      expect((await call(small.url, 'POST', '/v1/contexts', keys)).status).toBe(201);
      const post = () => {
        const enc = owner.encryptVectors([[1, 2]], { purpose: 'sum' });
        const data = pack({
          v: WIRE_VERSION,
          op: 'mean',
          contextId,
          count: 2,
          scaleBits: enc.scaleBits,
          valueBits: enc.valueBits,
          ciphertexts: enc.ciphertexts,
        });
        return call(small.url, 'POST', '/v1/jobs', { type: MSGPACK, data });
      };
      expect((await post()).status).toBe(202);
      const second = await post();
      expect(second.status).toBe(429);
      expect(second.json.error?.code).toBe('quota_job_bytes');
    } finally {
      await small.close();
    }
  });

  it('limits datasets and schedules per tenant and refuses schedules more frequent than hourly', async () => {
    expect((await req('POST', '/v1/datasets', { type: 'application/json', data: JSON.stringify({ name: 'hr', contextId }) })).status).toBe(201);
    const second = await req('POST', '/v1/datasets', { type: 'application/json', data: JSON.stringify({ name: 'bp', contextId }) });
    expect(second.status).toBe(429);
    expect(second.json.error?.code).toBe('quota_datasets');
    const schedule = (cron: string, name = 'nightly') =>
      req('PUT', `/v1/datasets/hr/schedules/${name}`, { type: 'application/json', data: JSON.stringify({ op: 'mean', cron, tz: 'UTC' }) });
    for (const cron of ['* * * * *', '*/2 * * * * *', '0,30 0 * * *', '0,30 * * * *']) {
      const res = await schedule(cron);
      expect(res.status, cron).toBe(422);
      expect(res.json.error?.code).toBe('schedule_too_frequent');
    }
    expect((await schedule('0 2 * * *')).status).toBe(201);
    expect((await schedule('0 3 * * *')).status).toBe(200); // the same schedule, changed: no new one
    const another = await schedule('0 4 * * *', 'morning');
    expect(another.status).toBe(429);
    expect(another.json.error?.code).toBe('quota_schedules');
  });
});
