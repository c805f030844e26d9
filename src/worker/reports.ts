import type { SandboxedJob } from 'bullmq';
import { makePlaintext, randomResidues } from '../shared/coeff.js';
import { loadCiphertext, type EvalContext } from '../shared/context.js';
import type { DatasetMeta } from '../shared/api-datasets.js';
import { READING_OPS } from '../shared/dataset.js';
import { DatasetStore, type GroupMeta } from '../server/datasets.js';
import { InvalidInputError } from '../shared/errors.js';
import { reportWindow, scheduledForOf, type JobReturn, type ReportJobData } from '../server/queue.js';
import { vectorLayout } from '../shared/layout.js';
import type { Link } from '../shared/model.js';
import { getModelMeta, getModelWeights } from '../server/models.js';
import type { BfvCoeffPreset } from '../shared/params.js';
import { blockSumIndex, D_DIGIT_BITS, MAX_D_SECONDS, MAX_WINDOW_READINGS, type ReadingsEncoding } from '../shared/readings.js';
import { SealScope, type CipherText, type Seal } from '../shared/seal.js';
import type { Store } from '../server/store.js';
import { pack, WIRE_VERSION, type ReportInfo } from '../shared/wire.js';
import { evaluateLinear } from './evaluate.js';

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
  context(tenant: string, contextId: string): Promise<EvalContext>;
}

type Progress = (done: number, total: number) => Promise<void>;

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
  let lastPct = 0;
  const progress: Progress = async (done, total) => {
    const pct = Math.floor((COMPUTE_PCT * done) / total);
    if (pct - lastPct >= 5 || done === total) {
      lastPct = pct;
      await job.updateProgress(pct);
    }
  };
  const base = { dataset: data.dataset, kind: meta.kind, op: data.report.op, since, until, scheduledFor, ...(data.schedule ? { schedule: data.schedule } : {}) };
  const out = meta.kind === 'readings'
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

async function readingsReport(deps: ReportDeps, ds: DatasetStore, ec: EvalContext, meta: DatasetMeta, data: ReportJobData, groups: GroupMeta[], progress: Progress): Promise<ReportOut> {
  const op = data.report.op;
  if (!(READING_OPS as readonly string[]).includes(op)) throw new InvalidInputError('invalid_op', `a readings dataset supports ${READING_OPS.join(', ')}, not ${op}`);
  const enc = meta.encoding as ReadingsEncoding;
  const count = groups.reduce((n, g) => n + g.count, 0);
  if (count === 0) throw new InvalidInputError('empty_window', `dataset '${data.dataset}' has no readings in the report's window`);
  if (op === 'variance' && count < 2) throw new InvalidInputError('too_few_readings', 'a sample variance needs at least 2 readings');
  if (count > MAX_WINDOW_READINGS) throw new InvalidInputError('window_too_large', `${count} readings exceed ${MAX_WINDOW_READINGS} per report; narrow the window`);
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
  if (trend && dOf(groups[groups.length - 1] as GroupMeta) > MAX_D_SECONDS) throw new InvalidInputError('window_too_large', 'a trend window spans at most 2^32 seconds');
  if (trend && BigInt(count) * sumD2 - sumD * sumD === 0n) throw new InvalidInputError('trend_undefined', 'every reading in the window has the same time; a slope needs two distinct times');

  const { seal } = deps;
  const ev = ec.evaluator;
  const preset = ec.preset as BfvCoeffPreset;
  const n = preset.polyModulusDegree;
  const scope = new SealScope();
  try {
    const accs = (trend ? [0, 1, 2] : [0]).map(() => scope.track(seal.CipherText()));
    const tmp = scope.track(seal.CipherText());
    const total = groups.reduce((s, g) => s + g.ciphertexts, 0);
    let done = 0;
    const constant = (v: number) => {
      const c = new BigUint64Array(n);
      c[0] = BigInt(v);
      return makePlaintext(seal, ec.ctx, c);
    };
    for (const g of groups) {
      const d = dOf(g);
      // (digit + 1): never a zero multiplier, whose product SEAL would refuse as transparent.
      const digitPlains = trend ? [constant(Math.floor(d / 2 ** D_DIGIT_BITS) + 1), constant((d % 2 ** D_DIGIT_BITS) + 1)] : [];
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
      return maskAndSave(seal, ec, preset, scope, acc, enc, keptBlocks[k] as number);
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

/** Keep the sums of blocks 0 … blocks−1, mask every other coefficient, shrink, serialize. */
function maskAndSave(seal: Seal, ec: EvalContext, preset: BfvCoeffPreset, scope: SealScope, acc: CipherText, enc: ReadingsEncoding, blocks: number): Uint8Array {
  const mask = randomResidues(preset.polyModulusDegree, ec.plainModulus as bigint);
  for (let j = 0; j < blocks; j++) mask[blockSumIndex(enc, j)] = 0n;
  ec.evaluator.addPlain(acc, scope.track(makePlaintext(seal, ec.ctx, mask)), acc);
  for (let primes = 4; primes > preset.resultPrimes; primes--) ec.evaluator.cipherModSwitchToNext(acc, acc);
  return acc.saveArray(seal.ComprModeType.zstd);
}

async function genotypeReport(deps: ReportDeps, ds: DatasetStore, ec: EvalContext, meta: DatasetMeta, data: ReportJobData, groups: GroupMeta[], progress: Progress): Promise<ReportOut> {
  const { op, modelId, modelDigest } = data.report;
  if (op !== 'grs' || !modelId) throw new InvalidInputError('invalid_op', 'a genotype dataset supports op grs with a model');
  const model = await getModelMeta(deps.store, data.tenant, modelId);
  if (modelDigest && model.digest !== modelDigest) throw new InvalidInputError('model_changed', `model '${modelId}' was replaced after this report was requested; request it again`);
  if (model.variants !== meta.variants) throw new InvalidInputError('model_mismatch', `model '${modelId}' has ${model.variants} variants; dataset '${data.dataset}' records have ${meta.variants}`);
  const count = groups.reduce((n, g) => n + g.count, 0);
  if (count === 0) throw new InvalidInputError('empty_window', `dataset '${data.dataset}' has no records in the report's window`);
  const weights = await getModelWeights(deps.store, data.tenant, modelId);
  const total = groups.reduce((s, g) => s + g.ciphertexts, 0);
  let before = 0;
  const ciphertexts: Uint8Array[] = [];
  const infoGroups: NonNullable<ReportInfo['groups']> = [];
  for (const g of groups) {
    const res = await evaluateLinear(deps.seal, ec, {
      layout: vectorLayout(ec.preset, meta.variants, g.count),
      weights,
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
  return { length: meta.variants, samples: count, scaleBits: infoGroups[0]?.scaleBits ?? 0, ciphertexts, link: model.link, info: { count, groups: infoGroups } };
}
