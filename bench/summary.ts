import type { CohortResult } from './cohort.js';
import type { MethodResult } from './method.js';
import type { PresetResults } from './report.js';

/**
 * The figures issue 10 asks for, each measured in this run (null when its section did not run),
 * with the targets and the figures measured before the work on it.
 */
export interface Summary {
  preset: string;
  seedServerMs: number | null;
  seedMethodMs: number | null;
  seedMethodOverServer: number | null;
  /** Per job, made ahead of time between jobs (not in seedServerMs): the re-randomization mask. */
  seedMaskCpuMs: number | null;
  /** Wall-clock medians of the same (inflated by other processes on a shared machine). */
  seedServerWallMs: number | null;
  seedMethodWallMs: number | null;
  cohortProductsPerCoreSecond: number | null;
  cohortSamplesPerSecond: number | null;
  /** The same cohort forced into sample packing (the figures above are the owner's own choice). */
  cohortSampleProductsPerCoreSecond: number | null;
  cohortSampleSamplesPerSecond: number | null;
  pipelineEfficiency: number | null;
  apiCpuMsPerJob: number | null;
  /** The same with VALIDATE_CIPHERTEXTS=worker (SEAL's checks in the worker, which loads every input anyway). */
  apiCpuMsPerJobWorkerValidation: number | null;
  multiScoreSpeedup: number | null;
  /** Why a figure is null. */
  notes: Record<string, string>;
  /** 1-, 5- and 15-minute load averages at the start and the end of the run (2 cores: > 2 means shared). */
  loadAverage: { start: number[]; end: number[] };
}

type Figure = Exclude<keyof Summary, 'preset' | 'notes' | 'loadAverage' | 'seedServerWallMs' | 'seedMethodWallMs' | 'seedMaskCpuMs'>;

/** Targets of issue 10 ('≥' or '≤' a value) and the figures the issue and README gave before. */
export const TARGETS: Record<Figure, { cmp: '≥' | '≤'; value: number; before: string } | undefined> = {
  seedServerMs: { cmp: '≤', value: Number.NaN, before: '13.5 ms (issue, in-process); README 25.5 ms in the worker' },
  seedMethodMs: { cmp: '≥', value: Number.NaN, before: '11.7 ms (issue)' },
  seedMethodOverServer: { cmp: '≥', value: 5, before: '11.7 / 13.5 = 0.87' },
  cohortProductsPerCoreSecond: { cmp: '≥', value: 1e7, before: '~1.2e6' },
  cohortSamplesPerSecond: { cmp: '≥', value: 1000, before: '181' },
  cohortSampleProductsPerCoreSecond: { cmp: '≥', value: 1e7, before: '–' },
  cohortSampleSamplesPerSecond: { cmp: '≥', value: 1000, before: '–' },
  pipelineEfficiency: { cmp: '≥', value: 0.8, before: '0.52 (37.6 / 71.9 jobs/s, README)' },
  apiCpuMsPerJob: { cmp: '≤', value: 3, before: '10–12 ms' },
  apiCpuMsPerJobWorkerValidation: { cmp: '≤', value: 3, before: '–' },
  multiScoreSpeedup: { cmp: '≥', value: 1, before: 'not built' },
};

const r = (x: number | undefined, d = 3): number | null => (x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(d)));

export function summarize(preset: string, pr: PresetResults | undefined, method: MethodResult | undefined, loadAverage: Summary['loadAverage']): Summary {
  const cohort: CohortResult | undefined = pr?.cohort;
  const sample: CohortResult | undefined = pr?.cohortSample;
  const notes: Record<string, string> = {};
  // CPU-time medians: the machine is shared, and wall time counts other processes' turns.
  const server = pr?.inprocess?.serverCpuMs.median;
  const m = method?.methodCpuMs.median;
  const inproc = pr?.inprocess?.jobsPerSecond;
  const stack1 = pr?.throughput1?.jobsPerSecond;
  // API CPU under the heaviest load of the run: the 2-worker stack when it ran.
  const api = pr?.throughput2?.cpuMsPerJob.api ?? pr?.throughput1?.cpuMsPerJob.api;
  if (server === undefined) notes.seedServerMs = 'inprocess section not run';
  if (m === undefined) notes.seedMethodMs = 'method section not run';
  if (!cohort) notes.cohort = 'cohort section not run (or failed)';
  if (inproc === undefined || stack1 === undefined) notes.pipelineEfficiency = 'needs the inprocess and throughput sections';
  if (api === undefined) notes.apiCpuMsPerJob = 'needs the throughput section (API pid from /proc)';
  notes.multiScoreSpeedup = 'multi-score jobs (one upload, K models) are not built yet (issue 10 deliverable 2)';
  return {
    preset,
    seedServerMs: r(server),
    seedMethodMs: r(m),
    seedMethodOverServer: server && m ? r(m / server, 2) : null,
    seedMaskCpuMs: r(pr?.inprocess?.maskCpuMs.median),
    seedServerWallMs: r(pr?.inprocess?.serverMs.median),
    seedMethodWallMs: r(method?.methodMs.median),
    cohortProductsPerCoreSecond: cohort ? r(cohort.productsPerCoreSecond, 0) : null,
    cohortSamplesPerSecond: cohort ? r(cohort.samplesPerSecond, 1) : null,
    cohortSampleProductsPerCoreSecond: sample ? r(sample.productsPerCoreSecond, 0) : null,
    cohortSampleSamplesPerSecond: sample ? r(sample.samplesPerSecond, 1) : null,
    pipelineEfficiency: inproc && stack1 ? r(stack1 / inproc, 3) : null,
    apiCpuMsPerJob: r(api, 2),
    apiCpuMsPerJobWorkerValidation: r(pr?.throughputWorkerValidation?.cpuMsPerJob.api, 2),
    multiScoreSpeedup: null,
    notes,
    loadAverage,
  };
}

/** Lines for the report: each figure, its target, and the figure before. */
export function summaryRows(s: Summary): string[][] {
  return (Object.keys(TARGETS) as Figure[]).map((k) => {
    const v = s[k];
    const t = TARGETS[k];
    const target = t && Number.isFinite(t.value) ? `${t.cmp} ${t.value}` : '';
    const ok = v === null || !t || !Number.isFinite(t.value) ? '' : (t.cmp === '≥' ? v >= t.value : v <= t.value) ? 'met' : 'not met';
    const wall = k === 'seedServerMs' ? s.seedServerWallMs : k === 'seedMethodMs' ? s.seedMethodWallMs : undefined;
    const mask = k === 'seedServerMs' ? `; + ${s.seedMaskCpuMs ?? '–'} ms CPU per job for the mask made ahead between jobs` : '';
    const note =
      wall !== undefined ? `CPU-time median; wall ${wall ?? '–'} ms${mask}` : (s.notes[k] ?? (k.startsWith('cohort') ? s.notes.cohort : undefined) ?? '');
    return [k, v === null ? 'null' : String(v), target, ok, t?.before ?? '', note];
  });
}
