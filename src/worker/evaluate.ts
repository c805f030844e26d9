import { makePlaintext, toFixed, toResidue } from '../shared/coeff.js';
import { loadCiphertext, type EvalContext } from '../shared/context.js';
import { InvalidInputError } from '../shared/errors.js';
import { HEADROOM_BITS, weightScaleBits } from '../shared/fixed.js';
import type { VectorLayout } from '../shared/layout.js';
import type { BfvCoeffPreset, CkksSlotsPreset } from '../shared/params.js';
import { SealScope, type CipherText, type PlainText, type Seal } from '../shared/seal.js';
import { LruCache } from './cache.js';
import { finishResult, FRESH_NOISE, type Answer } from './privacy.js';

/**
 * The one computation every veil job is: per sample, Σᵢ wᵢ·xᵢ + bias over encrypted xᵢ and
 * plaintext wᵢ (a model's weights; all ones for a sum or mean). Only the result position of each
 * sample is readable by the owner: every other coefficient/slot is masked, since it would reveal
 * partial sums of the weights.
 */
export interface LinearJob {
  layout: VectorLayout;
  /** Weight of value i; `undefined` means every weight is 1 (a plain sum). */
  weights?: Float64Array;
  /** Identifies `weights` (model id + digest) so their encoding is cached across jobs. */
  weightsKey?: string;
  bias: number;
  /** CKKS only: a factor applied to the result (1/n for a mean). */
  factor?: number;
  /** Coefficient encoding: the owner's fixed-point metadata. */
  scaleBits: number;
  valueBits: number;
  /** Fetch input ciphertext i (bytes as the owner sent them). */
  input(i: number): Promise<Uint8Array>;
  onProgress?(done: number, total: number): void | Promise<void>;
}

export interface LinearResult {
  ciphertexts: Uint8Array[];
  /** Coefficient encoding: result integers are value × 2^scaleBits. */
  scaleBits: number;
}

export async function evaluateLinear(seal: Seal, ec: EvalContext, job: LinearJob): Promise<LinearResult> {
  return ec.preset.encoding === 'coeff' ? evaluateCoeff(seal, ec, ec.preset, job) : evaluateSlots(seal, ec, ec.preset, job);
}

function sumAbs(w: Float64Array | undefined, length: number): number {
  if (!w) return length;
  let s = 0;
  for (let i = 0; i < w.length; i++) s += Math.abs(w[i] as number);
  return s;
}

/** Load, check, and hand input i to `use`, deleting it afterwards. */
async function withInput<T>(seal: Seal, ec: EvalContext, job: LinearJob, i: number, use: (ct: CipherText) => T): Promise<T> {
  const bytes = await job.input(i);
  const ct = loadCiphertext(seal, ec, bytes, `ciphertext ${i}`);
  try {
    return use(ct);
  } finally {
    ct.delete();
  }
}

async function evaluateCoeff(seal: Seal, ec: EvalContext, preset: BfvCoeffPreset, job: LinearJob): Promise<LinearResult> {
  const { layout } = job;
  const weightBits = job.weights ? weightScaleBits(sumAbs(job.weights, layout.length), job.bias, job.valueBits, job.scaleBits, preset.plainModulusBits) : 0;
  if (job.weights && weightBits < 8) {
    throw new InvalidInputError(
      'values_out_of_range',
      `the weights times the declared value width (2^${job.valueBits}) leave ${weightBits} bits of precision; encrypt with a smaller scale`,
      422,
    );
  }
  if (!job.weights && job.valueBits + Math.log2(layout.length) > preset.plainModulusBits - 2) {
    throw new InvalidInputError('values_out_of_range', `a sum of ${layout.length} values of 2^${job.valueBits} could wrap; encrypt with a smaller scale`, 422);
  }
  const outScale = job.scaleBits + weightBits;
  const bias = toFixed(job.bias, outScale);
  // Proven bound on the result's noise from public parameters only: each fresh input carries
  // |v| ≤ FRESH_NOISE, and the products sum to Σ|Wᵢ| times that. Weighted: the weight scale keeps
  // Σ|wᵢ|·2^(s + valueBits) < 2^(tBits − 1 − headroom), rounding adds ≤ ½ per weight. A sum: Σ 1.
  const weightL1 = job.weights ? 2 ** (preset.plainModulusBits - 1 - HEADROOM_BITS - job.valueBits) + layout.length / 2 : layout.length;
  const ciphertexts: Uint8Array[] = [];
  const scope = new SealScope();
  const weightPlains = encodeWeights(seal, ec, job, weightBits);
  try {
    let done = 0;
    for (let g = 0; g < layout.groups; g++) {
      // Products are summed in NTT form: one inverse transform per group instead of per chunk.
      const acc = scope.track(seal.CipherText());
      const product = scope.track(seal.CipherText());
      let started = false;
      for (let c = 0; c < layout.chunks; c++) {
        const weights = weightPlains.chunks[c];
        // An all-zero weight chunk adds nothing (and SEAL refuses the product as transparent).
        if (weights) {
          await withInput(seal, ec, job, g * layout.chunks + c, (ct) => {
            // A few weights: one monomial product each, in coefficient form (no NTT round trip).
            for (const mono of weights.monomials ?? []) {
              ec.evaluator.multiplyPlain(ct, mono, started ? product : acc);
              if (started) ec.evaluator.add(acc, product, acc);
              started = true;
            }
            if (!weights.ntt) return;
            const target = started ? product : acc;
            ec.evaluator.cipherTransformToNtt(ct, target);
            ec.evaluator.multiplyPlain(target, weights.ntt, target);
            if (started) ec.evaluator.add(acc, product, acc);
            started = true;
          });
        }
        await job.onProgress?.(++done, layout.ciphertexts);
      }
      if (started && !weightPlains.sparse) ec.evaluator.cipherTransformFromNtt(acc, acc);
      ciphertexts.push(finishResult(seal, ec, started ? acc : undefined, answers(layout, g, bias), FRESH_NOISE * weightL1));
    }
    return { ciphertexts, scaleBits: outScale };
  } finally {
    weightPlains.release();
    scope.dispose();
  }
}

