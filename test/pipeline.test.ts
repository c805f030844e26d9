import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VeilClient } from '../src/producer/client.js';
import { generateKeys, Owner } from '../src/producer/crypto.js';
import { submitGrs, submitMean, waitAndFinish, type GrsOutcome, type MeanOutcome } from '../src/producer/sdk.js';
import { SEED_GENOTYPE, SEED_HEART_RATES, SEED_MODEL } from '../src/stack/demo.js';
import { relErr, testStack, type TestStack } from './helpers/stack.js';

/**
 * The whole pipeline: SDK → HTTP → Redis/BullMQ → worker process → result → owner decrypts. One
 * stack serves both presets (a context says its preset); the API runs in-process on port 0, the
 * worker is a process (no scheduler: no dataset here).
 */
describe('pipeline end to end', () => {
  let stack: TestStack;
  let client: VeilClient;
  beforeAll(async () => {
    stack = await testStack({ workers: 1, inProcessApi: true, scheduler: false }); // one worker: one cold start (SEAL load in its job thread), not two
    client = new VeilClient({ server: stack.apiUrl });
    await client.addModelJson(SEED_MODEL);
  });
  afterAll(() => stack?.close());

  describe.each(['bfv-coeff-8192', 'ckks-slots-8192'] as const)('preset %s', (preset) => {
    let owner: Owner;
    beforeAll(async () => {
      const keys = await generateKeys(preset);
      owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
    });
    afterAll(() => owner?.dispose());

    it('scores the seed genotype: −0.03, probability sigmoid(−0.03)', async () => {
      const jobId = await submitGrs(client, owner, SEED_MODEL.id, [SEED_GENOTYPE]);
      const [grs] = (await waitAndFinish(client, owner, jobId)) as GrsOutcome[];
      expect(grs!.jobId).toBe(jobId);
      expect(Math.abs(grs!.score - -0.03)).toBeLessThan(1e-6);
      expect(Math.abs(grs!.probability! - 1 / (1 + Math.exp(0.03)))).toBeLessThan(1e-5);
    });

    it('averages the seed heart rates: 71.828571', async () => {
      const jobId = await submitMean(client, owner, SEED_HEART_RATES);
      const [mean] = (await waitAndFinish(client, owner, jobId)) as MeanOutcome[];
      expect(Math.abs(mean!.mean - 71.828571)).toBeLessThan(1e-5);
      expect(mean!.count).toBe(7);
    });

    it('matches plaintext for random vectors longer than one ciphertext', async () => {
      const length = 12_000;
      const weights = Array.from({ length }, () => Math.random() - 0.5);
      await client.addModelJson({ id: `random-12k-${preset}`, name: 'random', weights, bias: 0.1 });
      const samples = Array.from({ length: 2 }, () => Array.from({ length }, () => Math.floor(Math.random() * 3)));
      // Whole-number dosages, declared as such: the weights keep full precision (fractional dosages
      // are encoded at 2^-16, which takes 16 bits from the weights).
      const grsJob = await submitGrs(client, owner, `random-12k-${preset}`, samples, { hardCalls: true });
      const values = Array.from({ length: 9_000 }, () => 50 + Math.random() * 50);
      const meanJob = await submitMean(client, owner, values);
      const scores = (await waitAndFinish(client, owner, grsJob)) as GrsOutcome[];
      samples.forEach((x, s) =>
        expect(
          relErr(
            scores[s]!.score,
            x.reduce((a, v, i) => a + v * weights[i]!, 0.1),
          ),
        ).toBeLessThan(1e-6),
      );
      const [mean] = (await waitAndFinish(client, owner, meanJob)) as MeanOutcome[];
      expect(relErr(mean!.mean, values.reduce((a, b) => a + b, 0) / values.length)).toBeLessThan(1e-6);
    });

    it('returns the first job for a retried submission with the same Idempotency-Key', async () => {
      const first = await submitMean(client, owner, [1, 2, 3], { idempotencyKey: `k-${preset}` });
      const again = await submitMean(client, owner, [1, 2, 3], { idempotencyKey: `k-${preset}` });
      expect(again).toBe(first);
    });
  });
});
