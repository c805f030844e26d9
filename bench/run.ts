/**
 * `npm run bench`: veil's benchmark suite. Prints tables on stdout (progress on stderr) and writes
 * bench/results/latest.json. Sizes come from the environment (bench/config.ts; BENCH_QUICK=1 for a
 * ~1-minute smoke run). Timings are measured, never asserted; the exit code is non-zero only when
 * a correctness check fails (decrypted values, relative error of the large GRS, stalled jobs).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { generateKeys, type Owner } from '../src/producer/crypto.js';
import { DEFAULT_PRESET, type PresetId } from '../src/shared/params.js';
import { SEED_MODEL } from '../src/stack/demo.js';
import { cohort } from './cohort.js';
import { benchConfig, type BenchConfig, type Section } from './config.js';
import { inProcess } from './inprocess.js';
import { largeGrs } from './large.js';
import { lockHealth } from './lock.js';
import { seedMethod } from './method.js';
import { manyOwners } from './owners.js';
import { render, type BenchResults, type Check, type PresetResults } from './report.js';
import { seedScenarios } from './seed.js';
import { benchStack, ownerFor, type BenchStack } from './stack.js';
import { summarize } from './summary.js';
import { throughput } from './throughput.js';
import { log } from './util.js';

type Keys = Awaited<ReturnType<typeof generateKeys>>;

/** A stack for one block of measurements, closed whatever happens. */
async function withStack<T>(workers: number, env: Record<string, string>, fn: (s: BenchStack) => Promise<T>): Promise<T> {
  const s = await benchStack(workers, env);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function withOwner<T>(s: BenchStack, keys: Keys, fn: (o: Owner) => Promise<T>): Promise<T> {
  const owner = await ownerFor(s.client, keys);
  try {
    return await fn(owner);
  } finally {
    owner.dispose();
  }
}

/** Errors of sections that failed: recorded, reported, and the run goes on with the next one. */
const errors: { section: string; message: string }[] = [];

async function guard<T>(section: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    errors.push({ section, message: message.split('\n')[0] as string });
    log(`${section} FAILED: ${message}`);
    return undefined;
  }
}

async function benchPreset(preset: PresetId, cfg: BenchConfig, on: (s: Section) => boolean): Promise<PresetResults> {
  const res: PresetResults = {};
  const keys = await generateKeys(preset);
  if (on('inprocess')) {
    log(`${preset}: in-process evaluation × ${cfg.inprocess}`);
    res.inprocess = await guard(`${preset} inprocess`, () => inProcess(preset, cfg.inprocess));
  }
  const withCohort = on('cohort') && preset === DEFAULT_PRESET;
  if (on('seed') || on('throughput') || on('owners') || withCohort) {
    await guard(`${preset} 2-worker stack`, () =>
      withStack(2, {}, async (s) => {
        if (on('seed')) res.seed = await guard(`${preset} seed`, () => seedScenarios(s, preset, cfg));
        if (on('throughput')) {
          res.throughput2 = await guard(`${preset} throughput 2 workers`, () =>
            withOwner(s, keys, async (owner) => {
              await s.client.addModelJson(SEED_MODEL);
              return throughput(s, owner, { jobs: cfg.jobs, inflight: cfg.inflight, label: `${preset} 2 workers` });
            }),
          );
        }
        if (on('owners')) res.owners = await guard(`${preset} owners`, () => manyOwners(s, preset, cfg.owners, cfg.ownerRounds, cfg.inflight));
        if (withCohort) {
          res.cohort = await guard(`${preset} cohort`, () => withOwner(s, keys, (owner) => cohort(s, owner)));
          // The same cohort forced into sample packing (one ciphertext per variant), whatever the owner would pick.
          res.cohortSample = await guard(`${preset} cohort, sample packing`, () => withOwner(s, keys, (owner) => cohort(s, owner, 'sample')));
        }
      }),
    );
  }
  const large = on('large') && cfg.largePresets.includes(preset);
  if (on('throughput') || on('memory') || large) {
    await guard(`${preset} 1-worker stack`, () =>
      withStack(1, {}, (s) =>
        withOwner(s, keys, async (owner) => {
          if (on('throughput') || on('memory')) {
            res.throughput1 = await guard(`${preset} throughput 1 worker`, async () => {
              await s.client.addModelJson(SEED_MODEL);
              return throughput(s, owner, {
                jobs: cfg.jobs,
                inflight: cfg.inflight,
                checkpoints: on('memory') ? cfg.memoryAt : [],
                label: `${preset} 1 worker`,
              });
            });
          }
          if (large) res.large = await guard(`${preset} large`, () => largeGrs(s, owner, cfg.largeVariants));
        }),
      ),
    );
  }
  // Where full ciphertext validation is cheapest: the same 1-worker run with SEAL's checks left to
  // the worker (which loads every input anyway) instead of the API's validation threads.
  if (on('throughput') && preset === DEFAULT_PRESET) {
    res.throughputWorkerValidation = await guard(`${preset} throughput 1 worker, VALIDATE_CIPHERTEXTS=worker`, () =>
      withStack(1, { VALIDATE_CIPHERTEXTS: 'worker' }, (s) =>
        withOwner(s, keys, async (owner) => {
          await s.client.addModelJson(SEED_MODEL);
          return throughput(s, owner, { jobs: cfg.jobs, inflight: cfg.inflight, label: `${preset} 1 worker, worker-side validation` });
        }),
      ),
    );
  }
  return res;
}

