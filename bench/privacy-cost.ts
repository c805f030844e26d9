/**
 * The cost of circuit privacy per seed GRS job (BFV): worker compute (ms) and result bytes, with
 * privacy (worker/privacy.ts finishResult: a pooled Enc_pk(0) + uniform mask, flooding at the
 * answers, mod-switch, zstd) vs without (what the worker did before: mod-switch to 2 primes, add
 * the bias plaintext, zstd).
 *   npx tsx bench/privacy-cost.ts            (PRIVACY_RUNS=40 by default)
 * One core, no HTTP or Redis; measured, never asserted. Prints one JSON object and a summary line.
 */
import { generateKeys, Owner } from '../src/producer/crypto.js';
import { makePlaintext, toResidue } from '../src/shared/coeff.js';
import { loadCiphertext, loadPublicContext, type EvalContext } from '../src/shared/context.js';
import { vectorLayout } from '../src/shared/layout.js';
import { getSeal, type Seal } from '../src/shared/seal.js';
import { SEED_GENOTYPE, SEED_MODEL } from '../src/stack/demo.js';
import { evaluateLinear } from '../src/worker/evaluate.js';
import { finishResult, FRESH_NOISE, warmPool, type Answer } from '../src/worker/privacy.js';
import { SEED_SCORE } from './seed.js';
import { round, stats } from './util.js';

const RUNS = Number(process.env.PRIVACY_RUNS ?? 40);
const PRESET = 'bfv-coeff-8192';
/** Primes a result kept before circuit privacy (the old preset's resultPrimes). */
const PLAIN_RESULT_PRIMES = 2;

const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The finishing step without circuit privacy: shrink, add the bias at the answers, serialize. */
function finishPlain(seal: Seal, ec: EvalContext, acc: ReturnType<Seal['CipherText']>, answers: Answer[]): Uint8Array {
  for (let p = acc.coeffModulusSize; p > PLAIN_RESULT_PRIMES; p--) ec.evaluator.cipherModSwitchToNext(acc, acc);
  const coeffs = new BigUint64Array(ec.preset.polyModulusDegree);
  for (const a of answers) coeffs[a.index] = toResidue(a.value, ec.plainModulus as bigint);
  const plain = makePlaintext(seal, ec.ctx, coeffs);
  try {
    ec.evaluator.addPlain(acc, plain, acc);
    return acc.saveArray(seal.ComprModeType.zstd);
  } finally {
    plain.delete();
  }
}

const seal = await getSeal();
const keys = await generateKeys(PRESET);
const owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
const ec = loadPublicContext(seal, keys.publicContext);
const enc = owner.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' });
const layout = vectorLayout(ec.preset, SEED_GENOTYPE.length, 1);
const weights = Float64Array.from(SEED_MODEL.weights);
const job = () => ({
  layout,
  weights,
  weightsKey: `bench:${SEED_MODEL.id}`,
  bias: SEED_MODEL.bias,
  scaleBits: enc.scaleBits,
  valueBits: enc.valueBits,
  input: async (j: number) => enc.ciphertexts[j]!,
});
// The answer coefficient of the seed job (one sample, one chunk) and its noise bound, as evaluate.ts sets them.
const answers: Answer[] = [{ index: layout.chunkLength - 1, value: 123456789n }];
const topNoise = FRESH_NOISE * 2 ** 53;

// Whole jobs, with privacy, the pool full (as between jobs on a worker): what a job waits for.
warmPool(seal, ec);
const jobMs: number[] = [];
let resultBytes = 0;
let maxAbsError = 0;
for (let i = 0; i < RUNS + 3; i++) {
  await idle(60); // the pool refills between jobs (~7–12 ms per Enc_pk(0) + mask)
  const t = performance.now();
  const res = await evaluateLinear(seal, ec, job());
  if (i >= 3) jobMs.push(performance.now() - t);
  resultBytes = res.ciphertexts.reduce((n, c) => n + c.length, 0);
  const [score] = owner.decryptResult(
    { v: 1, jobId: 'bench', op: 'grs', preset: PRESET, length: layout.length, samples: 1, scaleBits: res.scaleBits, ciphertexts: res.ciphertexts },
    layout,
  );
  maxAbsError = Math.max(maxAbsError, Math.abs((score ?? NaN) - SEED_SCORE));
}

// The finishing step alone, on a top-level ciphertext like the job's accumulator.
const finishPooled: number[] = [];
const finishCold: number[] = [];
const finishNone: number[] = [];
let privateBytes = 0;
let plainBytes = 0;
for (let i = 0; i < RUNS + 3; i++) {
  const keep = i >= 3;
  await idle(60);
  let acc = loadCiphertext(seal, ec, enc.ciphertexts[0]!, 'bench');
  let t = performance.now();
  privateBytes = finishResult(seal, ec, acc, answers, topNoise).length;
  if (keep) finishPooled.push(performance.now() - t);
  acc.delete();
  // An empty pool: the Enc_pk(0) and its mask are made on the job's path (a context's first job).
  const cold = loadPublicContext(seal, keys.publicContext);
  acc = loadCiphertext(seal, cold, enc.ciphertexts[0]!, 'bench');
  t = performance.now();
  finishResult(seal, cold, acc, answers, topNoise);
  if (keep) finishCold.push(performance.now() - t);
  acc.delete();
  await idle(60); // the cold context's pool refill runs now, not in the next timing
  cold.dispose();
  acc = loadCiphertext(seal, ec, enc.ciphertexts[0]!, 'bench');
  t = performance.now();
  plainBytes = finishPlain(seal, ec, acc, answers).length;
  if (keep) finishNone.push(performance.now() - t);
  acc.delete();
}

const jobStats = stats(jobMs);
const pooled = stats(finishPooled);
const cold = stats(finishCold);
const none = stats(finishNone);
// Without privacy a job is the same multiply-accumulate with the plain finishing step.
const jobWithout = jobStats.median - pooled.median + none.median;
const out = {
  preset: PRESET,
  runs: RUNS,
  jobMsWithPrivacy: jobStats,
  finishMs: { pooled, cold, withoutPrivacy: none },
  /** On the job's path (pool full) and in all (the pool refill, done between jobs, included: cold ≈ pooled + refill). */
  privacyMsPerJob: { onPath: round(pooled.median - none.median, 2), total: round(cold.median - none.median, 2) },
  jobMsWithoutPrivacy: round(jobWithout, 2),
  resultBytes: { withPrivacy: resultBytes, finishStepWithPrivacy: privateBytes, withoutPrivacy: plainBytes },
  maxAbsError,
};
console.log(JSON.stringify(out, null, 2));
console.log(
  `privacy cost (seed GRS, ${PRESET}, ${RUNS} runs, medians): job ${jobStats.median.toFixed(1)} ms with privacy vs ~${jobWithout.toFixed(1)} ms without; ` +
    `finishing ${pooled.median.toFixed(1)} ms pooled (${cold.median.toFixed(1)} ms with the Enc_pk(0) made inline) vs ${none.median.toFixed(1)} ms without; ` +
    `result ${resultBytes} B with vs ${plainBytes} B without; |score − expected| ≤ ${maxAbsError.toExponential(1)}`,
);
ec.dispose();
owner.dispose();
