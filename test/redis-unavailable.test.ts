import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Owner } from '../src/producer/crypto.js';
import { pack, WIRE_VERSION } from '../src/shared/wire.js';
import { spawnRedis, type LocalRedis } from '../src/stack/local.js';
import { spawnApi, type ApiProcess } from './helpers/api-process.js';
import { call, testKeyPair } from './helpers/stack.js';

const MSGPACK = 'application/msgpack';
const CANARY_MODEL = 'canary-weights-7f3a9c';

/**
 * Redis full (maxmemory, noeviction) or gone: every route answers 503 with Retry-After, never a
 * 500, and the API's log holds none of the payload (ioredis errors carry the command's arguments).
 */
describe('Redis out of memory or down', () => {
  let redis: LocalRedis;
  let api: ApiProcess;
  let owner: Owner;
  let admin: Redis;
  let contextId: string;
  let acceptedJob: string;
  const statuses: number[] = [];

  const send = async (method: string, path: string, body?: { type: string; data: Uint8Array | string }) => {
    const res = await call(api.url, method, path, body);
    statuses.push(res.status);
    return res;
  };
  const jobBody = () => {
    const enc = owner.encryptVectors([[61, 62, 63, 64]], { purpose: 'sum' });
    return {
      ciphertext: enc.ciphertexts[0] as Uint8Array,
      data: pack({ v: WIRE_VERSION, op: 'mean', contextId, count: 4, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts }),
    };
  };

  beforeAll(async () => {
    redis = await spawnRedis();
    // debug: every request is logged, so the log is as full as it gets.
    api = await spawnApi({ REDIS_URL: redis.url, LOG_LEVEL: 'debug', VEIL_PREFIX: 'oomtest' });
    const keys = await testKeyPair();
    owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => {}); // the second test stops this Redis
    const res = await send('POST', '/v1/contexts', { type: MSGPACK, data: keys.publicContext });
    contextId = res.json.contextId as string;
  });
  afterAll(async () => {
    owner?.dispose();
    admin?.disconnect();
    await api?.stop();
    await redis?.close();
  });

  it('answers 503 unavailable with Retry-After at maxmemory, and keeps the payload out of the log', async () => {
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    await admin.config('SET', 'maxmemory', String(used + 2 * 2 ** 20));
    let ciphertext: Uint8Array | undefined;
    let full: { status: number } | undefined;
    const accepted: string[] = [];
    for (let i = 0; i < 200 && !full; i++) {
      const job = jobBody();
      ciphertext = job.ciphertext;
      const res = await fetch(`${api.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': MSGPACK }, body: job.data });
      statuses.push(res.status);
      const json = (await res.json()) as { jobId?: string; error?: { code: string } };
      if (res.status === 202) accepted.push(json.jobId as string);
      else {
        expect(res.status, api.output().slice(-3000)).toBe(503);
        expect(json.error?.code).toBe('unavailable');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        full = { status: res.status };
      }
    }
    expect(full, 'Redis never filled up').toBeDefined();
    expect(accepted.length).toBeGreaterThan(0);
    acceptedJob = accepted[0] as string;

    // A model upload while full: its weights and name would be the HSET's arguments.
    const model = await send('POST', '/v1/models', {
      type: 'application/json',
      data: JSON.stringify({ id: CANARY_MODEL, name: CANARY_MODEL, weights: Array.from({ length: 20_000 }, (_, i) => 0.000123 * i + 0.777) }),
    });
    expect(model.status).toBe(503);
    expect(model.json.error?.code).toBe('unavailable');
    // Reads still work while Redis is full.
    expect((await send('GET', `/v1/jobs/${accepted[0]}`)).status).toBe(200);

    const log = api.output();
    const bytes = Buffer.from(ciphertext as Uint8Array).subarray(1000, 1024);
    expect(log).not.toContain(Array.from(bytes).join(','));
    expect(log).not.toContain(bytes.toString('hex'));
    expect(log).not.toContain(bytes.subarray(0, 18).toString('base64'));
    expect(log).not.toContain(CANARY_MODEL);
    expect(log).not.toContain('0.777');
    // A ciphertext is hundreds of KB: a log this small holds none in any encoding.
    expect(log.length).toBeLessThan(64 * 1024);
    expect(log).toMatch(/redis unavailable/);
    expect(log).not.toMatch(/"status":5(?!03)\d\d/);
    expect(log).not.toMatch(/"level":50/);
  });

  it('answers 503 with Retry-After on every route while Redis is down', async () => {
    // A long-poll in progress when Redis goes away: its commands wait for a reconnect that never comes.
    const longPoll = fetch(`${api.url}/v1/jobs/${acceptedJob}/result?wait=30`, { signal: AbortSignal.timeout(20_000) });
    await new Promise((r) => setTimeout(r, 300));
    await redis.close();
    const stuck = await longPoll;
    expect(stuck.status).toBe(503);
    expect(stuck.headers.get('retry-after')).toMatch(/^\d+$/);
    const routes: [string, string, { type: string; data: Uint8Array | string }?][] = [
      ['GET', '/readyz'],
      ['GET', '/metrics'],
      ['POST', '/v1/jobs', { type: MSGPACK, data: jobBody().data }],
      ['POST', '/v1/contexts', { type: MSGPACK, data: new Uint8Array([1, 2, 3]) }],
      ['GET', '/v1/models'],
      ['GET', '/v1/jobs/00000000-0000-0000-0000-000000000000'],
      ['POST', '/v1/datasets', { type: 'application/json', data: '{}' }],
    ];
    for (const [method, path, body] of routes) {
      const res = await fetch(`${api.url}${path}`, {
        signal: AbortSignal.timeout(5000),
        method,
        headers: body ? { 'content-type': body.type } : {},
        body: body?.data as RequestInit['body'],
      });
      statuses.push(res.status);
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.headers.get('retry-after'), `${method} ${path}`).toMatch(/^\d+$/);
    }
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
    expect(api.child.exitCode).toBeNull();
  });
});
