import { randomBytes, randomFillSync } from 'node:crypto';
import { ciphertextView } from '../shared/coeff.js';
import type { EvalContext } from '../shared/context.js';
import { InvalidInputError } from '../shared/errors.js';
import type { CipherText, Seal } from '../shared/seal.js';

/**
 * Circuit privacy for every BFV result: the owner learns the answer coefficients and nothing else
 * about the service's weights. The derivation is in docs/circuit-privacy.md; in short, noise is in
 * SEAL's invariant units (a ciphertext's phase c0 + c1·s = (q/t)·m + v mod q, decryption is right
 * while |v| < q/2t), and a result ciphertext leaves the worker as
 *
 *   mod-switch to the fewest primes that decrypt ( acc + Enc_pk(0) + (R, 0) ), all at the top level
 *
 * - Enc_pk(0), a fresh public-key encryption of zero, re-randomizes c1: whatever c1 the owner sent
 *   (the c1 attack sets it to a constant, so that c1 of the result *is* the weight polynomial), the
 *   sum's c1 is a fresh RLWE sample.
 * - R makes the phase independent of the weights. At every coefficient that is not an answer, R is
 *   uniform mod q: the phase there is uniform whatever the inputs, noise included (this replaces
 *   the old mask mod t, which hid partial sums but not their noise). At an answer coefficient,
 *   R = round(q·b/t) + U with b the plaintext to add (the bias) and U uniform in [−F, F],
 *   F = ⌊q/4t⌋ ≥ 2^40 · answers · V (V the proven bound on the evaluation noise): two weight vectors
 *   with the same answers give top-level ciphertexts at statistical distance ≤ 2^-40.
 * - The mod-switch is a deterministic function of that ciphertext, so it cannot add information
 *   about the weights; it scales F to q_k/4t, and k is the fewest primes that leave room for the
 *   scaled noise plus the switch's own rounding. Switching after re-randomizing also means SEAL
 *   never meets a transparent intermediate (an attacker's c1 = 1 times small weights rounds to 0).
 */

/**
 * |v| of a fresh encryption: SEAL 4.1 draws errors from a centered binomial distribution (|e| ≤ 21;
 * a clipped normal with σ = 3.2 stays ≤ 19.2), plus ½ for rounding (q/t)·m to an integer.
 */
export const FRESH_NOISE = 21.5;
/** Statistical distance between results for two weight vectors with the same answers: ≤ 2^-40. */
export const STATISTICAL_BITS = 40;
/** Encryptions of zero kept ready per context and level. */
const POOL_SIZE = 2;

/** One coefficient the owner may read, and the plaintext integer to add there (e.g. the bias). */
export interface Answer {
  index: number;
  value: bigint;
}

export interface Level {
  primes: bigint[];
  q: bigint;
}

/** The modulus chain of a preset, indexed by number of primes (SEAL drops the last one each time). */
const chains = new Map<string, Level[]>();
export function chain(ec: EvalContext): Level[] {
  let levels = chains.get(ec.preset.id);
  if (!levels) {
    levels = [];
    let data = ec.ctx.firstContextData;
    for (;;) {
      const parms = data.parms;
      const primes = [...parms.coeffModulus];
      parms.delete();
      levels[primes.length] = { primes, q: primes.reduce((a, b) => a * b, 1n) };
      const last = data.chainIndex === 0;
      const next = last ? undefined : data.nextContextData;
      data.delete();
      if (!next) break;
      data = next;
    }
    chains.set(ec.preset.id, levels);
  }
  return levels;
}

const log2 = (v: bigint | number) => Math.log2(Number(v));

export interface ResultPlan {
  /** Primes the result keeps. */
  primes: number;
  /** Half-width F of the flooding added at each answer coefficient, at the top level. */
  flood: bigint;
}

/**
 * Flooding width and the fewest primes at which the result still decrypts, from `topNoise` (a
 * proven bound on |v| at the top level, from public job parameters only). Deterministic in public
 * inputs, so the result's size reveals nothing either.
 */
