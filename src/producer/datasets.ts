import { centered } from '../shared/coeff.js';
import { VeilError } from '../shared/errors.js';
import { vectorLayout } from '../shared/layout.js';
import { blockSumIndex, D_DIGIT_BITS, encodeReadings, readingsEncoding, recombine, type ReadingsEncoding } from '../shared/readings.js';
import type { JobResult, ReportInfo } from '../shared/wire.js';
import type { CreateDataset, DatasetMeta } from '../shared/api-datasets.js';
import type { DatasetKind } from '../shared/dataset.js';
import { applyLink } from '../shared/model.js';
import type { VeilClient } from './client.js';
import type { Owner } from './crypto.js';

/**
 * The owner's side of datasets: encrypt records for appending, and finish reports. Finishing is
 * exact integer arithmetic (BigInt) on the decrypted sums, then one division each:
 *   mean     = Σx / n
 *   variance = (n·Σx² − (Σx)²) / (n·(n−1))             (sample variance)
 *   trend    = (n·Σdx − Σd·Σx) / (n·Σd² − (Σd)²) · 86400   (slope per day; d in seconds)
 * Σx, Σx², Σdx come from the ciphertexts; n, Σd, Σd² are public and come with the result.
 * These steps stay here because they need a product of two encrypted sums ((Σx)², Σd·Σx is
 * public × encrypted but shares the division) or a division, which BFV cannot do exactly.
 */
export interface ReadingsBatch {
  values: number[];
  /** Time of the readings (default: now). */
  at?: Date | number;
}

export interface GenotypeRecord {
  id: string;
  dosages: ArrayLike<number>;
}

const ms = (at: Date | number | undefined) => (at === undefined ? undefined : typeof at === 'number' ? at : at.getTime());

export async function createDataset(
  client: VeilClient,
  owner: Owner,
  name: string,
  opts: Omit<CreateDataset, 'name' | 'contextId'> = {},
): Promise<DatasetMeta> {
  const contextId = await client.uploadContext(owner.publicContext);
  return client.createDataset({ name, contextId, ...opts });
}

function checkDataset(owner: Owner, meta: DatasetMeta, kind: DatasetKind): void {
  if (meta.contextId !== owner.contextId)
    throw new VeilError(
      'key_mismatch',
      `dataset '${meta.dataset}' is bound to context ${meta.contextId.slice(0, 12)}…, these keys are ${owner.contextId.slice(0, 12)}…`,
    );
  if (meta.kind !== kind) throw new VeilError('wrong_kind', `dataset '${meta.dataset}' holds ${meta.kind}, not ${kind}`);
}

/** Encrypt and append readings: one record per batch (all its readings share its time). */
export async function appendReadings(
  client: VeilClient,
  owner: Owner,
  name: string,
  batches: ReadingsBatch[],
  opts: { idempotencyKey?: string } = {},
): Promise<{ dataset: string; records: number }> {
  const meta = await client.getDataset(name);
  checkDataset(owner, meta, 'readings');
  const enc = meta.encoding as ReadingsEncoding;
  const n = owner.preset.polyModulusDegree;
  const records = batches.map((b) => {
    if (b.values.length === 0) throw new VeilError('invalid_input', 'a record needs at least one reading');
    const at = ms(b.at);
    return { ...(at !== undefined ? { at } : {}), count: b.values.length, ciphertexts: owner.encryptIntegers(encodeReadings(enc, b.values, n)) };
  });
  return client.appendRecords(name, { v: 1, records }, opts.idempotencyKey);
}

/** Encrypt and append genotype records, packed `groupSize` records per stored group. */
export async function appendGenotypes(
  client: VeilClient,
  owner: Owner,
  name: string,
  records: GenotypeRecord[],
  opts: { at?: Date | number; groupSize?: number; idempotencyKey?: string } = {},
): Promise<{ dataset: string; records: number }> {
  const meta = await client.getDataset(name);
  checkDataset(owner, meta, 'genotypes');
  const size = opts.groupSize ?? records.length;
  const groups = [];
  for (let from = 0; from < records.length; from += size) {
    const part = records.slice(from, from + size);
    for (const r of part) {
      if (r.dosages.length !== meta.variants)
        throw new VeilError('wrong_length', `record ${r.id} has ${r.dosages.length} dosages; dataset '${name}' takes ${meta.variants}`);
    }
    const enc = owner.encryptVectors(
      part.map((r) => r.dosages),
      { purpose: 'dot' },
    );
    const at = ms(opts.at);
    groups.push({
      ...(at !== undefined ? { at } : {}),
      count: part.length,
      ids: part.map((r) => r.id),
      scaleBits: enc.scaleBits,
      valueBits: enc.valueBits,
      ciphertexts: enc.ciphertexts,
    });
  }
  return client.appendRecords(name, { v: 1, records: groups }, opts.idempotencyKey);
}

export interface ReadingsOutcome {
  jobId: string;
  dataset: string;
  op: 'mean' | 'variance' | 'trend';
  value: number;
  count: number;
  since: string | null;
  until: string;
  scheduledFor: string;
}

