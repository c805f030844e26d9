import { generateKeys, Owner } from '../src/producer/crypto.js';
import { finish, type GrsOutcome, type MeanOutcome } from '../src/producer/sdk.js';
import { vectorLayout } from '../src/shared/layout.js';
import type { PresetId } from '../src/shared/params.js';
import { jobResultSchema, pack, parseWire, unpack, WIRE_VERSION, type JobRequest } from '../src/shared/wire.js';
import { SEED_GENOTYPE, SEED_HEART_RATES, SEED_MODEL } from '../src/stack/demo.js';
import type { BenchConfig } from './config.js';
import { type BenchStack, jobTimes, ownerFor } from './stack.js';
import { log, now, round, stats, type Stats } from './util.js';

export const SEED_SCORE = -0.03;
export const SEED_PROBABILITY = 1 / (1 + Math.exp(0.03));
export const SEED_MEAN = SEED_HEART_RATES.reduce((a, b) => a + b, 0) / SEED_HEART_RATES.length;

/** Per-step timings of one scenario (ms), and what the run decrypted. */
export interface ScenarioResult {
  steps: Record<'encrypt' | 'contextReupload' | 'submit' | 'queueWait' | 'evaluate' | 'resultWait' | 'fetch' | 'decrypt' | 'endToEnd' | 'endToEndSdk', Stats>;
  bytes: { inputCiphertexts: number[]; requestBody: number; result: number; resultCiphertexts: number[] };
  /** BFV only: noise budget (bits) left in the result. */
  noiseBudgetBits?: number;
  value: number;
  maxAbsError: number;
}

export interface SeedResult {
  keygen: Stats;
  loadKeys: Stats;
  uploadContext: Stats;
  /** Evaluate ms of the first job under an owner context the (warm) workers have not seen. */
  newOwnerEvaluate: Stats;
  bytes: { publicContext: number; secretKeyFile: number };
  grs: ScenarioResult;
  mean: ScenarioResult;
}

type Scenario = 'grs' | 'mean';
type Keys = Awaited<ReturnType<typeof generateKeys>>;

function request(owner: Owner, scenario: Scenario): { req: JobRequest; ms: number } {
  const t0 = now();
  if (scenario === 'grs') {
    const req = grsRequest(owner);
    return { ms: now() - t0, req };
  }
  const enc = owner.encryptVectors([SEED_HEART_RATES], { purpose: 'sum' });
  const ms = now() - t0;
  return {
    ms,
    req: {
      v: WIRE_VERSION,
      op: 'mean',
      contextId: owner.contextId,
      count: SEED_HEART_RATES.length,
      scaleBits: enc.scaleBits,
      valueBits: enc.valueBits,
      ciphertexts: enc.ciphertexts,
    },
  };
}

/** One scenario, `runs` times, step by step, as a data owner would run it over HTTP. */
async function scenario(s: BenchStack, owner: Owner, which: Scenario, runs: number): Promise<ScenarioResult> {
  const t: Record<keyof ScenarioResult['steps'], number[]> = {
    encrypt: [],
    contextReupload: [],
    submit: [],
    queueWait: [],
    evaluate: [],
    resultWait: [],
    fetch: [],
    decrypt: [],
    endToEnd: [],
    endToEndSdk: [],
  };
  let bytes: ScenarioResult['bytes'] = { inputCiphertexts: [], requestBody: 0, result: 0, resultCiphertexts: [] };
  let noiseBudgetBits: number | undefined;
  let value = NaN;
  let maxAbsError = 0;
  const want = which === 'grs' ? SEED_SCORE : SEED_MEAN;
  // Warm-up, not timed: every worker process has loaded SEAL, this context and the model.
  const warm = s.workerPids().length * 3;
  await Promise.all(Array.from({ length: warm }, async () => s.client.result(await s.client.submit(request(owner, which).req))));
  for (let r = 0; r < runs; r++) {
    const { req, ms: encryptMs } = request(owner, which);
    // What the SDK's submitGrs/submitMean do before every job: upload the public context again.
    const tc = now();
    await s.client.uploadContext(owner.publicContext);
    const contextMs = now() - tc;
    const t0 = now();
    const jobId = await s.client.submit(req);
    const t1 = now();
    const result = await s.client.result(jobId); // long-polls GET /v1/jobs/:id/result?wait=…
    const t2 = now();
    const [outcome] = await finish(s.client, owner, result);
    const t3 = now();
    // The result once more, now that it is done: the pure download + parse time.
    const t4 = now();
    const res = await fetch(`${s.stack.apiUrl}/v1/jobs/${jobId}/result`);
    const raw = new Uint8Array(await res.arrayBuffer());
    parseWire(jobResultSchema, unpack(raw), 'result');
    const fetchMs = now() - t4;
    const jt = await jobTimes(s.queue, jobId);
    value = which === 'grs' ? (outcome as GrsOutcome).score : (outcome as MeanOutcome).mean;
    maxAbsError = Math.max(maxAbsError, Math.abs(value - want));
    if (which === 'grs') maxAbsError = Math.max(maxAbsError, Math.abs(((outcome as GrsOutcome).probability ?? NaN) - SEED_PROBABILITY));
    if (r === 0) {
      bytes = {
        inputCiphertexts: req.ciphertexts.map((c) => c.length),
        requestBody: pack(req).length,
        result: raw.length,
        resultCiphertexts: result.ciphertexts.map((c) => c.length),
      };
      if (owner.preset.encoding === 'coeff' && result.ciphertexts[0]) noiseBudgetBits = owner.noiseBudget(result.ciphertexts[0]);
      vectorLayout(owner.preset, result.length, result.samples);
    }
    t.encrypt.push(encryptMs);
    t.contextReupload.push(contextMs);
    t.submit.push(t1 - t0);
    t.queueWait.push(jt.processedOn - jt.createdAt);
    t.evaluate.push(jt.finishedOn - jt.processedOn);
    t.resultWait.push(t2 - t1);
    t.fetch.push(fetchMs);
    t.decrypt.push(t3 - t2);
    t.endToEnd.push(encryptMs + (t3 - t0));
    t.endToEndSdk.push(encryptMs + contextMs + (t3 - t0));
  }
  const steps = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, stats(v)])) as ScenarioResult['steps'];
  return { steps, bytes, noiseBudgetBits, value, maxAbsError: round(maxAbsError, 12) };
}

