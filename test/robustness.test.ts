import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VeilClient } from '../src/producer/client.js';
import { generateKeys, Owner } from '../src/producer/crypto.js';
import { finish, loadOwner, submitGrs, submitMean, waitAndFinish, writeKeys, type GrsOutcome, type MeanOutcome } from '../src/producer/sdk.js';
import { pack, unpack, WIRE_VERSION } from '../src/shared/wire.js';
import { SEED_GENOTYPE, SEED_HEART_RATES, SEED_MODEL } from '../src/stack/demo.js';
import { call, relErr, testStack, type TestStack } from './helpers/stack.js';

const MSGPACK = 'application/msgpack';

/** Every kind of bad input gets a 4xx JSON error with a code — and the service keeps working. */
describe('bad input', () => {
  let stack: TestStack;
  let client: VeilClient;
  let owner: Owner;
  let ckksOwner: Owner;
  let contextId: string;
  let keyDir: string;

  beforeAll(async () => {
    stack = await testStack({ workers: 1, env: { MAX_BODY_MB: '4' } });
    client = new VeilClient({ server: stack.apiUrl });
    keyDir = await mkdtemp(join(tmpdir(), 'veil-test-keys-'));
    await writeKeys(keyDir);
    owner = await loadOwner(keyDir);
    const ckks = await generateKeys('ckks-slots-8192');
    ckksOwner = await Owner.fromBytes(ckks.publicContext, ckks.secretKeyFile);
    contextId = await client.uploadContext(owner.publicContext);
    await client.addModelJson(SEED_MODEL);
  });
  afterAll(async () => {
    owner?.dispose();
    ckksOwner?.dispose();
    await stack?.close();
    await rm(keyDir, { recursive: true, force: true });
  });

  const post = (path: string, data: Uint8Array | string, type = MSGPACK, headers: Record<string, string> = {}) => call(stack.apiUrl, 'POST', path, { type, data }, headers);
  const validJob = () => {
    const enc = owner.encryptVectors([[1, 2, 3]], { purpose: 'sum' });
    return { v: WIRE_VERSION, op: 'mean', contextId, count: 3, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts };
  };

  it.each([
    ['/v1/contexts', 'malformed msgpack', Buffer.from([0xc1, 0xff, 0x00]), MSGPACK, 400, 'malformed_msgpack'],
    ['/v1/contexts', 'a msgpack string', pack('hello'), MSGPACK, 400, 'invalid_body'],
    ['/v1/contexts', 'JSON', '{"a":1}', 'application/json', 415, 'unsupported_media_type'],
    ['/v1/jobs', 'malformed msgpack', Buffer.from('not msgpack at all'), 'application/x-msgpack', 400, 'malformed_msgpack'],
    ['/v1/jobs', 'wrong types', pack({ v: 1, op: 'mean', contextId: 'x', count: 'seven', ciphertexts: 'abc' }), 'application/vnd.msgpack', 400, 'invalid_body'],
    ['/v1/jobs', 'an unknown op', pack({ v: 1, op: 'decrypt', contextId: 'a'.repeat(64), ciphertexts: [] }), MSGPACK, 400, 'invalid_body'],
    ['/v1/jobs', 'text/plain', 'hello', 'text/plain', 415, 'unsupported_media_type'],
    ['/v1/models', 'malformed JSON', '{"name": ', 'application/json', 400, 'malformed_json'],
    ['/v1/models', 'a JSON model without weights', '{"name":"x"}', 'application/json', 400, 'invalid_body'],
    ['/v1/models', 'an image', 'GIF89a', 'image/gif', 415, 'unsupported_media_type'],
    ['/v1/nothing', 'an unknown route', 'x', 'text/plain', 404, 'not_found'],
  ])('POST %s with %s → %i %s', async (path, _what, body, type, status, code) => {
    const res = await post(path, body, type);
    expect(res.status).toBe(status);
    expect(res.json.error?.code).toBe(code);
  });

  it('refuses a context carrying secret-key material', async () => {
    const ctx = unpack(owner.publicContext) as Record<string, unknown>;
    const withSecret = await post('/v1/contexts', pack({ ...ctx, secretKey: new Uint8Array([1, 2, 3]) }));
    expect([withSecret.status, withSecret.json.error?.code]).toEqual([400, 'secret_key_present']);
    // A real SEAL secret key smuggled where Galois keys belong.
    const skFile = unpack(await import('node:fs/promises').then((fs) => fs.readFile(join(keyDir, 'secret.key')))) as { secretKey: Uint8Array };
    const ckksCtx = unpack(ckksOwner.publicContext) as Record<string, unknown>;
    const ckksSecret = (unpack((await generateKeys('ckks-slots-8192')).secretKeyFile) as { secretKey: Uint8Array }).secretKey;
    const smuggled = await post('/v1/contexts', pack({ ...ckksCtx, galoisKeys: ckksSecret }));
    expect([smuggled.status, smuggled.json.error?.code]).toEqual([400, 'secret_key_present']);
    const smuggledBfv = await post('/v1/contexts', pack({ ...ctx, galoisKeys: skFile.secretKey }));
    expect([smuggledBfv.status, smuggledBfv.json.error?.code]).toEqual([400, 'secret_key_present']);
  });

  it('refuses parameters that are not a supported 128-bit preset with 422', async () => {
    const ctx = unpack(owner.publicContext) as Record<string, unknown>;
    const parms = Uint8Array.from(ctx.parms as Uint8Array);
    parms[parms.length - 1] = parms[parms.length - 1]! ^ 0xff;
    const res = await post('/v1/contexts', pack({ ...ctx, parms }));
    expect(res.status).toBe(422);
    expect(res.json.error?.code).toBe('unsupported_parameters');
    const unknown = await post('/v1/contexts', pack({ ...ctx, preset: 'bfv-1024' }));
    expect(unknown.status).toBe(400);
  });

  it('refuses truncated ciphertexts, ciphertexts of other parameters, and wrong counts', async () => {
    const job = validJob();
    const truncated = await post('/v1/jobs', pack({ ...job, ciphertexts: [job.ciphertexts[0]!.subarray(0, 1000)] }));
    expect([truncated.status, truncated.json.error?.code]).toEqual([400, 'invalid_ciphertext']);
    const foreign = ckksOwner.encryptVectors([[1, 2, 3]], { purpose: 'sum' }).ciphertexts;
    const other = await post('/v1/jobs', pack({ ...job, ciphertexts: foreign }));
    expect([other.status, other.json.error?.code]).toEqual([400, 'invalid_ciphertext']);
    const garbage = await post('/v1/jobs', pack({ ...job, ciphertexts: [new Uint8Array(200_000)] }));
    expect([garbage.status, garbage.json.error?.code]).toEqual([400, 'invalid_ciphertext']);
    const count = await post('/v1/jobs', pack({ ...job, ciphertexts: [job.ciphertexts[0]!, job.ciphertexts[0]!] }));
    expect([count.status, count.json.error?.code]).toEqual([400, 'wrong_ciphertext_count']);
  });

  it('answers 404 for unknown models, contexts and jobs', async () => {
    const enc = owner.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' });
    const model = await post('/v1/jobs', pack({ v: 1, op: 'grs', contextId, modelId: 'no-such-model', ciphertexts: enc.ciphertexts }));
    expect([model.status, model.json.error?.code]).toEqual([404, 'model_not_found']);
    const context = await post('/v1/jobs', pack({ ...validJob(), contextId: 'f'.repeat(64) }));
    expect([context.status, context.json.error?.code]).toEqual([404, 'context_not_found']);
    for (const path of ['/v1/jobs/00000000-0000-0000-0000-000000000000', '/v1/jobs/nope/result', '/v1/models/nope']) {
      const res = await call(stack.apiUrl, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.json.error?.code, path).toMatch(/_not_found$/);
    }
    expect((await call(stack.apiUrl, 'DELETE', '/v1/jobs/nope')).status).toBe(404);
  });

  it('answers 413 for an oversized body and 409 not_ready before a result exists', async () => {
    const big = await post('/v1/jobs', new Uint8Array(5 * 2 ** 20));
    expect([big.status, big.json.error?.code]).toEqual([413, 'body_too_large']);
  });

  it('fails a job the worker finds impossible once, with its code, without retrying', async () => {
    // A declared value width that would let the sum wrap mod t passes the API's checks (it cannot
    // see values) but not the worker's: the job must fail for good, visibly, not loop or vanish.
    const res = await post('/v1/jobs', pack({ ...validJob(), valueBits: 56 }));
    expect(res.status).toBe(202);
    const jobId = res.json.jobId as string;
    let status = await client.status(jobId);
    for (let i = 0; i < 100 && status.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await client.status(jobId);
    }
    expect(status.status).toBe('failed');
    expect(status.error?.code).toBe('values_out_of_range');
    expect(status.attempts).toBe(1);
    const result = await call(stack.apiUrl, 'GET', `/v1/jobs/${jobId}/result`);
    expect([result.status, result.json.error?.code]).toEqual([409, 'job_failed']);
  });

  it('still runs the next valid jobs, and erases a job on DELETE', async () => {
    const jobId = await submitMean(client, owner, SEED_HEART_RATES);
    const [mean] = (await waitAndFinish(client, owner, jobId)) as MeanOutcome[];
    expect(Math.abs(mean!.mean - 71.828571)).toBeLessThan(1e-5);
    const grsId = await submitGrs(client, owner, SEED_MODEL.id, [SEED_GENOTYPE]);
    const [grs] = (await waitAndFinish(client, owner, grsId)) as GrsOutcome[];
    expect(Math.abs(grs!.score - -0.03)).toBeLessThan(1e-6);
    expect((await call(stack.apiUrl, 'DELETE', `/v1/jobs/${jobId}`)).status).toBe(204);
    expect((await call(stack.apiUrl, 'GET', `/v1/jobs/${jobId}/result`)).status).toBe(404);
    const health = await call(stack.apiUrl, 'GET', '/healthz');
    expect(health.status).toBe(200);
  });
});

