import type { BenchConfig } from './config.js';
import type { CohortResult } from './cohort.js';
import type { InProcessResult } from './inprocess.js';
import type { LargeResult } from './large.js';
import type { LockResult } from './lock.js';
import type { MethodResult } from './method.js';
import type { OwnersResult } from './owners.js';
import type { SeedResult } from './seed.js';
import { summaryRows, type Summary } from './summary.js';
import type { ThroughputResult } from './throughput.js';
import type { Stats } from './util.js';

export interface PresetResults {
  inprocess?: InProcessResult;
  seed?: SeedResult;
  throughput1?: ThroughputResult;
  throughput2?: ThroughputResult;
  /** 1 worker, VALIDATE_CIPHERTEXTS=worker (default preset only). */
  throughputWorkerValidation?: ThroughputResult;
  owners?: OwnersResult;
  large?: LargeResult;
  cohort?: CohortResult;
  cohortSample?: CohortResult;
}

export interface Check {
  name: string;
  ok: boolean;
  value: number;
  limit: number;
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  durationSeconds: number;
  machine: { node: string; cpus: number; cpuModel: string; memoryBytes: number; platform: string };
  config: BenchConfig;
  presets: Record<string, PresetResults>;
  lock?: LockResult;
  /** The seed tutorial's CKKS method in the same node-seal (preset-independent). */
  method?: MethodResult;
  /** Issue 10's figures, each measured in this run. */
  summary?: Summary;
  checks: Check[];
  /** Sections that threw (the run went on without them). */
  errors: { section: string; message: string }[];
  ok: boolean;
}

/** A plain text table: first column left-aligned, the rest right-aligned. */
export function table(title: string, head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c] as number) : v.padStart(widths[c] as number))).join('  ');
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [`\n${title}`, line(head), rule, ...cells.slice(1).map(line)].join('\n');
}

