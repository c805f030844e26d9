import { runFuzz } from './harness.js';

/**
 * `npm run fuzz`: hostile requests against a real local stack (see harness.ts). Environment:
 * FUZZ_REQUESTS (100000), FUZZ_SEED (random; printed), FUZZ_CONCURRENCY (8), FUZZ_SKIP / FUZZ_ONLY
 * (comma-separated family prefixes), FUZZ_API_RSS_MIB (1280), FUZZ_WORKER_RSS_MIB (1024),
 * FUZZ_HARD_CAP_MIB (3072), FUZZ_MAX_SECONDS (0: none), FUZZ_BOMB_MIB (1024), FUZZ_VERBOSE=1 for per-family status counts, FUZZ_LOGS=1 for the roles' logs, FUZZ_TRACE=1 for every request's outcome.
 */
const env = process.env;
const num = (name: string, fallback: number) => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`${name} must be a non-negative number, got '${v}'\n`);
    process.exit(2);
  }
  return n;
};
const list = (name: string) =>
  env[name]
    ? env[name]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

const report = await runFuzz({
  requests: num('FUZZ_REQUESTS', 100_000),
  seed: num('FUZZ_SEED', Math.floor(Math.random() * 2 ** 31)),
  concurrency: Math.max(1, num('FUZZ_CONCURRENCY', 8)),
  skip: list('FUZZ_SKIP'),
  only: list('FUZZ_ONLY'),
  apiRssMiB: num('FUZZ_API_RSS_MIB', 1280), // one upload at MAX_MODEL_VARIANTS (4M) holds ~700 MiB while it is parsed
  workerRssMiB: num('FUZZ_WORKER_RSS_MIB', 1024),
  hardCapMiB: num('FUZZ_HARD_CAP_MIB', 3072),
  healthzMs: num('FUZZ_HEALTHZ_MS', 1000),
  maxSeconds: num('FUZZ_MAX_SECONDS', 0),
  bombMiB: num('FUZZ_BOMB_MIB', 1024),
  scoringBombRows: num('FUZZ_SCORING_BOMB_ROWS', 30_000_000),
  roleLogs: env.FUZZ_LOGS === '1',
  trace: env.FUZZ_TRACE === '1',
  probe: env.FUZZ_PROBE === '1',
  log: (line) => process.stderr.write(`${line}\n`),
});
if (env.FUZZ_VERBOSE === '1') {
  for (const [family, stats] of [...report.byFamily].sort(([a], [b]) => a.localeCompare(b))) {
    const counts = [...stats].filter(([k]) => k !== 'ms');
    const n = counts.reduce((a, [, v]) => a + v, 0);
    process.stderr.write(`  ${family.padEnd(56)} ${counts.map(([k, v]) => `${k}:${v}`).join(' ')}  (mean ${((stats.get('ms') ?? 0) / n).toFixed(0)} ms)\n`);
  }
}
for (const v of report.violations) process.stderr.write(`VIOLATION ${v}\n`);
process.stdout.write(`${report.summary}\n`);
process.exit(report.violations.length ? 1 : 0);