describe('tenants', () => {
  let stack: TestStack;
  let keyDir: string;
  let owner: Owner;
  const alice = () => new VeilClient({ server: stack.apiUrl, token: 'alice-token-1' });
  const bob = () => new VeilClient({ server: stack.apiUrl, token: 'bob-token-22' });

  beforeAll(async () => {
    stack = await testStack({ workers: 1, env: { VEIL_TOKENS: 'alice:alice-token-1,bob:bob-token-22' } });
    keyDir = await mkdtemp(join(tmpdir(), 'veil-test-keys-'));
    await writeKeys(keyDir);
    owner = await loadOwner(keyDir);
  });
  afterAll(async () => {
    owner?.dispose();
    await stack?.close();
    await rm(keyDir, { recursive: true, force: true });
  });

  it('needs a valid bearer token on /v1', async () => {
    expect((await call(stack.apiUrl, 'GET', '/v1/models')).status).toBe(401);
    expect((await call(stack.apiUrl, 'GET', '/v1/models', undefined, { authorization: 'Bearer wrong-token' })).json.error?.code).toBe('unauthorized');
  });

  it("hides one tenant's jobs, results, contexts and models from another (404)", async () => {
    await alice().addModelJson(SEED_MODEL);
    const jobId = await submitGrs(alice(), owner, SEED_MODEL.id, [SEED_GENOTYPE]);
    const [grs] = (await waitAndFinish(alice(), owner, jobId)) as GrsOutcome[];
    expect(Math.abs(grs!.score - -0.03)).toBeLessThan(1e-6);
    const auth = { authorization: 'Bearer bob-token-22' };
    for (const [method, path] of [['GET', `/v1/jobs/${jobId}`], ['GET', `/v1/jobs/${jobId}/result`], ['DELETE', `/v1/jobs/${jobId}`], ['GET', `/v1/models/${SEED_MODEL.id}`]]) {
      const res = await call(stack.apiUrl, method!, path!, undefined, auth);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect(await bob().listModels()).toEqual([]);
    // Bob can't use Alice's context either: the same id under his tenant does not exist.
    const enc = owner.encryptVectors([[1, 2]], { purpose: 'sum' });
    const res = await call(stack.apiUrl, 'POST', '/v1/jobs', { type: MSGPACK, data: pack({ v: 1, op: 'mean', contextId: owner.contextId, count: 2, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts }) }, auth);
    expect([res.status, res.json.error?.code]).toEqual([404, 'context_not_found']);
    // Alice still sees her job.
    expect((await alice().status(jobId)).status).toBe('completed');
  });
});

describe('a worker process stopped mid-job', () => {
  let stack: TestStack;
  let keyDir: string;
  let owner: Owner;

  beforeAll(async () => {
    stack = await testStack({ workers: 2, env: { JOB_LOCK_MS: '2000' } });
    keyDir = await mkdtemp(join(tmpdir(), 'veil-test-keys-'));
    await writeKeys(keyDir);
    owner = await loadOwner(keyDir);
  });
  afterAll(async () => {
    owner?.dispose();
    await stack?.close();
    await rm(keyDir, { recursive: true, force: true });
  });

  it('SIGTERM drains: the worker finishes the job in hand, then exits 0', async () => {
    const client = new VeilClient({ server: stack.apiUrl });
    const length = 200_000;
    const weights = Array.from({ length }, (_, i) => ((i % 7) - 3) / 10);
    await client.addModelJson({ id: 'drain', name: 'drain', weights });
    const dosages = Array.from({ length }, (_, i) => (i * 7) % 3);
    const jobId = await submitGrs(client, owner, 'drain', [dosages]);
    const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue('jobs', { connection: redis, prefix: `${stack.prefix}:bull` });
    let holder: number | undefined;
    for (let i = 0; i < 1500 && holder === undefined; i++) {
      const job = await queue.getJob(jobId);
      if ((await job?.getState()) === 'active') holder = Number(job?.processedBy?.replace('veil-worker-', ''));
      else await new Promise((r) => setTimeout(r, 10));
    }
    const worker = stack.workers.find((w) => w.pid === holder)!;
    const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    const job = (await queue.getJob(jobId))!;
    expect(await job.getState()).toBe('completed');
    expect(job.processedBy).toBe(`veil-worker-${holder}`);
    await queue.close();
    redis.disconnect();
    const [grs] = (await waitAndFinish(client, owner, jobId)) as GrsOutcome[];
    expect(relErr(grs!.score, dosages.reduce((a, d, i) => a + d * weights[i]!, 0))).toBeLessThan(1e-6);
    stack.addWorker();
  });

  it('SIGKILL: the job is finished by another worker, exactly once, with the right result', async () => {
    const client = new VeilClient({ server: stack.apiUrl });
    const length = 400_000; // ~50 ciphertexts: long enough to catch the worker in the middle
    const weights = Array.from({ length }, (_, i) => ((i % 17) - 8) / 100);
    await client.addModelJson({ id: 'big', name: 'big', weights });
    const dosages = Array.from({ length }, (_, i) => i % 3);
    const jobId = await submitGrs(client, owner, 'big', [dosages]);

    // The BullMQ job itself: processedBy names the worker process (veil-worker-<pid>) running it.
    const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue('jobs', { connection: redis, prefix: `${stack.prefix}:bull` });
    let victim: number | undefined;
    for (let i = 0; i < 1500 && victim === undefined; i++) {
      const job = await queue.getJob(jobId);
      const state = await job?.getState();
      if (state === 'completed') throw new Error('the job finished before it could be interrupted; make it bigger');
      if (state === 'active' && typeof job?.progress === 'number' && job.progress > 0) victim = Number(job.processedBy?.replace('veil-worker-', ''));
      else await new Promise((r) => setTimeout(r, 20));
    }
    const killed = stack.workers.find((w) => w.pid === victim);
    expect(killed, `worker process ${victim}`).toBeDefined();
    killed!.kill('SIGKILL');

    const result = await client.result(jobId, { timeoutMs: 60_000 });
    const [grs] = (await finish(client, owner, result)) as GrsOutcome[];
    const want = dosages.reduce((a, d, i) => a + d * weights[i]!, 0);
    expect(relErr(grs!.score, want)).toBeLessThan(1e-6);
    expect((await client.status(jobId)).status).toBe('completed');
    const job = (await queue.getJob(jobId))!;
    expect(job.processedBy).not.toBe(`veil-worker-${victim}`);
    expect(job.failedReason ?? '').toBe('');
    // One result: the stalled run was taken over, not duplicated.
    expect(await redis.exists(`${stack.prefix}:job:${jobId}:out`)).toBe(1);
    expect(await queue.getJobCounts('completed', 'failed', 'active', 'wait')).toMatchObject({ failed: 0, active: 0, wait: 0 });
    await queue.close();
    redis.disconnect();
  });
});
