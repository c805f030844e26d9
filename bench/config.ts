import { DEFAULT_PRESET, PRESET_IDS, type PresetId } from '../src/shared/params.js';

/**
 * Benchmark sizes, from the environment. `BENCH_QUICK=1` is a ~1-minute smoke run; every size can
 * be overridden on its own (e.g. `BENCH_JOBS=500 npm run bench`).
 */
export const SECTIONS = ['seed', 'inprocess', 'method', 'throughput', 'owners', 'memory', 'cohort', 'lock', 'large'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchConfig {
  quick: boolean;
  presets: PresetId[];
  sections: Section[];
  /** Seed scenarios: timed runs per step (after one warm-up run). */
  runs: number;
  /** Key generations timed per preset. */
  keygenRuns: number;
  /** End-to-end throughput: seed GRS jobs per stack run, and how many are in flight at once. */
  jobs: number;
  inflight: number;
  /** Many owners: distinct key pairs (more than a worker's context cache of 8) × rounds of one job each. */
  owners: number;
  ownerRounds: number;
  /** Worker RSS is read after this many jobs (cumulative, on a fresh 1-worker stack). */
  memoryAt: number[];
  /** In-process evaluations (one core, no HTTP/Redis) for jobs/s and RSS before/after. */
  inprocess: number;
  /** Timed runs of the seed tutorial's CKKS method (seedMethodMs). */
  methodRuns: number;
  /** Lock-renewal check: model size, jobs, samples per job, the workers' JOB_LOCK_MS. */
  lockVariants: number;
  lockJobs: number;
  lockSamples: number;
  lockMs: number;
  lockPreset: PresetId;
  /** The large GRS through the stack. */
  largeVariants: number;
  /** Presets the large GRS runs on (CKKS uploads ~2x the bytes). */
  largePresets: PresetId[];
  out: string;
}

function int(name: string, dflt: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be a whole number ≥ ${min}, got '${raw}'`);
  return v;
}

function list<T extends string>(name: string, allowed: readonly T[], dflt: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return [...dflt];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const it of items) if (!(allowed as readonly string[]).includes(it)) throw new Error(`${name}: '${it}' is not one of ${allowed.join(', ')}`);
  return items as T[];
}

export function benchConfig(): BenchConfig {
  const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';
  const memoryRaw = process.env.BENCH_MEMORY_AT;
  const memoryAt = memoryRaw
    ? memoryRaw.split(',').map((s) => {
        const v = Number(s);
        if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_MEMORY_AT: '${s}' is not a positive whole number`);
        return v;
      })
    : quick
      ? [10, 30, 60]
      : [100, 500, 1000];
  memoryAt.sort((a, b) => a - b);
  const presets = list('BENCH_PRESETS', PRESET_IDS, PRESET_IDS);
  return {
    quick,
    presets,
    sections: list('BENCH_SECTIONS', SECTIONS, SECTIONS),
    runs: int('BENCH_RUNS', quick ? 3 : 20, 1),
    keygenRuns: int('BENCH_KEYGEN_RUNS', quick ? 2 : 20, 1),
    jobs: int('BENCH_JOBS', quick ? 30 : 200, 1),
    inflight: int('BENCH_INFLIGHT', 16, 1),
    owners: int('BENCH_OWNERS', quick ? 3 : 10, 1),
    ownerRounds: int('BENCH_OWNER_ROUNDS', 2, 1),
    memoryAt,
    inprocess: int('BENCH_INPROC', quick ? 60 : 2000, 1),
    methodRuns: int('BENCH_METHOD_RUNS', quick ? 30 : 200, 1),
    lockVariants: int('BENCH_LOCK_VARIANTS', quick ? 100_000 : 500_000, 1),
    lockJobs: int('BENCH_LOCK_JOBS', quick ? 2 : 6, 1),
    lockSamples: int('BENCH_LOCK_SAMPLES', quick ? 1 : 4, 1),
    lockMs: int('BENCH_LOCK_MS', 1000, 1000),
    lockPreset: list('BENCH_LOCK_PRESET', PRESET_IDS, [presets.includes(DEFAULT_PRESET) ? DEFAULT_PRESET : (presets[0] as PresetId)])[0] as PresetId,
    largeVariants: int('BENCH_LARGE_VARIANTS', quick ? 100_000 : 1_000_000, 1),
    largePresets: list('BENCH_LARGE_PRESETS', PRESET_IDS, presets),
    out: process.env.BENCH_OUT ?? 'bench/results/latest.json',
  };
}
