import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Owner } from '../src/producer/crypto.js';
import { QUEUE_NAME } from '../src/server/queue.js';
import { pack, WIRE_VERSION } from '../src/shared/wire.js';
import { spawnRedis, type LocalRedis } from '../src/stack/local.js';
import { spawnApi, type ApiProcess } from './helpers/api-process.js';
import { testKeyPair } from './helpers/stack.js';

const MSGPACK = 'application/msgpack';
const DRAIN_TIMEOUT_MS = 3000;

/**
 * SIGTERM while clients hammer the API over keep-alive connections (and one long-poll holds a
 * request open): the process exits within DRAIN_TIMEOUT_MS plus start-up slack, and every job
 * it answered 202 for is in Redis with its inputs.
 */
describe('API drain under keep-alive load', () => {
  let redis: LocalRedis;
  let api: ApiProcess;
  let admin: Redis;

  beforeAll(async () => {
    redis = await spawnRedis();
    api = await spawnApi({ REDIS_URL: redis.url, VEIL_PREFIX: 'drain', DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS), LOG_LEVEL: 'warn' });
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await api?.stop();
    await redis?.close();
  });

  it('exits within the bound and loses no accepted job', async () => {
    const keys = await testKeyPair();
    const owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
    const ctx = await fetch(`${api.url}/v1/contexts`, { method: 'POST', headers: { 'content-type': MSGPACK }, body: keys.publicContext });
    const { contextId } = (await ctx.json()) as { contextId: string };
    const enc = owner.encryptVectors([[1, 2, 3]], { purpose: 'sum' });
    owner.dispose();
    const body = pack({ v: WIRE_VERSION, op: 'mean', contextId, count: 3, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts });

    // One keep-alive connection per client that it reuses back to back, as a busy client does.
    const accepted: string[] = [];
    const statuses = new Map<number, number>();
    let stop = false;
    const client = async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (!stop) {
        try {
          const { status, json } = await post(`${api.url}/v1/jobs`, body, agent);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 202) accepted.push(json.jobId as string);
        } catch {
          // refused or closed once the API is gone: what a client of a restarting API sees
          if (api.child.exitCode !== null || api.child.signalCode !== null) break;
        }
      }
      agent.destroy();
    };
    const clients = Array.from({ length: 4 }, client);
    while (accepted.length < 20) await new Promise((r) => setTimeout(r, 50));
    // A long-poll that would hold its connection for 30 s.
    const longPoll = fetch(`${api.url}/v1/jobs/${accepted[0]}/result?wait=30`).then(
      (r) => r.status,
      () => 'cut',
    );

    const t0 = Date.now();
    api.child.kill('SIGTERM');
    const exit = await api.exited;
    const exitMs = Date.now() - t0;
    stop = true;
    await Promise.all(clients);
    await longPoll;
    console.log(
      `drain: exited ${exitMs} ms after SIGTERM (bound ${DRAIN_TIMEOUT_MS} ms); ${accepted.length} jobs accepted; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );

    expect(exit.code).toBe(0);
    expect(exitMs).toBeLessThan(DRAIN_TIMEOUT_MS + 2000);
    expect([...statuses.keys()].filter((s) => s !== 202)).toEqual([]);
    const queue = new Queue(QUEUE_NAME, { connection: admin, prefix: 'drain:bull' });
    const missing: string[] = [];
    for (const id of accepted) {
      const job = await queue.getJob(id);
      const inputs = await admin.hlen(`drain:job:${id}:in`);
      if (!job || inputs !== 1) missing.push(id);
    }
    await queue.close();
    expect(missing).toEqual([]);
  });

  it('the Redis the stack spawns fsyncs every write (202 means on disk)', async () => {
    expect(await admin.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await admin.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
  });
});

/** POST over a given keep-alive agent (fetch offers no per-client connection control on Node 20). */
function post(url: string, body: Uint8Array, agent: Agent): Promise<{ status: number; json: { jobId?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': MSGPACK, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { jobId?: string } }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
