import { describe, expect, it } from 'vitest';
import { submitGrs, waitAndFinish, type GrsOutcome } from '../src/producer/sdk.js';
import { getSeal, withScope } from '../src/shared/seal.js';
import { WIRE_VERSION } from '../src/shared/wire.js';
import { SEED_GENOTYPE, SEED_MODEL } from '../src/stack/demo.js';
import { CT_PARMS_ID_AT } from '../tools/lib/seal-bytes.js';
import { useStackWithOwner } from './helpers/stack.js';

const SEED_SCORE = -0.03;

/**
 * With VALIDATE_CIPHERTEXTS=worker the worker thread is the first to load a job's ciphertexts with
 * SEAL; after SEAL refuses one, the thread takes a fresh SEAL instance (processor.ts). What lived in
 * the old instance (the context, the model's weight plaintexts cached from the first job) must not
 * be used with the new one: the next jobs must still score the seed genotype exactly.
 */
describe('worker thread after SEAL refused a job (VALIDATE_CIPHERTEXTS=worker)', () => {
  // One worker process, one thread (WORKER_CONCURRENCY 1): every job runs in the thread that renewed its instance.
  const f = useStackWithOwner({ workers: 1, env: { VALIDATE_CIPHERTEXTS: 'worker', WORKER_CONCURRENCY: '1' } });

  async function honestScore(): Promise<number> {
    const jobId = await submitGrs(f.client, f.owner, SEED_MODEL.id, [SEED_GENOTYPE]);
    const [out] = (await waitAndFinish(f.client, f.owner, jobId)) as GrsOutcome[];
    return out!.score;
  }

  it('fails the forged job as invalid_ciphertext and scores the next ones right', async () => {
    await f.client.addModelJson(SEED_MODEL);
    expect(Math.abs((await honestScore()) - SEED_SCORE)).toBeLessThan(1e-6); // caches the weights in the thread

    const seal = await getSeal();
    const enc = f.owner.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' });
    // Uncompressed, with one bit of parms_id flipped: the API's byte checks pass it, SEAL refuses it.
    const forged = withScope((scope) => {
      const ct = scope.track(seal.CipherText());
      ct.loadArray(f.owner.ec.ctx, enc.ciphertexts[0]!);
      const bytes = Buffer.from(ct.saveArray(seal.ComprModeType.none));
      bytes[CT_PARMS_ID_AT + 3] = bytes[CT_PARMS_ID_AT + 3]! ^ 0x10;
      return bytes;
    });
    const contextId = await f.client.uploadContext(f.owner.publicContext);
    const jobId = await f.client.submit({
      v: WIRE_VERSION,
      op: 'grs',
      contextId,
      modelId: SEED_MODEL.id,
      samples: 1,
      scaleBits: enc.scaleBits,
      valueBits: enc.valueBits,
      ciphertexts: [forged],
    });
    const failed = await f.client.result(jobId).then(
      () => undefined,
      (err: { code?: string; message?: string }) => err,
    );
    expect(failed?.code).toBe('job_failed');
    expect(failed?.message).toMatch(/invalid_ciphertext/);

    for (let i = 0; i < 2; i++) expect(Math.abs((await honestScore()) - SEED_SCORE)).toBeLessThan(1e-6);
  });
});
