import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeys, HARD_CALL_SCALE_BITS, Owner } from '../src/producer/crypto.js';
import { loadPublicContext, type EvalContext } from '../src/shared/context.js';
import { getPreset, PRESET_IDS, type PresetId } from '../src/shared/params.js';
import { getSeal, type Seal } from '../src/shared/seal.js';
import { pack, unpack, WIRE_VERSION } from '../src/shared/wire.js';
import { evaluateLinear } from '../src/worker/evaluate.js';
import { relErr } from './helpers/stack.js';

/** The HE core in-process: owner encrypts, worker evaluates, owner decrypts — real node-seal. */
describe.each(PRESET_IDS)('HE core, preset %s', (preset: PresetId) => {
  let seal: Seal;
  let owner: Owner;
  let ec: EvalContext;
  let publicContext: Uint8Array;

  beforeAll(async () => {
    seal = await getSeal();
    const keys = await generateKeys(preset);
    publicContext = keys.publicContext;
    owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
    ec = loadPublicContext(seal, keys.publicContext);
  });
  afterAll(() => {
    owner.dispose();
    ec.dispose();
  });

  async function dot(samples: number[][] | Float64Array[], weights: Float64Array | undefined, bias: number, factor?: number, hardCalls = false) {
    const enc = owner.encryptVectors(samples, { purpose: weights ? 'dot' : 'sum', ...(hardCalls ? { scaleBits: HARD_CALL_SCALE_BITS } : {}) });
    const res = await evaluateLinear(seal, ec, {
      layout: enc.layout,
      weights,
      bias,
      factor,
      scaleBits: enc.scaleBits,
      valueBits: enc.valueBits,
      input: async (i) => enc.ciphertexts[i]!,
    });
    return owner.decryptResult(
      {
        v: WIRE_VERSION,
        jobId: 't',
        op: 'x',
        preset,
        length: enc.layout.length,
        samples: enc.layout.samples,
        scaleBits: res.scaleBits,
        ciphertexts: res.ciphertexts,
      },
      enc.layout,
    );
  }

  it('computes the seed GRS: [1,0,2,1,0] · weights − 1.2 = −0.03', async () => {
    const [score] = await dot([[1, 0, 2, 1, 0]], Float64Array.from([0.15, -0.02, 0.45, 0.12, -0.05]), -1.2);
    expect(Math.abs(score! - -0.03)).toBeLessThan(1e-6);
  });

  it('computes inner products of random vectors longer than one ciphertext, several samples', async () => {
    const length = 20_000;
    const weights = Float64Array.from({ length }, () => Math.random() * 2 - 1);
    const samples = Array.from({ length: 3 }, () => Float64Array.from({ length }, () => Math.floor(Math.random() * 3)));
    // Whole-number dosages declared as such keep the weights' full precision.
    const got = await dot(samples, weights, 0.25, undefined, true);
    samples.forEach((x, s) => {
      const want = x.reduce((acc, v, i) => acc + v * weights[i]!, 0.25);
      expect(relErr(got[s]!, want)).toBeLessThan(1e-6);
    });
    // Fractional dosages (DS) are encoded at 2^-16 (finer than PLINK 2's own 2^-14), which leaves
    // the weights ~2^-24 here: against the dosages as encoded, the sum of 20,000 weight rounding
    // errors stays far below PLINK 2's 6 printed digits.
    if (getPreset(preset).encoding !== 'coeff') return; // CKKS is approximate: checked above only
    const fractional = samples.map((x) => x.map((v) => (v === 2 ? 1.75 : v * 0.9)));
    const gotFractional = await dot(fractional, weights, 0.25);
    fractional.forEach((x, s) => {
      const want = x.reduce((acc, v, i) => acc + (Math.round(v * 2 ** 16) / 2 ** 16) * weights[i]!, 0.25);
      expect(Math.abs(gotFractional[s]! - want)).toBeLessThan(1e-4);
    });
  });

  it.skipIf(getPreset(preset).encoding !== 'coeff')(
    'scores a sparse model (few nonzero weights per chunk, multiplied as monomials) like a dense one',
    async () => {
      // 4 nonzero weights spread over 3 chunks (the worker's monomial path) and the same with one
      // more nonzero weight per chunk than that path takes (the NTT path): both exact.
      const length = 20_000;
      const at = [3, 8_500, 8_191, 19_999];
      const sparse = new Float64Array(length);
      at.forEach((i, k) => (sparse[i] = k % 2 ? -0.37 * (k + 1) : 0.21 * (k + 1)));
      const dense = Float64Array.from(sparse);
      for (let i = 0; i < length; i += 97) dense[i] = dense[i] || 0.013;
      const samples = Array.from({ length: 2 }, () => Float64Array.from({ length }, () => Math.floor(Math.random() * 3)));
      for (const weights of [sparse, dense]) {
        const got = await dot(samples, weights, -0.5, undefined, true);
        samples.forEach((x, s) =>
          expect(
            relErr(
              got[s]!,
              x.reduce((acc, v, i) => acc + v * weights[i]!, -0.5),
            ),
          ).toBeLessThan(1e-6),
        );
      }
    },
  );

  it('sums random real values over several ciphertexts (mean)', async () => {
    const values = Array.from({ length: 10_000 }, () => 40 + Math.random() * 80);
    const [sum] = await dot([values], undefined, 0, 1 / values.length);
    const want = values.reduce((a, b) => a + b, 0) / values.length;
    const mean = preset.startsWith('bfv') ? sum! / values.length : sum!;
    expect(relErr(mean, want)).toBeLessThan(1e-6);
  });

  it('masks every position of the result except the answer', async () => {
    const enc = owner.encryptVectors([[1, 1, 1, 1]], { purpose: 'dot' });
    const res = await evaluateLinear(seal, ec, {
      layout: enc.layout,
      weights: Float64Array.from([1, 2, 3, 4]),
      bias: 0,
      scaleBits: enc.scaleBits,
      valueBits: enc.valueBits,
      input: async (i) => enc.ciphertexts[i]!,
    });
    const raw = owner.decryptRaw(res.ciphertexts[0]!);
    // Unmasked, positions 0..2 would hold partial sums of the weights (4, 7, 9 at scale 2^s).
    if (raw instanceof BigUint64Array) {
      const t = ec.plainModulus!;
      const small = [...raw].filter((c, i) => i !== 3 && (c < 2n ** 40n || t - c < 2n ** 40n)).length;
      expect(small).toBeLessThan(3); // uniform residues mod a 58-bit t are almost never this small
    } else {
      for (let i = 1; i < 16; i++) expect(Math.abs(raw[i]!)).toBeLessThan(1e-3);
    }
  });

  it('gives every key pair its own context id, and refuses mismatched halves', async () => {
    const other = await generateKeys(preset);
    const theirs = loadPublicContext(seal, other.publicContext);
    expect(theirs.contextId).not.toBe(owner.contextId);
    theirs.dispose();
    await expect(Owner.fromBytes(publicContext, other.secretKeyFile)).rejects.toMatchObject({ code: 'key_mismatch' });
  });

  it('refuses a context that carries a secret key', () => {
    const tampered = pack({ ...(unpack(publicContext) as object), secretKey: new Uint8Array(16) });
    expect(() => loadPublicContext(seal, tampered)).toThrow(expect.objectContaining({ code: 'secret_key_present' }));
  });
});
