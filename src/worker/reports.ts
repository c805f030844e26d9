import type { SandboxedJob } from 'bullmq';
import { makePlaintext } from '../shared/coeff.js';
import { loadCiphertext, type EvalContext } from '../shared/context.js';
import type { DatasetMeta } from '../shared/api-datasets.js';
import { READING_OPS } from '../shared/dataset.js';
import { DatasetStore, type GroupMeta } from '../server/datasets.js';
import { InvalidInputError } from '../shared/errors.js';
import { reportWindow, scheduledForOf, type JobReturn, type ReportJobData } from '../server/queue.js';
import { vectorLayout } from '../shared/layout.js';
import type { Link } from '../shared/model.js';
import { blockSumIndex, D_DIGIT_BITS, MAX_D_SECONDS, MAX_WINDOW_READINGS, type ReadingsEncoding } from '../shared/readings.js';
import { SealScope, type CipherText, type Seal } from '../shared/seal.js';
import type { Store } from '../server/store.js';
import { pack, WIRE_VERSION, type ReportInfo } from '../shared/wire.js';
import { evaluateLinear } from './evaluate.js';
import type { ModelLoader } from './models.js';
import { finishResult, FRESH_NOISE } from './privacy.js';
import { throttledProgress, type Progress } from './progress.js';

/**
 * Report jobs: a dataset's record groups in a time window, reduced on ciphertexts.
 *
 * readings (mean, variance, trend): A = Σ ct; for trend also B_hi = Σ (d_hi+1)·ct and
 * B_lo = Σ (d_lo+1)·ct (d = whole seconds since the window's first reading; the +1 keeps a
 * multiplier from ever being 0, the owner subtracts Σx back). Each is multiplied by
 * O = 1 + X + … + X^(b−1), which leaves every block's sum in the block's last coefficient; the
 * coefficients the op needs are kept and every other one is masked with uniform residues. Only
 * add and multiply_plain: no relinearization, no Galois keys, a fixed small noise cost.
 * genotypes (grs): every group is scored with the model's weights by evaluateLinear.
 */
export interface ReportDeps {
  seal: Seal;
  store: Store;
  models: ModelLoader;
  context(tenant: string, contextId: string): Promise<EvalContext>;
}

const COMPUTE_PCT = 95;

export async function runReport(job: SandboxedJob<ReportJobData, JobReturn>, deps: ReportDeps): Promise<JobReturn> {
  const data = job.data;
  const jobId = job.id;
  const ds = new DatasetStore(deps.store);
  const meta = await ds.get(data.tenant, data.dataset);
  const scheduledFor = scheduledForOf(jobId, data, job.timestamp);
  // A scheduled run is indexed when it starts (BullMQ made it, not the API); idempotent.
  if (data.schedule) await ds.indexReport(data.tenant, data.dataset, jobId, scheduledFor);
  const { since, until } = reportWindow(data, scheduledFor);
  const groups = await ds.groups(data.tenant, data.dataset, since, until);
  const ec = await deps.context(data.tenant, meta.contextId);
  // The computation is 0-95 %; 100 % once the result is stored. Packing and storing a cohort's
  // result takes seconds (hundreds of ciphertexts), and a bar at 100 % all that time looks hung.
  const progress = throttledProgress(job, COMPUTE_PCT);
  const base = {
    dataset: data.dataset,
    kind: meta.kind,
    op: data.report.op,
    since,
    until,
    scheduledFor,
    ...(data.schedule ? { schedule: data.schedule } : {}),
  };
  const out =
    meta.kind === 'readings'
      ? await readingsReport(deps, ds, ec, meta, data, groups, progress)
      : await genotypeReport(deps, ds, ec, meta, data, groups, progress);
  const bytes = pack({
    v: WIRE_VERSION,
    jobId,
    op: 'report',
    preset: ec.preset.id,
    length: out.length,
    samples: out.samples,
    ...(data.report.modelId ? { modelId: data.report.modelId } : {}),
    ...(out.link ? { link: out.link } : {}),
    scaleBits: out.scaleBits,
    ciphertexts: out.ciphertexts,
    report: { ...base, ...out.info } satisfies ReportInfo,
  });
  await deps.store.putResult(jobId, bytes);
  await job.updateProgress(100);
  return { resultBytes: bytes.length };
}