const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const med = (s: Stats | undefined) => (s ? ms(s.median) : '–');
const medRange = (s: Stats | undefined) => (s ? `${ms(s.median)} (${ms(s.p10)}–${ms(s.p90)})` : '–');
const bytes = (b: number | undefined) =>
  b === undefined || !Number.isFinite(b) ? '–' : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`;
const mibs = (b: number | undefined) => (b === undefined || !Number.isFinite(b) ? '–' : `${(b / 2 ** 20).toFixed(0)}`);
const cpu = (t: ThroughputResult | undefined) => (t ? ['worker', 'api', 'redis', 'bench'].map((role) => num(t.cpuMsPerJob[role], 1)).join(' / ') : '–');
const num = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

export function render(r: BenchResults): string {
  const presets = Object.keys(r.presets);
  const out: string[] = [];
  out.push(
    `veil benchmark — ${r.startedAt} — node ${r.machine.node}, ${r.machine.cpus} × ${r.machine.cpuModel}${r.config.quick ? ' — QUICK MODE (smoke sizes)' : ''} — ${r.durationSeconds.toFixed(0)} s`,
  );

  const seeded = presets.filter((p) => r.presets[p]?.seed);
  if (seeded.length) {
    const cols = seeded.flatMap((p) => [`${p} GRS`, `${p} mean`]);
    const stepRow = (label: string, key: keyof SeedResult['grs']['steps']) => [
      label,
      ...seeded.flatMap((p) => [medRange(r.presets[p]!.seed!.grs.steps[key]), medRange(r.presets[p]!.seed!.mean.steps[key])]),
    ];
    const once = (label: string, f: (s: SeedResult) => string) => [label, ...seeded.flatMap((p) => [f(r.presets[p]!.seed!), ''])];
    out.push(
      table(
        `1. Seed scenarios, per step: median (p10–p90) ms over ${r.config.runs} runs; 2-worker stack, one job at a time`,
        ['step', ...cols],
        [
          once(`keygen (${r.config.keygenRuns} runs)`, (s) => medRange(s.keygen)),
          once('load keys (Owner.fromBytes)', (s) => medRange(s.loadKeys)),
          once('upload public context', (s) => medRange(s.uploadContext)),
          stepRow('encrypt', 'encrypt'),
          stepRow('context re-upload (SDK does it per job)', 'contextReupload'),
          stepRow('submit (POST /v1/jobs)', 'submit'),
          stepRow('queue wait (created → processedOn)', 'queueWait'),
          stepRow('evaluate (processedOn → finishedOn)', 'evaluate'),
          once('  evaluate, first job of a new owner', (s) => medRange(s.newOwnerEvaluate)),
          stepRow('client wait (submit → result, long-poll)', 'resultWait'),
          stepRow('fetch result (GET, completed job)', 'fetch'),
          stepRow('decrypt + finish', 'decrypt'),
          stepRow('end to end (encrypt → decrypted)', 'endToEnd'),
          stepRow('end to end, SDK path (+ context re-upload)', 'endToEndSdk'),
          ['value decrypted', ...seeded.flatMap((p) => [num(r.presets[p]!.seed!.grs.value, 6), num(r.presets[p]!.seed!.mean.value, 6)])],
          [
            'max |error| vs expected',
            ...seeded.flatMap((p) => [r.presets[p]!.seed!.grs.maxAbsError.toExponential(1), r.presets[p]!.seed!.mean.maxAbsError.toExponential(1)]),
          ],
        ],
      ),
    );
    out.push(
      table(
        '   Sizes (bytes as sent: msgpack, zstd ciphertexts)',
        ['object', ...cols],
        [
          once('public context', (s) => bytes(s.bytes.publicContext)),
          once('secret key file (stays local)', (s) => bytes(s.bytes.secretKeyFile)),
          [
            'input ciphertext(s)',
            ...seeded.flatMap((p) => [r.presets[p]!.seed!.grs, r.presets[p]!.seed!.mean].map((x) => x.bytes.inputCiphertexts.map(bytes).join(' + '))),
          ],
          ['job request body', ...seeded.flatMap((p) => [bytes(r.presets[p]!.seed!.grs.bytes.requestBody), bytes(r.presets[p]!.seed!.mean.bytes.requestBody)])],
          ['result (msgpack)', ...seeded.flatMap((p) => [bytes(r.presets[p]!.seed!.grs.bytes.result), bytes(r.presets[p]!.seed!.mean.bytes.result)])],
          [
            'noise budget left (BFV, bits)',
            ...seeded.flatMap((p) => [num(r.presets[p]!.seed!.grs.noiseBudgetBits, 0), num(r.presets[p]!.seed!.mean.noiseBudgetBits, 0)]),
          ],
        ],
      ),
    );
  }

  const tp = presets.filter((p) => r.presets[p]?.throughput1 || r.presets[p]?.throughput2 || r.presets[p]?.inprocess || r.presets[p]?.owners);
  if (tp.length) {
    const t1 = (p: string) => r.presets[p]?.throughput1;
    const t2 = (p: string) => r.presets[p]?.throughput2;
    out.push(
      table(
        `2. Throughput, seed GRS jobs/s: ${r.config.jobs} pre-encrypted jobs, ${r.config.inflight} in flight, until all results are fetched`,
        ['', ...tp],
        [
          ['in-process evaluateLinear (1 core, no HTTP/Redis)', ...tp.map((p) => num(r.presets[p]?.inprocess?.jobsPerSecond))],
          ['  in-process evaluate ms, median', ...tp.map((p) => med(r.presets[p]?.inprocess?.evaluateMs))],
          ['  in-process worker compute ms per job (+ result message), median', ...tp.map((p) => med(r.presets[p]?.inprocess?.serverMs))],
          ['stack, 1 worker process', ...tp.map((p) => num(t1(p)?.jobsPerSecond))],
          ['stack, 2 worker processes', ...tp.map((p) => num(t2(p)?.jobsPerSecond))],
          ['  1 worker: evaluate ms median / latency ms median', ...tp.map((p) => `${med(t1(p)?.evaluate)} / ${med(t1(p)?.latency)}`)],
          ['  2 workers: evaluate ms median / latency ms median', ...tp.map((p) => `${med(t2(p)?.evaluate)} / ${med(t2(p)?.latency)}`)],
          ['  worker utilization, 1 / 2 workers', ...tp.map((p) => `${num(t1(p)?.workerUtilization, 2)} / ${num(t2(p)?.workerUtilization, 2)}`)],
          ['  CPU ms/job, 1 worker: worker / api / redis / bench client', ...tp.map((p) => cpu(t1(p)))],
          ['  CPU ms/job, 2 workers: workers / api / redis / bench client', ...tp.map((p) => cpu(t2(p)))],
          ['stack, 1 worker, VALIDATE_CIPHERTEXTS=worker: jobs/s', ...tp.map((p) => num(r.presets[p]?.throughputWorkerValidation?.jobsPerSecond))],
          ['  CPU ms/job: worker / api / redis / bench client', ...tp.map((p) => cpu(r.presets[p]?.throughputWorkerValidation))],
          [
            `many owners: ${r.config.owners} key pairs × ${r.config.ownerRounds} rounds, 2 workers`,
            ...tp.map((p) => num(r.presets[p]?.owners?.jobsPerSecond, 2)),
          ],
          ['  many owners: evaluate ms median (p10–p90)', ...tp.map((p) => medRange(r.presets[p]?.owners?.evaluate))],
          ['  jobs restarted (stall/retry), 1 / 2 workers', ...tp.map((p) => `${t1(p)?.retried ?? '–'} / ${t2(p)?.retried ?? '–'}`)],
        ],
      ),
    );
  }

  if (r.lock) {
    const l = r.lock;
    out.push(
      table(
        '3. Lock renewal under load (1 worker process)',
        ['', 'value'],
        [
          ['preset / JOB_LOCK_MS', `${l.preset} / ${l.lockMs}`],
          ['jobs × samples × variants', `${l.jobs} × ${l.samples} × ${l.variants}`],
          ['ciphertexts / upload per job', `${l.ciphertextsPerJob} / ${bytes(l.uploadBytesPerJob)}`],
          ['evaluate ms per job, median (p10–p90)', medRange(l.evaluate)],
          ['evaluate / lock duration', `${l.evaluateOverLock}×`],
          ['wall time, all jobs (ms)', ms(l.wallMs)],
          ["'stalled' events", l.stalledEvents],
          ['max job.stalledCounter', l.maxStalledCounter],
          ['jobs started more than once', l.restartedJobs],
          ["'failed' events", l.failedEvents],
          ['max relative error', l.maxRelativeError.toExponential(2)],
        ],
      ),
    );
  }

  const mem = presets.filter((p) => (r.presets[p]?.throughput1?.rss.length ?? 0) > 1 || r.presets[p]?.inprocess);
  if (mem.length) {
    const points = [...new Set(mem.flatMap((p) => (r.presets[p]?.throughput1?.rss ?? []).map((x) => x.jobs)))].sort((a, b) => a - b);
    const rssAt = (p: string, jobs: number) => r.presets[p]?.throughput1?.rss.find((x) => x.jobs === jobs)?.workers[0]?.rss;
    const growth = (p: string) => {
      const rss = r.presets[p]?.throughput1?.rss;
      if (!rss || rss.length < 3) return '–';
      const a = rss[1]!;
      const b = rss[rss.length - 1]!;
      const per1000 = (((b.workers[0]?.rss ?? NaN) - (a.workers[0]?.rss ?? NaN)) / (b.jobs - a.jobs)) * 1000;
      return `${(per1000 / 2 ** 20).toFixed(1)} MiB`;
    };
    const ip = (p: string) => r.presets[p]?.inprocess;
    out.push(
      table(
        '4. Memory: RSS MiB of the worker process (1-worker stack, seed GRS jobs) and of the bench process (in-process)',
        ['', ...mem],
        [
          ...points.map((j) => [j === 0 ? 'worker after warm-up' : `worker after ${j} jobs`, ...mem.map((p) => mibs(rssAt(p, j)))]),
          [`worker growth per 1000 jobs (${points[1] ?? '?'} → ${points[points.length - 1] ?? '?'})`, ...mem.map(growth)],
          ['worker peak RSS (VmHWM)', ...mem.map((p) => mibs(r.presets[p]?.throughput1?.rss.at(-1)?.workers[0]?.hwm))],
          ['API process after the run', ...mem.map((p) => mibs(r.presets[p]?.throughput1?.apiRss))],
          [`in-process: before ${r.config.inprocess} evaluations`, ...mem.map((p) => mibs(ip(p)?.rss.before))],
          ['in-process: half-way', ...mem.map((p) => mibs(ip(p)?.rss.half))],
          ['in-process: after', ...mem.map((p) => mibs(ip(p)?.rss.after))],
          ['in-process: growth per 1000 evaluations', ...mem.map((p) => (ip(p) ? `${(ip(p)!.rss.growthPerThousand / 2 ** 20).toFixed(1)} MiB` : '–'))],
        ],
      ),
    );
  }

  const lg = presets.filter((p) => r.presets[p]?.large);
  if (lg.length) {
    const L = (p: string) => r.presets[p]!.large!;
    out.push(
      table(
        `5. Large GRS through the stack (1 worker): ${r.config.largeVariants.toLocaleString('en-US')} variants, random weights, dosages 0/1/2`,
        ['', ...lg],
        [
          ['model upload (JSON) ms / size', ...lg.map((p) => `${ms(L(p).modelUploadMs)} / ${bytes(L(p).modelJsonBytes)}`)],
          ['ciphertexts', ...lg.map((p) => L(p).ciphertexts)],
          ['encrypt ms', ...lg.map((p) => ms(L(p).encryptMs))],
          ['bytes uploaded (job body)', ...lg.map((p) => bytes(L(p).uploadBytes))],
          ['submit ms (POST incl. upload + API checks)', ...lg.map((p) => ms(L(p).submitMs))],
          ['queue wait ms', ...lg.map((p) => ms(L(p).queueWaitMs))],
          ['server evaluate ms (first / weights cached)', ...lg.map((p) => `${ms(L(p).evaluateMs)} / ${ms(L(p).evaluateWarmMs)}`)],
          ['client wait ms (submit → result)', ...lg.map((p) => ms(L(p).resultWaitMs))],
          ['fetch result ms / bytes', ...lg.map((p) => `${ms(L(p).fetchMs)} / ${bytes(L(p).resultBytes)}`)],
          ['decrypt ms', ...lg.map((p) => ms(L(p).decryptMs))],
          ['total ms (encrypt → decrypted)', ...lg.map((p) => ms(L(p).totalMs))],
          ['score / plaintext sum', ...lg.map((p) => `${L(p).score.toFixed(6)} / ${L(p).expected.toFixed(6)}`)],
          ['relative error (must be ≤ 1e-6)', ...lg.map((p) => L(p).relativeError.toExponential(2))],
          ['noise budget left (BFV, bits)', ...lg.map((p) => num(L(p).noiseBudgetBits, 0))],
          ['worker RSS after (MiB) / API RSS', ...lg.map((p) => `${L(p).workerRss.map(mibs).join(',')} / ${mibs(L(p).apiRss)}`)],
        ],
      ),
    );
  }

  const co = presets.filter((p) => r.presets[p]?.cohort);
  if (co.length || r.method) {
    const rows: (string | number)[][] = co
      .flatMap((p) => [r.presets[p]!.cohort!, r.presets[p]!.cohortSample].flatMap((c) => (c ? [{ p, c }] : [])))
      .flatMap(({ p, c }) => [
        [
          `${p}: cohort (\`veil grs --all-samples\`), ${c.packing} packing${c.forced ? ' (forced)' : " (owner's choice)"}`,
          `${c.source}, ${c.samples} × ${c.variants}, ${c.workers} workers, ${c.jobs} jobs`,
        ],
        ['  end to end ms / samples per second', `${ms(c.endToEndMs)} / ${num(c.samplesPerSecond)}`],
        ['  worker CPU ms / products per worker core-second', `${ms(c.workerCpuMs)} / ${(c.productsPerCoreSecond / 1e6).toFixed(2)}M`],
        ['  CPU ms by process: worker / api / redis / bench client', ['worker', 'api', 'redis', 'bench'].map((k) => ms(c.cpuMsByRole[k])).join(' / ')],
        ['  max |score − reference|', c.maxAbsError.toExponential(1)],
      ]);
    if (r.method)
      rows.push(
        ['seed tutorial method (CKKS 8192, rotate-and-sum) ms, median (p10–p90)', medRange(r.method.methodMs)],
        ['  with input load + result save', medRange(r.method.methodWithIoMs)],
      );
    out.push(table("6. Cohort scoring and the seed tutorial's method", ['', 'value'], rows));
  }
  if (r.summary) {
    const s = r.summary;
    out.push(
      table(
        `Summary (issue 10), ${s.preset}; load average ${s.loadAverage.start.join(' ')} → ${s.loadAverage.end.join(' ')} on ${r.machine.cpus} cores`,
        ['figure', 'this run', 'target', '', 'before', 'note'],
        summaryRows(s),
      ),
    );
  }
  out.push(
    table(
      'Checks',
      ['check', 'value', 'limit', 'ok'],
      r.checks.map((c) => [c.name, c.value.toExponential(2), c.limit.toExponential(0), c.ok ? 'ok' : 'FAIL']),
    ),
  );
  for (const e of r.errors) out.push(`\nSECTION FAILED: ${e.section}: ${e.message}`);
  out.push(`\n${r.ok ? 'all checks passed' : 'SOME CHECKS FAILED'}\n`);
  return out.join('\n');
}
