import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../src/api/server.js';
import { VeilClient } from '../src/producer/client.js';
import { Owner } from '../src/producer/crypto.js';
import { finish, submitGrs, submitMean, waitAndFinish, type GrsOutcome, type MeanOutcome } from '../src/producer/sdk.js';
import { parseFailure, withState } from '../src/server/queue.js';
import { ciphertextView } from '../src/shared/coeff.js';
import { getSeal } from '../src/shared/seal.js';
import { pack, unpack, WIRE_VERSION } from '../src/shared/wire.js';
import { SEED_GENOTYPE, SEED_HEART_RATES, SEED_MODEL } from '../src/stack/demo.js';
import { inProcessApi } from './helpers/api-process.js';
import { uncompressed } from './helpers/phase.js';
import { call, relErr, testKeyPair, useStackWithOwner, workerRunning } from './helpers/stack.js';

const MSGPACK = 'application/msgpack';

/**
 * One stack (Redis, a worker process; no scheduler) and key pair for 'bad input' and 'tenants';
 * each of them talks to its own in-process API configured its way over that Redis and prefix.
 */
const f = useStackWithOwner({ workers: 1, env: { MAX_BODY_MB: '4' }, inProcessApi: true, scheduler: false });

/** Every kind of bad input gets a 4xx JSON error with a code — and the service keeps working. */
describe('bad input', () => {
  let ckksOwner: Owner;
  let contextId: string;

  beforeAll(async () => {
    const ckks = await testKeyPair('ckks-slots-8192');
    ckksOwner = await Owner.fromBytes(ckks.publicContext, ckks.secretKeyFile);
    contextId = await f.client.uploadContext(f.owner.publicContext);
    await f.client.addModelJson(SEED_MODEL);
  });
  afterAll(() => ckksOwner?.dispose());

  const post = (path: string, data: Uint8Array | string, type = MSGPACK) => call(f.stack.apiUrl, 'POST', path, { type, data });
  const validJob = () => {
    const enc = f.owner.encryptVectors([[1, 2, 3]], { purpose: 'sum' });
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

  it('answers garbage on every /v1 route with a 4xx JSON error and a code', async () => {
    const routes: [string, string][] = [
      ['POST', '/v1/contexts'],
      ['POST', '/v1/jobs'],
      ['POST', '/v1/models'],
      ['POST', '/v1/datasets'],
      ['POST', '/v1/datasets/x/records'],
      ['POST', '/v1/datasets/x/reports'],
      ['PUT', '/v1/datasets/x/schedules/nightly'],
      ['GET', '/v1/jobs/%00'],
      ['GET', '/v1/jobs/x/result?wait=abc'],
      ['DELETE', '/v1/datasets/x'],
    ];
    const bodies = [
      { type: MSGPACK, data: Buffer.from([0xc1, 0xde, 0xad]) },
      { type: 'application/json', data: '{"nope":' },
      { type: 'application/octet-stream', data: Buffer.from([0, 1, 2, 3]) },
    ];
    for (const [method, path] of routes) {
      for (const body of method === 'GET' || method === 'DELETE' ? [undefined] : bodies) {
        const res = await call(f.stack.apiUrl, method, path, body);
        expect(res.status, `${method} ${path} ${body?.type}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${method} ${path} ${body?.type}`).toBeLessThan(500);
        expect(res.json.error?.code, `${method} ${path} ${body?.type}`).toMatch(/^[a-z_]+$/);
      }
    }
  });

  it('refuses a context carrying secret-key material', async () => {
    const ctx = unpack(f.owner.publicContext) as Record<string, unknown>;
    const withSecret = await post('/v1/contexts', pack({ ...ctx, secretKey: new Uint8Array([1, 2, 3]) }));
    expect([withSecret.status, withSecret.json.error?.code]).toEqual([400, 'secret_key_present']);
    // A real SEAL secret key smuggled where Galois keys belong.
    const skFile = unpack(await readFile(join(f.keyDir, 'secret.key'))) as { secretKey: Uint8Array };
    const ckksCtx = unpack(ckksOwner.publicContext) as Record<string, unknown>;
    const ckksSecret = (unpack((await testKeyPair('ckks-slots-8192')).secretKeyFile) as { secretKey: Uint8Array }).secretKey;
    const smuggled = await post('/v1/contexts', pack({ ...ckksCtx, galoisKeys: ckksSecret }));
    expect([smuggled.status, smuggled.json.error?.code]).toEqual([400, 'secret_key_present']);
    const smuggledBfv = await post('/v1/contexts', pack({ ...ctx, galoisKeys: skFile.secretKey }));
    expect([smuggledBfv.status, smuggledBfv.json.error?.code]).toEqual([400, 'secret_key_present']);
    const asPublicKey = await post('/v1/contexts', pack({ ...ctx, publicKey: skFile.secretKey }));
    expect([asPublicKey.status, asPublicKey.json.error?.code]).toEqual([400, 'secret_key_present']);
  });

  it('refuses parameters that are not a supported 128-bit preset with 422', async () => {
    const ctx = unpack(f.owner.publicContext) as Record<string, unknown>;
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
    // c1 = 0 ("transparent"): refused at the door, not failed three times as internal.
    const seal = await getSeal();
    const transparent = uncompressed(seal, f.owner, job.ciphertexts[0]!);
    const view = ciphertextView(transparent);
    for (let i = 0; i < view.primes; i++) for (let j = 0; j < view.n; j++) view.set(1, i, j, 0);
    const zero = await post('/v1/jobs', pack({ ...job, ciphertexts: [transparent] }));
    expect([zero.status, zero.json.error?.code]).toEqual([400, 'invalid_ciphertext']);
  });

  it('answers 404 for unknown models, contexts and jobs', async () => {
    const enc = f.owner.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' });
    const model = await post('/v1/jobs', pack({ v: 1, op: 'grs', contextId, modelId: 'no-such-model', ciphertexts: enc.ciphertexts }));
    expect([model.status, model.json.error?.code]).toEqual([404, 'model_not_found']);
    const context = await post('/v1/jobs', pack({ ...validJob(), contextId: 'f'.repeat(64) }));
    expect([context.status, context.json.error?.code]).toEqual([404, 'context_not_found']);
    for (const path of ['/v1/jobs/00000000-0000-0000-0000-000000000000', '/v1/jobs/nope/result', '/v1/models/nope']) {
      const res = await call(f.stack.apiUrl, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.json.error?.code, path).toMatch(/_not_found$/);
    }
    expect((await call(f.stack.apiUrl, 'DELETE', '/v1/jobs/nope')).status).toBe(404);
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
    const before = (await f.queue.getJob(jobId))!; // read before it fails, as a status request may
    let status = await f.client.status(jobId);
    for (let i = 0; i < 100 && status.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await f.client.status(jobId);
    }
    const why = `${status.error?.code}: ${status.error?.message}`;
    expect(status.status, why).toBe('failed');
    expect(status.error?.code, why).toBe('values_out_of_range');
    expect(status.attempts).toBe(1);
    // The state read after that snapshot says failed: the status is that of the failed job, not of the snapshot.
    const { job, status: state } = await withState(f.queue, before);
    expect([state, parseFailure(job.failedReason).code, job.attemptsMade]).toEqual(['failed', 'values_out_of_range', 1]);
    const result = await call(f.stack.apiUrl, 'GET', `/v1/jobs/${jobId}/result`);
    expect([result.status, result.json.error?.code]).toEqual([409, 'job_failed']);
  });

  it('still runs the next valid jobs, and erases a job on DELETE', async () => {
    const jobId = await submitMean(f.client, f.owner, SEED_HEART_RATES);
    const [mean] = (await waitAndFinish(f.client, f.owner, jobId)) as MeanOutcome[];
    expect(Math.abs(mean!.mean - 71.828571)).toBeLessThan(1e-5);
    const grsId = await submitGrs(f.client, f.owner, SEED_MODEL.id, [SEED_GENOTYPE]);
    const [grs] = (await waitAndFinish(f.client, f.owner, grsId)) as GrsOutcome[];
    expect(Math.abs(grs!.score - -0.03)).toBeLessThan(1e-6);
    expect((await call(f.stack.apiUrl, 'DELETE', `/v1/jobs/${jobId}`)).status).toBe(204);
    expect((await call(f.stack.apiUrl, 'GET', `/v1/jobs/${jobId}/result`)).status).toBe(404);
    const health = await call(f.stack.apiUrl, 'GET', '/healthz');
    expect(health.status).toBe(200);
  });
});

describe('tenants', () => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await inProcessApi(f.stack.redisUrl, {
      VEIL_PREFIX: f.stack.prefix,
      VEIL_TOKENS: 'alice:a11ce5e7b2c94d18a11ce5e7b2c94d18:admin,bob:b0b7f3e1a95c2d68b0b7f3e1a95c2d68',
    });
  });
  afterAll(() => api?.close());
  const alice = () => new VeilClient({ server: api.url, token: 'a11ce5e7b2c94d18a11ce5e7b2c94d18' });
  const bob = () => new VeilClient({ server: api.url, token: 'b0b7f3e1a95c2d68b0b7f3e1a95c2d68' });

  it('needs a valid bearer token on /v1', async () => {
    expect((await call(api.url, 'GET', '/v1/models')).status).toBe(401);
    expect((await call(api.url, 'GET', '/v1/models', undefined, { authorization: 'Bearer wrong-token' })).json.error?.code).toBe('unauthorized');
  });

  it("hides one tenant's jobs, results, contexts and models from another (404)", async () => {
    await alice().addModelJson(SEED_MODEL);
    const jobId = await submitGrs(alice(), f.owner, SEED_MODEL.id, [SEED_GENOTYPE]);
    const [grs] = (await waitAndFinish(alice(), f.owner, jobId)) as GrsOutcome[];
    expect(Math.abs(grs!.score - -0.03)).toBeLessThan(1e-6);
    const auth = { authorization: 'Bearer b0b7f3e1a95c2d68b0b7f3e1a95c2d68' };
    for (const [method, path] of [
      ['GET', `/v1/jobs/${jobId}`],
      ['GET', `/v1/jobs/${jobId}/result`],
      ['DELETE', `/v1/jobs/${jobId}`],
      ['GET', `/v1/models/${SEED_MODEL.id}`],
    ]) {
      const res = await call(api.url, method!, path!, undefined, auth);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect(await bob().listModels()).toEqual([]);
    // Bob can't use Alice's context either: the same id under his tenant does not exist.
    const enc = f.owner.encryptVectors([[1, 2]], { purpose: 'sum' });
    const res = await call(
      api.url,
      'POST',
      '/v1/jobs',
      {
        type: MSGPACK,
        data: pack({
          v: 1,
          op: 'mean',
          contextId: f.owner.contextId,
          count: 2,
          scaleBits: enc.scaleBits,
          valueBits: enc.valueBits,
          ciphertexts: enc.ciphertexts,
        }),
      },
      auth,
    );
    expect([res.status, res.json.error?.code]).toEqual([404, 'context_not_found']);
    // Alice still sees her job.
    expect((await alice().status(jobId)).status).toBe('completed');
  });
});

