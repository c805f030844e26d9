import { HARD_CALL_SCALE_BITS, type Owner } from '../src/producer/crypto.js';
import { finish, type GrsOutcome } from '../src/producer/sdk.js';
import { jobResultSchema, pack, parseWire, unpack, WIRE_VERSION, type JobRequest } from '../src/shared/wire.js';
import { type BenchStack, jobTimes, workerRss } from './stack.js';
import { log, now, procRss, relErr, rng, round } from './util.js';

const apiRss = (s: BenchStack) => {
  const pid = s.apiPid();
  return pid ? procRss(pid)?.rss : undefined;
};

export interface LargeResult {
  variants: number;
  ciphertexts: number;
  modelJsonBytes: number;
  modelUploadMs: number;
  encryptMs: number;
  uploadBytes: number;
  submitMs: number;
  queueWaitMs: number;
  /** processedOn → finishedOn of the first job (weights encoded) and of a second identical one (cached). */
  evaluateMs: number;
  evaluateWarmMs: number;
  resultWaitMs: number;
  fetchMs: number;
  resultBytes: number;
  decryptMs: number;
  /** Encrypt start → score decrypted. */
  totalMs: number;
  score: number;
  expected: number;
  relativeError: number;
  noiseBudgetBits?: number;
  workerRss: number[];
  apiRss?: number;
}

/** Σ with Neumaier compensation: the reference must not carry more error than we test for. */
function exactishDot(w: Float64Array, x: Uint8Array): number {
  let sum = 0;
  let c = 0;
  for (let i = 0; i < w.length; i++) {
    const v = (w[i] as number) * (x[i] as number);
    const t = sum + v;
    c += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  return sum + c;
}

/**
 * A synthetic `variants`-long GRS (random weights of both signs, integer dosages 0/1/2) end to end
 * through the stack: model upload, encryption, upload, evaluation, download, decryption.
 */
export async function largeGrs(s: BenchStack, owner: Owner, variants: number): Promise<LargeResult> {
  const rand = rng(42);
  const weights = new Float64Array(variants);
  const dosages = new Uint8Array(variants);
  for (let i = 0; i < variants; i++) {
    weights[i] = (rand() - 0.5) * 0.2;
    dosages[i] = Math.floor(rand() * 3);
  }
  const modelId = `synthetic-${variants}`;
  const model = { id: modelId, name: `synthetic ${variants} variants`, weights: Array.from(weights), bias: 0 };
  const modelJsonBytes = Buffer.byteLength(JSON.stringify(model));
  let t0 = now();
  await s.client.addModelJson(model);
  const modelUploadMs = now() - t0;
  log(
    `${owner.preset.id}: large GRS model (${variants} variants, ${(modelJsonBytes / 2 ** 20).toFixed(1)} MiB JSON) uploaded in ${modelUploadMs.toFixed(0)} ms`,
  );

  const tStart = now();
  // Hard calls, declared as `veil grs --23andme` declares them: at the 2^-16 dosage scale a 1M-variant
  // model keeps 21 bits per weight (relative error ~8e-6 measured), at scale 0 it keeps 37.
  const enc = owner.encryptVectors([dosages], { purpose: 'dot', scaleBits: HARD_CALL_SCALE_BITS });
  const encryptMs = now() - tStart;
  const req: JobRequest = {
    v: WIRE_VERSION,
    op: 'grs',
    contextId: owner.contextId,
    modelId,
    samples: 1,
    scaleBits: enc.scaleBits,
    valueBits: enc.valueBits,
    ciphertexts: enc.ciphertexts,
  };
  const uploadBytes = pack(req).length;
  t0 = now();
  const jobId = await s.client.submit(req);
  const t1 = now();
  const submitMs = t1 - t0;
  const result = await s.client.result(jobId);
  const t2 = now();
  const [outcome] = (await finish(s.client, owner, result)) as GrsOutcome[];
  const t3 = now();
  const totalMs = t3 - tStart;
  const jt = await jobTimes(s.queue, jobId);

  t0 = now();
  const res = await fetch(`${s.stack.apiUrl}/v1/jobs/${jobId}/result`);
  const raw = new Uint8Array(await res.arrayBuffer());
  parseWire(jobResultSchema, unpack(raw), 'result');
  const fetchMs = now() - t0;

  // The same job again: the worker now has the model's encoded weights cached.
  const again = await s.client.submit(req);
  await s.client.result(again);
  const jt2 = await jobTimes(s.queue, again);

  const expected = exactishDot(weights, dosages);
  const score = outcome?.score ?? NaN;
  const out: LargeResult = {
    variants,
    ciphertexts: enc.ciphertexts.length,
    modelJsonBytes,
    modelUploadMs: round(modelUploadMs, 1),
    encryptMs: round(encryptMs, 1),
    uploadBytes,
    submitMs: round(submitMs, 1),
    queueWaitMs: jt.processedOn - jt.createdAt,
    evaluateMs: jt.finishedOn - jt.processedOn,
    evaluateWarmMs: jt2.finishedOn - jt2.processedOn,
    resultWaitMs: round(t2 - t1, 1),
    fetchMs: round(fetchMs, 1),
    resultBytes: raw.length,
    decryptMs: round(t3 - t2, 1),
    totalMs: round(totalMs, 1),
    score,
    expected,
    relativeError: relErr(score, expected),
    noiseBudgetBits: owner.preset.encoding === 'coeff' && result.ciphertexts[0] ? owner.noiseBudget(result.ciphertexts[0]) : undefined,
    workerRss: workerRss(s).map((w) => w.rss),
    apiRss: apiRss(s),
  };
  log(
    `${owner.preset.id}: large GRS total ${(totalMs / 1000).toFixed(2)} s, evaluate ${out.evaluateMs} ms (warm ${out.evaluateWarmMs}), relative error ${out.relativeError.toExponential(2)}`,
  );
  return out;
}