export function resultPlan(ec: EvalContext, topNoise: number, answers: number): ResultPlan {
  const levels = chain(ec);
  const t = ec.plainModulus as bigint;
  const n = ec.preset.polyModulusDegree;
  const top = levels.length - 1;
  const qTop = (levels[top] as Level).q;
  const flood = qTop / (4n * t);
  if (log2(topNoise) + STATISTICAL_BITS + Math.log2(Math.max(answers, 1)) > log2(flood)) {
    throw new InvalidInputError('noise_too_large', 'this job is too large to hide its noise under the preset; split it into smaller jobs', 422);
  }
  // Enc_pk(0): |u·e + e1 + e2·s| ≤ FRESH_NOISE · (2N + 1) (u, s ternary).
  const zeroNoise = FRESH_NOISE * (2 * n + 1);
  // A mod-switch rounds c0 and c1 (|r| ≤ ½ each): |r0 + r1·s| ≤ (1 + N)/2 for ternary s; later
  // switches scale earlier rounding down by a prime, so 1 + N bounds them all.
  const switchNoise = 1 + n;
  for (let k = 1; k < top; k++) {
    const level = levels[k];
    if (!level || level.q <= 4n * t) continue;
    const scale = 2 ** (log2(level.q) - log2(qTop));
    // Flooding scales to ≈ q_k/4t; the rest must fit in the other quarter (a bit of margin kept).
    if ((topNoise + zeroNoise) * scale + switchNoise + 1 < Number(level.q / (8n * t))) return { primes: k, flood };
  }
  return { primes: top, flood };
}

/**
 * A ready Enc_pk(0) + (U, 0) at the top level, U uniform mod q at *every* coefficient (the part of R
 * that does not depend on the job), and U itself, so a job only swaps U for its answers' values.
 */
interface Mask {
  bytes: Uint8Array;
  /** U's residues, prime by prime (N each). */
  uniform: Float64Array;
}

/** Ready masks, per context: ~780 KB of JS memory each at N = 8192. */
const pools = new WeakMap<EvalContext, Mask[]>();
const refilling = new WeakSet<Mask[]>();

function makeMask(seal: Seal, ec: EvalContext): Mask {
  if (!ec.publicKey) throw new Error("re-randomizing a result needs the owner's public key");
  const encryptor = seal.Encryptor(ec.ctx, ec.publicKey);
  const ct = seal.CipherText();
  try {
    encryptor.encryptZero(ct);
    const bytes = ct.saveArray(seal.ComprModeType.none);
    const levels = chain(ec);
    return { bytes, uniform: addUniform(bytes, levels[levels.length - 1] as Level) };
  } finally {
    ct.delete();
    encryptor.delete();
  }
}

function poolOf(ec: EvalContext): Mask[] {
  let pool = pools.get(ec);
  if (!pool) pools.set(ec, (pool = []));
  return pool;
}

/**
 * Top the pool up, one mask per macrotask (Enc_pk(0) + U: ~7–12 ms at N = 8192), so a job that arrives
 * meanwhile waits for one encryption at most. Stops when the context is disposed.
 */
function refill(seal: Seal, ec: EvalContext): void {
  const pool = poolOf(ec);
  if (refilling.has(pool) || pool.length >= POOL_SIZE) return;
  refilling.add(pool);
  const step = () => {
    if (!ec.publicKey || pool.length >= POOL_SIZE) {
      refilling.delete(pool);
      return;
    }
    pool.push(makeMask(seal, ec));
    setImmediate(step);
  };
  setImmediate(step);
}

/** Start filling the pool, e.g. when a context is loaded. */
export function warmPool(seal: Seal, ec: EvalContext): void {
  if (ec.preset.scheme === 'bfv' && ec.publicKey) refill(seal, ec);
}

/** A fresh mask, never handed out twice. */
function takeMask(seal: Seal, ec: EvalContext): Mask {
  const mask = poolOf(ec).pop() ?? makeMask(seal, ec);
  refill(seal, ec);
  return mask;
}

/**
 * Fill `out` with uniform residues mod p (p < 2^53), by rejection: exact, no modulo bias. Random
 * words are drawn in bulk, one call per round (a mask needs ~25,000 residues at N = 8192).
 */