interface ReportOut {
  length: number;
  samples: number;
  scaleBits: number;
  ciphertexts: Uint8Array[];
  /** grs: the model's link, so the owner finishes scores without fetching the model. */
  link?: Link;
  info: Pick<ReportInfo, 'count'> & Partial<ReportInfo>;
}

async function groupInput(ds: DatasetStore, data: ReportJobData, g: GroupMeta, i: number): Promise<Uint8Array> {
  const bytes = await ds.groupCiphertext(data.tenant, data.dataset, g.seq, i);
  // Expired between listing and reading: a retry lists the window again without it.
  if (!bytes) throw new Error(`record group ${g.seq} expired during the report`);
  return bytes;
}

async function readingsReport(
  deps: ReportDeps,
  ds: DatasetStore,
  ec: EvalContext,
  meta: DatasetMeta,
  data: ReportJobData,
  groups: GroupMeta[],
  progress: Progress,
): Promise<ReportOut> {
  const op = data.report.op;
  if (!(READING_OPS as readonly string[]).includes(op))
    throw new InvalidInputError('invalid_op', `a readings dataset supports ${READING_OPS.join(', ')}, not ${op}`);
  const enc = meta.encoding as ReadingsEncoding;
  const count = groups.reduce((n, g) => n + g.count, 0);
  if (count === 0) throw new InvalidInputError('empty_window', `dataset '${data.dataset}' has no readings in the report's window`);
  if (op === 'variance' && count < 2) throw new InvalidInputError('too_few_readings', 'a sample variance needs at least 2 readings');
  if (count > MAX_WINDOW_READINGS)
    throw new InvalidInputError('window_too_large', `${count} readings exceed ${MAX_WINDOW_READINGS} per report; narrow the window`);
  // Times are public metadata: Σd and Σd² are computed here, exactly.
  const originSec = Math.floor((groups[0] as GroupMeta).at / 1000);
  const dOf = (g: GroupMeta) => Math.floor(g.at / 1000) - originSec;
  let sumD = 0n;
  let sumD2 = 0n;
  for (const g of groups) {
    const d = BigInt(dOf(g));
    sumD += BigInt(g.count) * d;
    sumD2 += BigInt(g.count) * d * d;
  }
  const trend = op === 'trend';
  if (trend && dOf(groups[groups.length - 1] as GroupMeta) > MAX_D_SECONDS)
    throw new InvalidInputError('window_too_large', 'a trend window spans at most 2^32 seconds');
  if (trend && BigInt(count) * sumD2 - sumD * sumD === 0n)
    throw new InvalidInputError('trend_undefined', 'every reading in the window has the same time; a slope needs two distinct times');

  const { seal } = deps;
  const ev = ec.evaluator;
  const n = ec.preset.polyModulusDegree;
  const scope = new SealScope();
  try {
    const accs = (trend ? [0, 1, 2] : [0]).map(() => scope.track(seal.CipherText()));
    const tmp = scope.track(seal.CipherText());
    // (digit + 1): never a zero multiplier, whose product SEAL would refuse as transparent.
    const digitsOf = (g: GroupMeta) => {
      const d = dOf(g);
      return trend ? [Math.floor(d / 2 ** D_DIGIT_BITS) + 1, (d % 2 ** D_DIGIT_BITS) + 1] : [];
    };
    // Σ of the multipliers each accumulator summed fresh ciphertexts with: its noise bound / FRESH_NOISE.
    const multiplierSums = accs.map((_, k) => groups.reduce((s, g) => s + (k === 0 ? 1 : (digitsOf(g)[k - 1] as number)) * g.ciphertexts, 0));
    const total = groups.reduce((s, g) => s + g.ciphertexts, 0);
    let done = 0;
    const constant = (v: number) => {
      const c = new BigUint64Array(n);
      c[0] = BigInt(v);
      return makePlaintext(seal, ec.ctx, c);
    };
    for (const g of groups) {
      const digitPlains = digitsOf(g).map(constant);
      try {
        for (let i = 0; i < g.ciphertexts; i++) {
          const ct = loadCiphertext(seal, ec, await groupInput(ds, data, g, i), `record ${g.seq}.${i}`);
          try {
            const first = done === 0;
            accumulate(ev, accs[0] as CipherText, ct, first);
            digitPlains.forEach((p, k) => {
              ev.multiplyPlain(ct, p, tmp);
              accumulate(ev, accs[k + 1] as CipherText, tmp, first);
            });
          } finally {
            ct.delete();
          }
          await progress(++done, total);
        }
      } finally {
        digitPlains.forEach((p) => p.delete());
      }
    }
    const ones = new BigUint64Array(n);
    ones.fill(1n, 0, enc.blockSize);
    const reduce = scope.track(makePlaintext(seal, ec.ctx, ones));
    const keptBlocks = [enc.xLimbs + (op === 'variance' ? enc.x2Limbs : 0), enc.xLimbs, enc.xLimbs];
    const ciphertexts = accs.map((acc, k) => {
      ev.multiplyPlain(acc, reduce, acc);
      const kept = Array.from({ length: keptBlocks[k] as number }, (_, j) => ({ index: blockSumIndex(enc, j), value: 0n }));
      // O has blockSize ones: the reduction multiplies the accumulated noise bound by blockSize.
      return finishResult(seal, ec, acc, kept, FRESH_NOISE * (multiplierSums[k] as number) * enc.blockSize);
    });
    return {
      length: 1,
      samples: 1,
      scaleBits: enc.scaleBits,
      ciphertexts,
      info: { count, origin: originSec * 1000, sumD: sumD.toString(), sumD2: sumD2.toString(), encoding: enc },
    };
  } finally {
    scope.dispose();
  }
}

