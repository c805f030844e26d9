import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { matchVcf, type GenotypeMatch } from '../src/producer/genomics/match.js';
import { scoreSamples } from '../src/producer/genomics/score.js';
import type { Owner } from '../src/producer/crypto.js';
import { choosePacking, type Packing } from '../src/shared/layout.js';
import { type BenchStack, cpuByRole } from './stack.js';
import { log, now, rng, round } from './util.js';

export interface CohortResult {
  source: 'PGS000586 on 1000 Genomes' | 'synthetic';
  samples: number;
  variants: number;
  workers: number;
  /** The packing used: the owner's own choice (choosePacking) unless the bench forced one. */
  packing: Packing;
  forced: boolean;
  jobs: number;
  /** Encrypt, upload, evaluate, fetch, decrypt: `veil grs --all-samples` after the VCF is matched. */
  endToEndMs: number;
  samplesPerSecond: number;
  /** CPU ms of the worker processes (all threads) over the run. */
  workerCpuMs: number;
  productsPerCoreSecond: number;
  cpuMsByRole: Record<string, number>;
  /** Against PLINK 2's score_sum (real data) or a plaintext dot product (synthetic). */
  maxAbsError: number;
}

/** The real PGS data when it is there: VEIL_PGS_DATA, ../shared/data/pgs next to the repo, or /work/shared/data/pgs. */
export function pgsDataDir(): string | undefined {
  const candidates = [process.env.VEIL_PGS_DATA, resolve('..', 'shared', 'data', 'pgs'), '/work/shared/data/pgs'];
  return candidates.find((d): d is string => Boolean(d) && existsSync(resolve(d as string, 'PGS000586_GRCh38.vcf.gz')));
}

function table(file: string): Record<string, string>[] {
  const raw = readFileSync(file);
  const [header, ...lines] = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').trim().split('\n');
  const cols = (header as string).split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}

/** A cohort of the real one's size: random weights, hard-call dosages 0/1/2. */
function synthetic(samples: number, variants: number): { weights: number[]; match: GenotypeMatch; expected: Map<string, number> } {
  const rand = rng(586);
  const weights = Array.from({ length: variants }, () => (rand() - 0.5) * 0.2);
  const dosages = Array.from({ length: samples }, () => Float64Array.from({ length: variants }, () => Math.floor(rand() * 3)));
  const names = dosages.map((_, i) => `S${i}`);
  const expected = new Map(names.map((n, i) => [n, weights.reduce((a, w, j) => a + w * (dosages[i]![j] as number), 0)]));
  return {
    weights,
    expected,
    match: { samples: names, variantsUsed: variants, variantsMissing: 0, reasons: {}, records: variants, dosages: (s) => dosages[s] as Float64Array },
  };
}

/**
 * A 3,202 × 1,023 cohort scored the way `veil grs --all-samples` does, through a stack with
 * `workers` worker processes: real PGS000586 on the 1000 Genomes VCF when the data is present.
 */
export async function cohort(s: BenchStack, owner: Owner, force?: Packing): Promise<CohortResult> {
  const dir = pgsDataDir();
  let match: GenotypeMatch;
  let expected: Map<string, number>;
  let modelId: string;
  let source: CohortResult['source'];
  if (dir) {
    source = 'PGS000586 on 1000 Genomes';
    const info = await s.client.addModelFile(await readFile(resolve(dir, 'PGS000586_hmPOS_GRCh38.txt.gz')));
    modelId = info.modelId;
    const model = await s.client.getModel(modelId);
    match = await matchVcf({ variants: model.variantList, metadata: model.metadata }, createReadStream(resolve(dir, 'PGS000586_GRCh38.vcf.gz')));
    expected = new Map(table(resolve(dir, 'expected_scores.tsv')).map((r) => [r.sample_id as string, Number(r.score_sum)]));
  } else {
    source = 'synthetic';
    const syn = synthetic(3202, 1023);
    modelId = 'synthetic-cohort';
    await s.client.addModelJson({ id: modelId, name: 'synthetic cohort model', weights: syn.weights, bias: 0 });
    match = syn.match;
    expected = syn.expected;
  }
  const variants = (await s.client.getModelInfo(modelId)).variants;
  const packing = force ?? choosePacking(owner.preset, variants, match.samples.length);
  log(`cohort: ${source}, ${match.samples.length} samples × ${variants} variants, ${s.workerPids().length} workers, ${packing} packing`);
  const jobs0 = await s.queue.getJobCounts('completed');
  const cpu0 = cpuByRole();
  const t0 = now();
  const scores = await scoreSamples(s.client, owner, modelId, match, undefined, { packing });
  const endToEndMs = now() - t0;
  const cpu1 = cpuByRole();
  const cpuMsByRole = Object.fromEntries(Object.entries(cpu1).map(([role, ms]) => [role, round(ms - (cpu0[role] ?? 0), 0)]));
  let maxAbsError = scores.length === match.samples.length ? 0 : Infinity;
  for (const sc of scores) maxAbsError = Math.max(maxAbsError, Math.abs(sc.score - (expected.get(sc.sample) ?? NaN)));
  const workerCpuMs = cpuMsByRole.worker ?? NaN;
  const products = match.samples.length * variants;
  const out: CohortResult = {
    source,
    samples: match.samples.length,
    variants,
    workers: s.workerPids().length,
    packing,
    forced: force !== undefined,
    jobs: ((await s.queue.getJobCounts('completed')).completed ?? 0) - (jobs0.completed ?? 0),
    endToEndMs: round(endToEndMs, 0),
    samplesPerSecond: round(match.samples.length / (endToEndMs / 1000), 1),
    workerCpuMs,
    productsPerCoreSecond: Math.round(products / (workerCpuMs / 1000)),
    cpuMsByRole,
    maxAbsError: round(maxAbsError, 12),
  };
  log(
    `cohort (${packing}): ${out.samplesPerSecond} samples/s end to end, ${(out.productsPerCoreSecond / 1e6).toFixed(2)}M products per worker core-second, max |error| ${out.maxAbsError.toExponential(1)}`,
  );
  return out;
}