/** Each sample's result coefficient in group `group`, where the bias is added. */
function answers(layout: VectorLayout, group: number, bias: bigint): Answer[] {
  const m = layout.chunkLength;
  const inGroup = Math.min(layout.samplesPerCiphertext, layout.samples - group * layout.samplesPerCiphertext);
  return Array.from({ length: inGroup }, (_, k) => ({ index: k * m + m - 1, value: bias }));
}

/**
 * Reversed weights per chunk: coefficient m−1 of x(X)·w(X) is Σ xᵢwᵢ. As NTT-form plaintexts,
 * a multiply_plain costs 3 ms instead of 7 (measured, N = 8192). When every chunk has at most
 * MONOMIALS_MAX nonzero weights (the seed model has 5), one single-coefficient plaintext per weight
 * instead: SEAL multiplies by a monomial in coefficient form (~0.5 ms + a 0.1 ms add each, vs
 * ~4.8 ms for the NTT round trip and product); with sample packing (chunks of 1) every weight is a
 * scalar. The product is the same ciphertext either way. With a `weightsKey` they are cached per
 * thread across jobs (a 1M-variant model is 123 × 256 KB).
 */
interface ChunkWeights {
  ntt?: PlainText;
  monomials?: PlainText[];
}
interface EncodedWeights {
  /** `undefined` for a chunk whose weights are all zero at this scale. */
  chunks: (ChunkWeights | undefined)[];
  /** Every chunk as monomials: products are summed in coefficient form. */
  sparse: boolean;
  /** WASM bytes held (for the cache's budget). */
  bytes: number;
}
const MONOMIALS_MAX = 6;
const plainsOf = (w: EncodedWeights) => w.chunks.flatMap((c) => (c ? [...(c.monomials ?? []), ...(c.ntt ? [c.ntt] : [])] : []));
const weightCaches = new WeakMap<Seal, LruCache<EncodedWeights>>(); // per SEAL instance: processor.ts may replace it
function weightCacheOf(seal: Seal): LruCache<EncodedWeights> {
  let cache = weightCaches.get(seal);
  if (!cache) {
    cache = new LruCache<EncodedWeights>(
      256 * 2 ** 20,
      (w) => w.bytes,
      (w) => plainsOf(w).forEach((p) => p.delete()),
    );
    weightCaches.set(seal, cache);
  }
  return cache;
}

