import { describe, expect, it } from 'vitest';
import { submitGrs, waitAndFinish, type GrsOutcome } from '../src/producer/sdk.js';
import { relErr, useStackWithOwner } from './helpers/stack.js';

/** A million-variant model, end to end through HTTP, Redis and a worker process. */
describe('a 1,000,000-variant GRS', () => {
  const f = useStackWithOwner({ workers: 1, inProcessApi: true, scheduler: false });

  it('equals the plaintext sum (relative error ≤ 1e-6)', async () => {
    const length = 1_000_000;
    // Deterministic pseudo-random weights and dosages (a PGS has small weights of both signs).
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const weights = Array.from({ length }, () => (rand() - 0.5) * 0.2);
    const dosages = Array.from({ length }, () => Math.floor(rand() * 3));
    await f.client.addModelJson({ id: 'synthetic-1m', name: 'synthetic 1M', weights, bias: 0 });
    // Declared hard calls: the fixed 2^-16 dosage scale would cost the 1M weights 16 bits (7.8e-6).
    const jobId = await submitGrs(f.client, f.owner, 'synthetic-1m', [dosages], { hardCalls: true });
    const [grs] = (await waitAndFinish(f.client, f.owner, jobId)) as GrsOutcome[];
    let want = 0;
    for (let i = 0; i < length; i++) want += weights[i]! * dosages[i]!;
    expect(relErr(grs!.score, want)).toBeLessThan(1e-6);
  });
});
