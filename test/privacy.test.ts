import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Owner } from '../src/producer/crypto.js';
import { centered, ciphertextView, makePlaintext, toFixed, toResidue } from '../src/shared/coeff.js';
import { loadPublicContext, type EvalContext } from '../src/shared/context.js';
import { weightScaleBits } from '../src/shared/fixed.js';
import { getSeal, withScope, type Seal } from '../src/shared/seal.js';
import { evaluateLinear } from '../src/worker/evaluate.js';
import { chain, type Level } from '../src/worker/privacy.js';
import { noiseOf, phaseAt, secretCoefficients, uncompressed } from './helpers/phase.js';
import { testKeyPair } from './helpers/stack.js';

/**
 * Circuit privacy, attacked by a data owner with the secret key and real node-seal: the owner's
 * result must carry the answers and nothing else about the service's weights.
 */
const SEED_WEIGHTS = Float64Array.from([0.15, -0.02, 0.45, 0.12, -0.05]);

let seal: Seal;
let owner: Owner;
let ec: EvalContext;

beforeAll(async () => {
  seal = await getSeal();
  const keys = await testKeyPair('bfv-coeff-8192');
  owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
  ec = loadPublicContext(seal, keys.publicContext);
});
afterAll(() => {
  owner.dispose();
  ec.dispose();
});

/** Rewrite c1 of a (top-level) ciphertext to the constant polynomial `c`. */
function withConstantC1(bytes: Uint8Array, c: bigint, level: Level): Uint8Array {
  const out = uncompressed(seal, owner, bytes);
  const view = ciphertextView(out);
  level.primes.forEach((p, i) => {
    for (let j = 0; j < view.n; j++) view.set(1, i, j, j === 0 ? Number(c % p) : 0);
  });
  return out;
}

/** Every coefficient of c1, centered mod each prime: what the c1 attack reads. */
function c1Values(bytes: Uint8Array, level: Level): bigint[] {
  const view = ciphertextView(uncompressed(seal, owner, bytes));
  const out: bigint[] = [];
  level.primes.forEach((p, i) => {
    for (let j = 0; j < view.n; j++) out.push(centered(BigInt(view.get(1, i, j)), p));
  });
  return out;
}

describe('the c1 attack (input c1 = the product of the primes the worker drops)', () => {
  const levels = () => chain(ec);
  const top = () => levels().length - 1;
  const enc = () => owner.encryptVectors([[1, 0, 2, 1, 0]], { purpose: 'dot' });
  const weightBits = () => weightScaleBits(0.79, -1.2, 18, 16, 58);
  const fixedWeights = () => [...SEED_WEIGHTS].map((w) => toFixed(w, weightBits()));

  // Drop 0, 1 or 2 primes: the attacker does not know how many the worker drops, so tries each.
  it.each([0, 1, 2])('dropping %i primes: the unprotected product reveals the weights in c1 (control)', (dropped) => {
    const e = enc();
    const level = levels()[top()]!;
    const c = level.primes.slice(top() - dropped).reduce((a, b) => a * b, 1n);
    const attack = withConstantC1(e.ciphertexts[0]!, c, level);
    const c1 = withScope((scope) => {
      // What the worker computed before circuit privacy: product, mod-switch, no re-randomization.
      const t = ec.plainModulus!;
      const coeffs = new BigUint64Array(8192);
      fixedWeights().forEach((w, i) => (coeffs[4 - i] = toResidue(w, t)));
      const ct = scope.track(seal.CipherText());
      ct.loadArray(ec.ctx, attack);
      ec.evaluator.multiplyPlain(ct, scope.track(makePlaintext(seal, ec.ctx, coeffs)), ct);
      for (let i = 0; i < dropped; i++) ec.evaluator.cipherModSwitchToNext(ct, ct);
      return c1Values(ct.saveArray(seal.ComprModeType.none), levels()[top() - dropped]!);
    });
    // c1 = C·w/C = w: the weights, exact, from one job.
    const recovered = [4, 3, 2, 1, 0].map((j) => c1[j]);
    expect(recovered).toEqual(fixedWeights());
  });

  it.each([0, 1, 2])('dropping %i primes: the result of a real job reveals nothing', async (dropped) => {
    const e = enc();
    const level = levels()[top()]!;
    const c = level.primes.slice(top() - dropped).reduce((a, b) => a * b, 1n);
    const attack = withConstantC1(e.ciphertexts[0]!, c, level);
    const res = await evaluateLinear(seal, ec, {
      layout: e.layout,
      weights: SEED_WEIGHTS,
      bias: -1.2,
      scaleBits: e.scaleBits,
      valueBits: e.valueBits,
      input: async () => attack,
    });
    const bytes = res.ciphertexts[0]!;
    const primes = ciphertextView(uncompressed(seal, owner, bytes)).primes;
    const resultLevel = levels()[primes]!;
    const wanted = new Set(fixedWeights().flatMap((w) => [w, -w]));
    // c1 is a fresh RLWE sample: no weight in it, and no more small coefficients than chance gives.
    const c1 = c1Values(bytes, resultLevel);
    expect(c1.filter((v) => wanted.has(v))).toEqual([]);
    const below = (bits: bigint) => (v: bigint) => (v < 0n ? -v : v) < 2n ** bits;
    expect(c1.filter(below(20n)).length).toBeLessThan(20); // uniform: N·k·2^21/p ≈ 0.01 expected
    const small = below(32n);
    // Decrypted, every coefficient but the answer is uniform mod t: no weight, no partial sum.
    const t = ec.plainModulus!;
    const plain = [...(owner.decryptRaw(bytes) as BigUint64Array)].map((v) => centered(v, t));
    const partialSums = new Set<bigint>();
    for (let i = 0; i < 5; i++)
      for (let j = i; j < 5; j++)
        partialSums.add(
          fixedWeights()
            .slice(i, j + 1)
            .reduce((a, b) => a + b, 0n),
        );
    expect(plain.filter((v, j) => j !== 4 && (wanted.has(v) || partialSums.has(v) || small(v)))).toEqual([]);
    // And the phase the owner can compute with s is uniform there too, not small noise.
    const s = secretCoefficients(owner, uncompressed(seal, owner, bytes), resultLevel);
    const view = ciphertextView(uncompressed(seal, owner, bytes));
    // Uniform in ±q/2t (unprotected: a few units of rounding noise).
    const noises = [0, 1, 2, 3, 100].map((j) => Math.abs(noiseOf(phaseAt(view, resultLevel, s, j), resultLevel, t)));
    expect(noises.filter((v) => v < Number(resultLevel.q / t) / 2 ** 12).length).toBeLessThan(2);
  });
});