function checks(r: BenchResults): Check[] {
  const out: Check[] = [];
  const add = (name: string, value: number | undefined, limit: number) => {
    if (value === undefined) return;
    out.push({ name, value, limit, ok: Number.isFinite(value) && value <= limit });
  };
  for (const [p, pr] of Object.entries(r.presets)) {
    // The seed values to 1e-4 (CKKS is approximate); the large GRS to a relative 1e-6.
    add(`${p} seed GRS |score − (−0.03)|, |p − 0.49250|`, pr.seed?.grs.maxAbsError, 1e-4);
    add(`${p} seed mean |mean − 71.82857|`, pr.seed?.mean.maxAbsError, 1e-4);
    add(`${p} in-process GRS |score − (−0.03)|`, pr.inprocess?.maxAbsError, 1e-4);
    add(`${p} stack 1 worker GRS |score − (−0.03)|`, pr.throughput1?.maxAbsError, 1e-4);
    add(`${p} stack 2 workers GRS |score − (−0.03)|`, pr.throughput2?.maxAbsError, 1e-4);
    add(`${p} stack 1 worker (worker-side validation) GRS |score − (−0.03)|`, pr.throughputWorkerValidation?.maxAbsError, 1e-4);
    add(
      `${p} jobs restarted (stall/retry) in throughput runs`,
      pr.throughput1 || pr.throughput2
        ? (pr.throughput1?.retried ?? 0) + (pr.throughput2?.retried ?? 0) + (pr.throughputWorkerValidation?.retried ?? 0)
        : undefined,
      0,
    );
    add(`${p} large GRS relative error`, pr.large?.relativeError, 1e-6);
    add(`${p} cohort max |score − PLINK 2 / plaintext|`, pr.cohort?.maxAbsError, 1e-4);
    add(`${p} cohort, sample packing, max |score − PLINK 2 / plaintext|`, pr.cohortSample?.maxAbsError, 1e-4);
  }
  add('seed tutorial method |score − (−0.03)|', r.method?.maxAbsError, 1e-4);
  if (r.lock) {
    add('lock: stalled events + restarted jobs', r.lock.stalledEvents + r.lock.restartedJobs + r.lock.maxStalledCounter, 0);
    add("lock: 'failed' events", r.lock.failedEvents, 0);
    add('lock: GRS relative error', r.lock.maxRelativeError, 1e-6);
  }
  return out;
}

async function main(): Promise<number> {
  const cfg = benchConfig();
  const on = (s: Section) => cfg.sections.includes(s);
  const startedAt = new Date();
  const t0 = performance.now();
  const loadStart = loadavg().map((x) => Number(x.toFixed(2)));
  log(`presets ${cfg.presets.join(', ')}; sections ${cfg.sections.join(', ')}${cfg.quick ? ' (quick)' : ''}`);
  const results: BenchResults = {
    version: 1,
    startedAt: startedAt.toISOString(),
    durationSeconds: 0,
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? '?',
      memoryBytes: totalmem(),
      platform: `${process.platform}-${process.arch}`,
    },
    config: cfg,
    presets: {},
    checks: [],
    errors: [],
    ok: false,
  };
  if (on('method')) results.method = await guard('method', () => seedMethod(cfg.methodRuns));
  for (const preset of cfg.presets) results.presets[preset] = await benchPreset(preset, cfg, on);
  if (on('lock')) {
    results.lock = await guard('lock', async () => {
      const keys = await generateKeys(cfg.lockPreset);
      return withStack(1, { JOB_LOCK_MS: String(cfg.lockMs) }, (s) =>
        withOwner(s, keys, (owner) => lockHealth(s, owner, { variants: cfg.lockVariants, jobs: cfg.lockJobs, samples: cfg.lockSamples, lockMs: cfg.lockMs })),
      );
    });
  }
  results.durationSeconds = (performance.now() - t0) / 1000;
  const main = results.presets[DEFAULT_PRESET];
  results.summary = summarize(DEFAULT_PRESET, main, results.method, { start: loadStart, end: loadavg().map((x) => Number(x.toFixed(2))) });
  results.checks = checks(results);
  results.errors = errors;
  results.ok = results.checks.every((c) => c.ok) && errors.length === 0;
  await mkdir(dirname(cfg.out), { recursive: true });
  await writeFile(cfg.out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${render(results)}\n`);
  log(`wrote ${cfg.out}`);
  return results.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