function fillUniform(out: Float64Array, p: number): void {
  const high = 2 ** (Math.ceil(Math.log2(p)) - 32); // candidates hi·2^32 + lo lie in [0, 2p)
  let filled = 0;
  while (filled < out.length) {
    const words = randomFillSync(new Uint32Array(2 * (out.length - filled) + 64));
    for (let k = 0; k < words.length && filled < out.length; k += 2) {
      const v = ((words[k] as number) % high) * 2 ** 32 + (words[k + 1] as number);
      if (v < p) out[filled++] = v;
    }
  }
}

/** A uniform integer in [−f, f]; 64 extra random bits make the modulo bias < 2^-64. */
function uniformSigned(f: bigint): bigint {
  const width = 2n * f + 1n;
  const bytes = Math.ceil(width.toString(16).length / 2) + 8;
  return (BigInt(`0x${randomBytes(bytes).toString('hex')}`) % width) - f;
}

/**
 * Add U, uniform mod q at every coefficient, to c0 of the serialized ciphertext; returns U's
 * residues. The loop walks c0's bytes itself rather than calling the view's get/set per
 * coefficient: a mask went from 8.0 to 7.4 ms of CPU (bench inprocess section, two runs each).
 */
function addUniform(bytes: Uint8Array, level: Level): Float64Array {
  const zero = ciphertextView(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = zero.n;
  const uniform = new Float64Array(level.primes.length * n);
  level.primes.forEach((prime, i) => {
    const p = Number(prime);
    const residues = uniform.subarray(i * n, (i + 1) * n);
    fillUniform(residues, p);
    // c0 mod this prime: n consecutive u64 residues, each below p < 2^53, so the sums stay exact.
    for (let j = 0, at = zero.offset(0, i, 0); j < n; j++, at += 8) {
      const s = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32 + (residues[j] as number);
      const r = s >= p ? s - p : s;
      view.setUint32(at, r % 2 ** 32, true);
      view.setUint32(at + 4, Math.floor(r / 2 ** 32), true);
    }
  });
  return uniform;
}

/** At each answer coefficient, replace U by round(q·b/t) + flooding (see the top of this file). */
function setAnswers(mask: Mask, level: Level, t: bigint, answers: Answer[], flood: bigint): void {
  const zero = ciphertextView(mask.bytes);
  for (const a of answers) {
    // round(q·b/t) for a signed b, plus the flooding.
    const r = (2n * level.q * a.value + (a.value < 0n ? -t : t)) / (2n * t) + uniformSigned(flood);
    level.primes.forEach((prime, i) => {
      const p = Number(prime);
      const add = Number(((r % prime) + prime) % prime) - (mask.uniform[i * zero.n + a.index] as number);
      const s = zero.get(0, i, a.index) + add;
      zero.set(0, i, a.index, s >= p ? s - p : s < 0 ? s + p : s);
    });
  }
}

/**
 * The one way a BFV result leaves the worker: re-randomize and flood/mask at the top level, shrink
 * to the fewest primes that decrypt, serialize (uncompressed). `acc` (top level, not NTT form) is consumed;
 * `undefined` means an all-zero product (only the answers' plaintexts remain).
 */
export function finishResult(seal: Seal, ec: EvalContext, acc: CipherText | undefined, answers: Answer[], topNoise: number): Uint8Array {
  const plan = resultPlan(ec, topNoise, answers.length);
  const levels = chain(ec);
  const mask = takeMask(seal, ec);
  setAnswers(mask, levels[levels.length - 1] as Level, ec.plainModulus as bigint, answers, plan.flood);
  const z = seal.CipherText();
  try {
    z.loadArray(ec.ctx, mask.bytes);
    const out = acc ?? z;
    if (acc) {
      if (acc.coeffModulusSize !== levels.length - 1) throw new Error('finishResult takes a top-level ciphertext');
      ec.evaluator.add(acc, z, acc);
    }
    for (let p = out.coeffModulusSize; p > plan.primes; p--) ec.evaluator.cipherModSwitchToNext(out, out);
    // Uncompressed: zstd saves 18% of a flooded result (uniform residues barely compress) and cost
    // 1.3 ms of the ~10 ms a seed job took (node-seal 6, N = 8192); loading it is cheaper too.
    return out.saveArray(seal.ComprModeType.none);
  } finally {
    z.delete();
  }
}