/** Key generation and both seed scenarios on one stack, for one preset. */
export async function seedScenarios(s: BenchStack, preset: PresetId, cfg: BenchConfig): Promise<SeedResult> {
  const keygen: number[] = [];
  const loadKeys: number[] = [];
  const uploadContext: number[] = [];
  const fresh: Awaited<ReturnType<typeof generateKeys>>[] = [];
  for (let r = 0; r < cfg.keygenRuns; r++) {
    let t0 = now();
    const k = await generateKeys(preset);
    keygen.push(now() - t0);
    t0 = now();
    const o = await Owner.fromBytes(k.publicContext, k.secretKeyFile);
    loadKeys.push(now() - t0);
    o.dispose();
    t0 = now();
    await s.client.uploadContext(k.publicContext);
    uploadContext.push(now() - t0);
    if (fresh.length < 3) fresh.push(k);
  }
  while (fresh.length < 3) fresh.push(await generateKeys(preset));
  const [keys, ...newOwners] = fresh as [Keys, ...Keys[]];
  log(`${preset}: keygen median ${stats(keygen).median.toFixed(0)} ms; seed scenarios × ${cfg.runs}`);
  await s.client.addModelJson(SEED_MODEL);
  const owner = await ownerFor(s.client, keys);
  try {
    const grs = await scenario(s, owner, 'grs', cfg.runs);
    const mean = await scenario(s, owner, 'mean', cfg.runs);
    // New owners on warm workers: what the first job under a context the workers have not seen costs.
    const newOwnerEvaluate: number[] = [];
    for (const k of newOwners) {
      const o = await ownerFor(s.client, k);
      try {
        const id = await s.client.submit(request(o, 'grs').req);
        await s.client.result(id);
        const jt = await jobTimes(s.queue, id);
        newOwnerEvaluate.push(jt.finishedOn - jt.processedOn);
      } finally {
        o.dispose();
      }
    }
    return {
      keygen: stats(keygen),
      loadKeys: stats(loadKeys),
      uploadContext: stats(uploadContext),
      newOwnerEvaluate: stats(newOwnerEvaluate),
      bytes: { publicContext: keys.publicContext.length, secretKeyFile: keys.secretKeyFile.length },
      grs,
      mean,
    };
  } finally {
    owner.dispose();
  }
}

/** The seed GRS job request: the seed genotype encrypted for the seed model. */
export function grsRequest(owner: Owner): JobRequest {
  const enc = owner.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' });
  return {
    v: WIRE_VERSION,
    op: 'grs',
    contextId: owner.contextId,
    modelId: SEED_MODEL.id,
    samples: 1,
    scaleBits: enc.scaleBits,
    valueBits: enc.valueBits,
    ciphertexts: enc.ciphertexts,
  };
}