function accumulate(ev: EvalContext['evaluator'], acc: CipherText, ct: CipherText, first: boolean): void {
  if (first) acc.copy(ct);
  else ev.add(acc, ct, acc);
}

async function genotypeReport(
  deps: ReportDeps,
  ds: DatasetStore,
  ec: EvalContext,
  meta: DatasetMeta,
  data: ReportJobData,
  groups: GroupMeta[],
  progress: Progress,
): Promise<ReportOut> {
  const { op, modelId, modelDigest } = data.report;
  if (op !== 'grs' || !modelId) throw new InvalidInputError('invalid_op', 'a genotype dataset supports op grs with a model');
  const { meta: model, weights, key } = await deps.models.load(data.tenant, modelId, modelDigest, 'report was requested; request it again');
  if (model.variants !== meta.variants)
    throw new InvalidInputError('model_mismatch', `model '${modelId}' has ${model.variants} variants; dataset '${data.dataset}' records have ${meta.variants}`);
  const count = groups.reduce((n, g) => n + g.count, 0);
  if (count === 0) throw new InvalidInputError('empty_window', `dataset '${data.dataset}' has no records in the report's window`);
  const total = groups.reduce((s, g) => s + g.ciphertexts, 0);
  let before = 0;
  const ciphertexts: Uint8Array[] = [];
  const infoGroups: NonNullable<ReportInfo['groups']> = [];
  for (const g of groups) {
    const res = await evaluateLinear(deps.seal, ec, {
      layout: vectorLayout(ec.preset, meta.variants, g.count),
      weights,
      weightsKey: key,
      bias: model.bias,
      scaleBits: g.scaleBits ?? 0,
      valueBits: g.valueBits ?? 0,
      input: (i) => groupInput(ds, data, g, i),
      onProgress: (done) => progress(before + done, total),
    });
    before += g.ciphertexts;
    ciphertexts.push(...res.ciphertexts);
    infoGroups.push({ samples: g.count, scaleBits: res.scaleBits, ids: g.ids ?? [] });
  }
  return {
    length: meta.variants,
    samples: count,
    scaleBits: infoGroups[0]?.scaleBits ?? 0,
    ciphertexts,
    link: model.link,
    info: { count, groups: infoGroups },
  };
}