describe('a worker process stopped mid-job', () => {
  const own = useStackWithOwner({ workers: 2, env: { JOB_LOCK_MS: '2000' }, inProcessApi: true, scheduler: false }); // its own: it kills workers

  it('SIGTERM drains: the worker finishes the job in hand, then exits 0', async () => {
    const length = 200_000;
    const weights = Array.from({ length }, (_, i) => ((i % 7) - 3) / 10);
    await own.client.addModelJson({ id: 'drain', name: 'drain', weights });
    const dosages = Array.from({ length }, (_, i) => (i * 7) % 3);
    const jobId = await submitGrs(own.client, own.owner, 'drain', [dosages]);
    const holder = await workerRunning(own.queue, jobId);
    const worker = own.stack.workers.find((w) => w.pid === holder)!;
    const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    const job = (await own.queue.getJob(jobId))!;
    expect(await job.getState()).toBe('completed');
    expect(job.processedBy).toBe(`veil-worker-${holder}`);
    const [grs] = (await waitAndFinish(own.client, own.owner, jobId)) as GrsOutcome[];
    expect(
      relErr(
        grs!.score,
        dosages.reduce((a, d, i) => a + d * weights[i]!, 0),
      ),
    ).toBeLessThan(1e-6);
    own.stack.addWorker();
  });

  it('SIGKILL: the job is finished by another worker, exactly once, with the right result', async () => {
    const length = 400_000; // ~50 ciphertexts: long enough to catch the worker in the middle
    const weights = Array.from({ length }, (_, i) => ((i % 17) - 8) / 100);
    await own.client.addModelJson({ id: 'big', name: 'big', weights });
    const dosages = Array.from({ length }, (_, i) => i % 3);
    const jobId = await submitGrs(own.client, own.owner, 'big', [dosages]);

    // Wait until a worker is inside the job (it reported progress), then SIGKILL that process.
    const victim = await workerRunning(own.queue, jobId, { withProgress: true });
    const killed = own.stack.workers.find((w) => w.pid === victim);
    expect(killed, `worker process ${victim}`).toBeDefined();
    killed!.kill('SIGKILL');

    const result = await own.client.result(jobId, { timeoutMs: 60_000 });
    const [grs] = (await finish(own.client, own.owner, result)) as GrsOutcome[];
    const want = dosages.reduce((a, d, i) => a + d * weights[i]!, 0);
    expect(relErr(grs!.score, want)).toBeLessThan(1e-6);
    expect((await own.client.status(jobId)).status).toBe('completed');
    const job = (await own.queue.getJob(jobId))!;
    expect(job.processedBy).not.toBe(`veil-worker-${victim}`);
    expect(job.failedReason ?? '').toBe('');
    // One result: the stalled run was taken over, not duplicated.
    expect(await own.redis.exists(`${own.stack.prefix}:job:${jobId}:out`)).toBe(1);
    expect(await own.queue.getJobCounts('completed', 'failed', 'active', 'wait')).toMatchObject({ failed: 0, active: 0, wait: 0 });
  });
});