describe('statistical independence of the result from the weights (same answer, different weights)', () => {
  // Σ|w| equal (same public weight scale), x·w = 0 for x = ones; the noise of an unflooded result
  // grows with ‖W‖₂, which is 8× larger in variance for the first vector than for the second.
  const a = 8192;
  const concentrated = Float64Array.from({ length: 16 }, (_, i) => (i === 0 ? a : i === 1 ? -a : 0));
  const spread = Float64Array.from({ length: 16 }, (_, i) => (i % 2 ? -a / 8 : a / 8));
  const RUNS = 150;
  // Honest noise (|v| ≤ 21.5) times these weights is 2^-30 of a unit once the result is switched
  // to 2 primes: invisible flooded or not. The attacker amplifies it instead: fresh encryptions with
  // 2^45 extra noise in c0, so an unflooded result would show ‖W‖₂ plainly.
  const EXTRA_NOISE = 2 ** 45;

  function amplified(bytes: Uint8Array): Uint8Array {
    const out = uncompressed(seal, owner, bytes);
    const view = ciphertextView(out);
    const level = chain(ec)[view.primes]!;
    const extra = Array.from({ length: view.n }, () => Math.round((Math.random() * 2 - 1) * EXTRA_NOISE));
    level.primes.forEach((prime, i) => {
      const p = Number(prime);
      for (let j = 0; j < view.n; j++) view.set(0, i, j, (view.get(0, i, j) + (((extra[j] as number) % p) + p)) % p);
    });
    return out;
  }

  async function noises(weights: Float64Array): Promise<{ answer: number[]; other: number[] }> {
    const t = ec.plainModulus!;
    const answer: number[] = [];
    const other: number[] = [];
    let s: Int8Array | undefined;
    for (let r = 0; r < RUNS; r++) {
      // Declared hard calls (scale 0, 2 bits): the largest weight scale, the loudest noise.
      const e = owner.encryptVectors([new Array(16).fill(1)], { purpose: 'dot', scaleBits: 0 });
      const input = amplified(e.ciphertexts[0]!);
      const res = await evaluateLinear(seal, ec, {
        layout: e.layout,
        weights,
        bias: 0,
        scaleBits: e.scaleBits,
        valueBits: e.valueBits,
        input: async () => input,
      });
      const bytes = uncompressed(seal, owner, res.ciphertexts[0]!);
      const view = ciphertextView(bytes);
      const level = chain(ec)[view.primes]!;
      s ??= secretCoefficients(owner, bytes, level);
      const phase = phaseAt(view, level, s, 15);
      expect(centered((owner.decryptRaw(bytes) as BigUint64Array)[15]!, t)).toBe(0n);
      answer.push(noiseOf(phase, level, t));
      other.push(noiseOf(phaseAt(view, level, s, 14), level, t));
    }
    return { answer, other };
  }

  const variance = (xs: number[]) => {
    const mean = xs.reduce((p, x) => p + x, 0) / xs.length;
    return xs.reduce((p, x) => p + (x - mean) ** 2, 0) / (xs.length - 1);
  };

  it('the answer noise and the noise elsewhere have the same distribution for both weight vectors', async () => {
    const first = await noises(concentrated);
    const second = await noises(spread);
    const answerRatio = variance(first.answer) / variance(second.answer);
    const otherRatio = variance(first.other) / variance(second.other);
    console.log(
      `variance ratio (concentrated/spread weights, ${RUNS} runs each): answer ${answerRatio.toFixed(3)}, coefficient 14 ${otherRatio.toFixed(3)}; ` +
        `answer noise spread 2^${Math.log2(Math.sqrt(variance(first.answer))).toFixed(1)}`,
    );
    // Flooded: both uniform on the same range, ratio 1 ± ~0.1. Unflooded: ~8 (‖W‖₂² ratio).
    expect(answerRatio).toBeGreaterThan(0.5);
    expect(answerRatio).toBeLessThan(2);
    expect(otherRatio).toBeGreaterThan(0.5);
    expect(otherRatio).toBeLessThan(2);
  }, 120_000);
});

describe('inputs SEAL calls transparent', () => {
  it('are refused with a 4xx invalid_ciphertext, not an internal error', async () => {
    const e = owner.encryptVectors([[1, 0, 2, 1, 0]], { purpose: 'dot' });
    const level = chain(ec)[chain(ec).length - 1]!;
    const zeroC1 = withConstantC1(e.ciphertexts[0]!, 0n, level);
    await expect(
      evaluateLinear(seal, ec, { layout: e.layout, weights: SEED_WEIGHTS, bias: 0, scaleBits: e.scaleBits, valueBits: e.valueBits, input: async () => zeroC1 }),
    ).rejects.toMatchObject({ name: 'InvalidInputError', code: 'invalid_ciphertext', status: 400 });
  });
});