export interface GrsReportOutcome {
  jobId: string;
  dataset: string;
  op: 'grs';
  modelId: string;
  count: number;
  /** Cohort mean of the scores: averaged here from the decrypted per-record scores. */
  mean: number;
  scores: { recordId: string; score: number; probability?: number }[];
  since: string | null;
  until: string;
  scheduledFor: string;
}

export type ReportOutcome = ReadingsOutcome | GrsReportOutcome;

const isoOrNull = (v: number) => (v > 0 ? new Date(v).toISOString() : null);

/** Decrypt a report result and finish it (see the module comment for exactly what). */
export async function finishReport(client: VeilClient, owner: Owner, result: JobResult): Promise<ReportOutcome> {
  const info = result.report;
  if (!info) throw new VeilError('invalid_result', `job ${result.jobId} is not a report`);
  if (result.preset !== owner.preset.id) throw new VeilError('key_mismatch', `the report was made under ${result.preset}, these keys are ${owner.preset.id}`);
  const common = {
    jobId: result.jobId,
    dataset: info.dataset,
    since: isoOrNull(info.since),
    until: new Date(info.until).toISOString(),
    scheduledFor: new Date(info.scheduledFor).toISOString(),
  };
  if (info.kind === 'genotypes') return { ...common, ...(await finishGrs(client, owner, result, info)) };
  return { ...common, op: info.op as ReadingsOutcome['op'], value: finishReadings(owner, result, info), count: info.count };
}

/** Block sums of one result ciphertext, as signed integers. */
function blockSums(owner: Owner, bytes: Uint8Array, enc: ReadingsEncoding, blocks: number): bigint[] {
  const coeffs = owner.decryptRaw(bytes) as BigUint64Array;
  const t = owner.ec.plainModulus as bigint;
  return Array.from({ length: blocks }, (_, j) => centered(coeffs[blockSumIndex(enc, j)] as bigint, t));
}

function finishReadings(owner: Owner, result: JobResult, info: ReportInfo): number {
  const enc = info.encoding ?? readingsEncoding(owner.preset.polyModulusDegree);
  const n = BigInt(info.count);
  const scale = 1n << BigInt(enc.scaleBits);
  const a = blockSums(owner, result.ciphertexts[0] as Uint8Array, enc, enc.xLimbs + (info.op === 'variance' ? enc.x2Limbs : 0));
  const sx = recombine(enc, a, 0, enc.xLimbs);
  if (info.op === 'mean') return ratio(sx, n * scale);
  if (info.op === 'variance') return ratio(n * recombine(enc, a, enc.xLimbs, enc.x2Limbs) - sx * sx, n * (n - 1n) * scale * scale);
  // trend: the service multiplied by (digit + 1), so Σx comes off each sum.
  const hi = recombine(enc, blockSums(owner, result.ciphertexts[1] as Uint8Array, enc, enc.xLimbs), 0, enc.xLimbs) - sx;
  const lo = recombine(enc, blockSums(owner, result.ciphertexts[2] as Uint8Array, enc, enc.xLimbs), 0, enc.xLimbs) - sx;
  const sdx = (hi << BigInt(D_DIGIT_BITS)) + lo;
  const sd = BigInt(info.sumD ?? '0');
  const sdd = BigInt(info.sumD2 ?? '0');
  return ratio((n * sdx - sd * sx) * 86_400n, (n * sdd - sd * sd) * scale);
}

/** num/den as the nearest double, for integers of any size. */
function ratio(num: bigint, den: bigint): number {
  // Number() rounds a BigInt correctly; shift only what would overflow a double (> 2^1000).
  const shift = BigInt(Math.max(0, Math.max(num.toString(2).length, den.toString(2).length) - 1000));
  return Number(num >> shift) / Number(den >> shift);
}

async function finishGrs(
  client: VeilClient,
  owner: Owner,
  result: JobResult,
  info: ReportInfo,
): Promise<Omit<GrsReportOutcome, 'jobId' | 'dataset' | 'since' | 'until' | 'scheduledFor'>> {
  const modelId = result.modelId as string;
  // The result names the link; only one from an older worker sends the owner back for the model.
  const link = result.link ?? (await client.getModelInfo(modelId)).link;
  const scores: GrsReportOutcome['scores'] = [];
  let at = 0;
  for (const g of info.groups ?? []) {
    const layout = vectorLayout(owner.preset, result.length, g.samples);
    const part = { ...result, samples: g.samples, scaleBits: g.scaleBits, ciphertexts: result.ciphertexts.slice(at, at + layout.groups) };
    at += layout.groups;
    owner.decryptResult(part, layout).forEach((score, i) => {
      scores.push({ recordId: g.ids[i] ?? String(scores.length), score, ...applyLink(link, score) });
    });
  }
  const mean = scores.reduce((s, r) => s + r.score, 0) / Math.max(1, scores.length);
  return { op: 'grs', modelId, count: scores.length, mean, scores };
}