function encodeWeights(seal: Seal, ec: EvalContext, job: LinearJob, weightBits: number): EncodedWeights & { release(): void } {
  const { layout } = job;
  const key = job.weightsKey && `${job.weightsKey}:${ec.preset.id}:${weightBits}:${layout.length}:${layout.chunkLength}`;
  const weightCache = weightCacheOf(seal);
  const cached = key ? weightCache.get(key) : undefined;
  if (cached) return { ...cached, release() {} };
  const t = ec.plainModulus as bigint;
  const m = layout.chunkLength;
  const n = ec.preset.polyModulusDegree;
  // Nonzero residues per chunk, at their reversed positions.
  const terms = Array.from({ length: layout.chunks }, (_, c) => {
    const out: { at: number; r: bigint }[] = [];
    const from = c * m;
    for (let i = from; i < Math.min(from + m, layout.length); i++) {
      const r = toResidue(toFixed(job.weights ? (job.weights[i] as number) : 1, weightBits), t);
      if (r !== 0n) out.push({ at: m - 1 - (i - from), r });
    }
    return out;
  });
  const sparse = terms.every((ts) => ts.length <= MONOMIALS_MAX);
  const firstParms = ec.ctx.firstParmsId;
  let bytes = 0;
  const chunks = terms.map((ts): ChunkWeights | undefined => {
    if (ts.length === 0) return undefined;
    if (sparse) {
      // A plaintext as long as its one coefficient needs: sample packing keeps one per variant.
      return {
        monomials: ts.map(({ at, r }) => {
          const mono = new BigUint64Array(at + 1);
          mono[at] = r;
          bytes += 8 * (at + 1) + 64;
          return makePlaintext(seal, ec.ctx, mono);
        }),
      };
    }
    const coeffs = new BigUint64Array(n);
    for (const { at, r } of ts) coeffs[at] = r;
    const plain = makePlaintext(seal, ec.ctx, coeffs);
    ec.evaluator.plainTransformToNtt(plain, firstParms, plain);
    bytes += 262_144;
    return { ntt: plain };
  });
  firstParms.delete();
  const encoded: EncodedWeights = { chunks, sparse, bytes };
  if (!key) return { ...encoded, release: () => plainsOf(encoded).forEach((p) => p.delete()) };
  weightCache.set(key, encoded);
  return { ...encoded, release() {} };
}

/** CKKS: results are masked (slot 0 kept), not flooded: CKKS cannot flood without losing precision. */
async function evaluateSlots(seal: Seal, ec: EvalContext, preset: CkksSlotsPreset, job: LinearJob): Promise<LinearResult> {
  const { layout } = job;
  const gk = ec.galoisKeys;
  if (!gk) throw new InvalidInputError('missing_galois_keys', 'this context has no Galois keys', 422);
  const scale = 2 ** preset.scaleBits;
  const ciphertexts: Uint8Array[] = [];
  let done = 0;
  for (let g = 0; g < layout.groups; g++) {
    ciphertexts.push(
      await (async () => {
        const scope = new SealScope();
        try {
          const ev = ec.evaluator;
          const encoder = scope.track(seal.CKKSEncoder(ec.ctx));
          const slots = encoder.slotCount;
          const acc = scope.track(seal.CipherText());
          const tmp = scope.track(seal.CipherText());
          for (let c = 0; c < layout.chunks; c++) {
            await withInput(seal, ec, job, g * layout.chunks + c, (ct) => {
              const target = c === 0 ? acc : tmp;
              if (job.weights) {
                const w = new Float64Array(slots);
                const from = c * layout.chunkLength;
                const to = Math.min(from + layout.chunkLength, layout.length);
                for (let i = from; i < to; i++) w[i - from] = job.weights[i] as number;
                const plain = scope.track(seal.PlainText());
                encoder.encode(w, scale, plain);
                ev.multiplyPlain(ct, plain, target);
              } else {
                target.copy(ct);
              }
              if (c > 0) ev.add(acc, tmp, acc);
            });
            await job.onProgress?.(++done, layout.ciphertexts);
          }
          // Rotate-and-add: slot 0 collects the sum of the chunk's slots. Done before rescaling,
          // at scale 2^80, so key-switching noise is 2^40 times smaller relative to the value.
          for (let step = 1; step < layout.chunkLength; step *= 2) {
            ev.rotateVector(acc, step, gk, tmp);
            ev.add(acc, tmp, acc);
          }
          if (job.weights) ev.rescaleToNext(acc, acc);
          // Keep slot 0 only (times the factor); the other slots hold partial sums of the weights.
          const keep = new Float64Array(slots);
          keep[0] = job.factor ?? 1;
          const keepPlain = scope.track(seal.PlainText());
          const parms = scope.track(acc.parmsId);
          encoder.encode(keep, scale, keepPlain);
          ev.plainModSwitchTo(keepPlain, parms, keepPlain);
          ev.multiplyPlain(acc, keepPlain, acc);
          ev.rescaleToNext(acc, acc);
          if (job.bias !== 0) {
            const b = new Float64Array(slots);
            b[0] = job.bias;
            const biasPlain = scope.track(seal.PlainText());
            const accParms = scope.track(acc.parmsId);
            encoder.encode(b, acc.scale, biasPlain);
            ev.plainModSwitchTo(biasPlain, accParms, biasPlain);
            ev.addPlain(acc, biasPlain, acc);
          }
          return acc.saveArray(seal.ComprModeType.zstd);
        } finally {
          scope.dispose();
        }
      })(),
    );
  }
  return { ciphertexts, scaleBits: 0 };
}
