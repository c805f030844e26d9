import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { Redis } from 'ioredis';
import { VeilClient } from '../../src/producer/client.js';
import { submitGrs, waitAndFinish, type GrsOutcome } from '../../src/producer/sdk.js';
import { spawnRedis, startLocalStack } from '../../src/stack/local.js';
import { send } from '../lib/http.js';
import { Monitor, type Watched } from '../lib/monitor.js';
import { childPidsWithRole } from '../lib/procs.js';
import { Rng } from '../lib/rng.js';
import { cryptoFamilies } from './cases-crypto.js';
import { makeMaterials, SEED_GENOTYPE, SEED_MODEL, SEED_SCORE, type Materials } from './materials.js';
import { webFamilies } from './cases-web.js';
import type { Family, Target } from './target.js';

export const FAMILIES: Family[] = [...cryptoFamilies, ...webFamilies];

export interface FuzzOptions {
  requests: number;
  seed: number;
  concurrency: number;
  /** Family names (or prefixes) left out of the mix: known failures a test must not trip on. */
  skip?: string[];
  only?: string[];
  apiRssMiB: number;
  workerRssMiB: number;
  /** Past this RSS the run stops early, so a bomb that works does not take the machine down. */
  hardCapMiB: number;
  healthzMs: number;
  /** Stop sending after this many seconds of requests (0: no limit); the summary says how many were sent. */
  maxSeconds?: number;
  bombMiB: number;
  scoringBombRows: number;
  /** Extra environment for the stack's roles (e.g. a lower MAX_MODEL_VARIANTS, so a short run's bomb exceeds it). */
  stackEnv?: Record<string, string>;
  /** Show the roles' logs (warnings and errors) on this process's stdout/stderr. */
  roleLogs?: boolean;
  /** Log every request's family and outcome, in order (with concurrency 1, to find what poisons a process). */
  trace?: boolean;
  /** After every request, send an honest job and log the first request after which it fails. */
  probe?: boolean;
  log?: (line: string) => void;
}

export interface FuzzReport {
  requests: number;
  byFamily: Map<string, Map<string, number>>;
  /** Human-readable violations, one per (family, kind, status). */
  violations: string[];
  deaths: string[];
  apiRssMax: number;
  workerRssMax: number;
  healthzP99: number;
  healthzMax: number;
  honestJob: string;
  seconds: number;
  /** Requests sent per second, set-up and the closing honest job excluded. */
  requestsPerSecond: number;
  summary: string;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const families = FAMILIES.filter((f) => (!opts.only || opts.only.some((p) => f.name.startsWith(p))) && !opts.skip?.some((p) => f.name.startsWith(p)));
  if (families.length === 0) throw new Error('no fuzz families left after FUZZ_ONLY/FUZZ_SKIP');
  const m = await makeMaterials({ bombMiB: opts.bombMiB, scoringBombRows: opts.scoringBombRows });
  // Admin-scoped tokens for two tenants; `tenant:token:admin` (see contract, VEIL_TOKENS).
  const fuzzSecret = randomBytes(32).toString('hex');
  const honestSecret = randomBytes(32).toString('hex');
  const redis = await spawnRedis();
  const stack = await startLocalStack({
    workers: 1,
    redisUrl: redis.url,
    logs: opts.roleLogs ? 'inherit' : 'ignore',
    env: { VEIL_TOKENS: `fuzz:${fuzzSecret}:admin,honest:${honestSecret}:admin`, LOG_LEVEL: 'warn', JOB_LOCK_MS: '5000', ...opts.stackEnv },
  });
  const violations = new Map<string, number>();
  const violate = (what: string) => violations.set(what, (violations.get(what) ?? 0) + 1);
  const byFamily = new Map<string, Map<string, number>>();
  let monitor: Monitor | undefined;
  let honestJob: string;
  let sent = 0;
  let requestSeconds: number;
  try {
    const token = await resolveToken(stack.apiUrl, fuzzSecret);
    const honestToken = await resolveToken(stack.apiUrl, honestSecret);
    const target = await setUpTarget(stack.apiUrl, token, honestToken, m);
    const watched: Watched[] = [
      ...childPidsWithRole('api').map((pid) => ({ name: 'api', pid, boundMiB: opts.apiRssMiB })),
      ...stack.workers.map((w, i) => ({ name: `worker${i}`, pid: w.pid as number, boundMiB: opts.workerRssMiB })),
      { name: 'scheduler', pid: stack.scheduler.pid as number, boundMiB: opts.workerRssMiB },
    ];
    if (!watched.some((w) => w.name === 'api')) throw new Error('could not find the API process under this one');
    monitor = new Monitor(watched, stack.apiUrl, opts.hardCapMiB);
    monitor.start();
    const rng = new Rng(opts.seed);
    const totalWeight = families.reduce((s, f) => s + f.weight, 0);
    const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
    // Every family once first (seeded order), so a short run covers the rare ones (bombs) too; then by weight.
    const firstPass = families
      .map((f) => ({ f, k: rng.next() }))
      .sort((a, b) => a.k - b.k)
      .map(({ f }) => f);
    const pickFamily = () => {
      const first = firstPass.shift();
      if (first) return first;
      let x = rng.next() * totalWeight;
      for (const f of families) if ((x -= f.weight) < 0) return f;
      return families.at(-1) as Family;
    };
    const probe = FAMILIES.find((f) => f.name === 'jobs/honest')!.make(new Rng(0), target);
    let poisonedAfter: string | undefined;
    const requestsStarted = performance.now();
    const wallStarted = Date.now();
    const stopAt = opts.maxSeconds ? requestsStarted + opts.maxSeconds * 1000 : Infinity;
    const worker = async () => {
      while (sent < opts.requests && performance.now() < stopAt && !monitor!.overHardCap && monitor!.deaths.size === 0) {
        const n = ++sent;
        const f = pickFamily();
        // Cases are drawn in order from one seeded stream: the same seed replays the same requests.
        const c = f.make(rng, target);
        const family = c.family || f.name;
        const t0 = performance.now();
        const r = await send(stack.apiUrl, c.req, { agent, timeoutMs: 60_000, keepBody: opts.trace });
        const ms = performance.now() - t0;
        const outcome = r.status !== undefined ? String(r.status) : c.req.raw ? 'no_response' : `error:${(r.error ?? '').slice(0, 40)}`;
        if (opts.trace)
          log(
            `#${n} +${((t0 - requestsStarted) / 1000).toFixed(1)} s ${family} ${c.req.method} ${c.req.path.slice(0, 60)} → ${outcome} ${errorCode(r.body)} ${ms.toFixed(0)} ms`,
          );
        if (opts.probe && !poisonedAfter) {
          const p = await send(stack.apiUrl, probe.req, { agent });
          if (p.status !== 202 && p.status !== 200) log(`PROBE: an honest job got ${p.status ?? p.error} right after #${n} ${family} (→ ${outcome})`);
          if (p.status !== 202 && p.status !== 200) poisonedAfter = `#${n} ${family}`;
        }
        const stats = byFamily.get(family) ?? new Map<string, number>();
        stats.set(outcome, (stats.get(outcome) ?? 0) + 1);
        stats.set('ms', (stats.get('ms') ?? 0) + ms); // total latency, for FUZZ_VERBOSE
        byFamily.set(family, stats);
        if (r.status !== undefined && r.status >= 500) violate(`${family}: HTTP ${r.status}`);
        if (c.mustReject && r.status !== undefined && r.status < 300) violate(`${family}: accepted (HTTP ${r.status}), must be refused`);
        if (r.status === undefined && !c.req.raw && /timeout/.test(r.error ?? '')) violate(`${family}: no answer within 60 s`);
        if (n % 5000 === 0) log(`fuzz: ${n}/${opts.requests} sent, api rss ${monitor!.maxRss('api').toFixed(0)} MiB`);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    requestSeconds = (performance.now() - requestsStarted) / 1000;
    for (const { at, ms } of monitor.slowHealth) log(`fuzz: /healthz took ${ms.toFixed(0)} ms, answered at +${((at - wallStarted) / 1000).toFixed(1)} s`);
    agent.destroy();
    if (monitor.overHardCap) violate(`run stopped after ${sent} requests: a process passed the hard cap of ${opts.hardCapMiB} MiB`);
    await new Promise((r) => setTimeout(r, 500));
    monitor.sample();
    honestJob = monitor.deaths.size
      ? 'skipped (a process died)'
      : await runHonestJob(stack.apiUrl, honestToken, m).catch((err: Error) => `FAILED (${err.message})`);
    const leaks = await secretKeyCopies(redis.url, m.secretKey);
    if (leaks > 0) violate(`redis: ${leaks} keys hold the secret key's bytes`);
  } finally {
    await monitor?.stop();
    await stack.close();
    await redis.close();
    m.owner.dispose();
  }
  for (const w of monitor?.overBound() ?? []) violate(`${w.name}: RSS ${monitor!.rssMax.get(w.name)!.toFixed(0)} MiB over the bound of ${w.boundMiB} MiB`);
  const deaths = [...(monitor?.deaths ?? [])];
  for (const d of deaths) violate(`${d}: process died`);
  const healthzP99 = monitor?.healthP99() ?? 0;
  const healthzMax = monitor?.healthMax() ?? 0;
  if (healthzMax >= opts.healthzMs) violate(`/healthz took ${healthzMax.toFixed(0)} ms (bound ${opts.healthzMs} ms)`);
  if (honestJob !== 'ok') violate(`honest job: ${honestJob}`);
  const fivexx = [...byFamily.values()].reduce((n, s) => n + [...s].filter(([k]) => /^5\d\d$/.test(k)).reduce((a, [, v]) => a + v, 0), 0);
  const seconds = (performance.now() - started) / 1000;
  const report: FuzzReport = {
    requests: sent,
    byFamily,
    violations: [...violations].map(([v, n]) => `${v} ×${n}`),
    deaths,
    apiRssMax: monitor?.maxRss('api') ?? 0,
    workerRssMax: monitor?.maxRss('worker') ?? 0,
    healthzP99,
    healthzMax,
    honestJob,
    seconds,
    requestsPerSecond: sent / Math.max(requestSeconds, 1e-3),
    summary: '',
  };
  report.summary =
    `fuzz: ${sent}${sent < opts.requests ? ` of ${opts.requests}` : ''} requests (seed ${opts.seed}, ${families.length} families, ${seconds.toFixed(0)} s; ${(sent / Math.max(requestSeconds, 1e-3)).toFixed(1)} req/s), ${fivexx} 5xx, ${report.violations.length} violation kinds, ` +
    `${deaths.length} deaths, api rss max ${report.apiRssMax.toFixed(0)} MiB, worker rss max ${report.workerRssMax.toFixed(0)} MiB, ` +
    `healthz p99 ${healthzP99.toFixed(0)} ms (max ${healthzMax.toFixed(0)} ms), honest job ${honestJob}`;
  return report;
}

/** The `error.code` of a JSON error body, for traces. */
function errorCode(body: Buffer | undefined): string {
  try {
    return (JSON.parse(body?.toString('utf8') ?? '') as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    return '';
  }
}

/**
 * The bearer string for a `tenant:SECRET:admin` entry: `SECRET` where the API knows scopes, the
 * whole `SECRET:admin` where it reads everything after the tenant as the token.
 */
async function resolveToken(apiUrl: string, secret: string): Promise<string> {
  for (const candidate of [secret, `${secret}:admin`]) {
    const r = await send(apiUrl, { method: 'GET', path: '/v1/models', headers: { authorization: `Bearer ${candidate}` } });
    if (r.status === 200) return candidate;
  }
  throw new Error('neither token form is accepted by the API');
}

/** The fuzzer's own tenant: a context, the seed model, one real job and a dataset to aim at. */
async function setUpTarget(apiUrl: string, token: string, otherToken: string, m: Materials): Promise<Target> {
  const client = new VeilClient({ server: apiUrl, token });
  const contextId = await client.uploadContext(m.publicContext);
  await client.addModelJson(SEED_MODEL);
  const jobId = await submitGrs(client, m.owner, SEED_MODEL.id, [SEED_GENOTYPE]);
  const dataset = 'fuzzds';
  await client.createDataset({ name: dataset, contextId, kind: 'readings' });
  return { token, otherToken, contextId, modelId: SEED_MODEL.id, jobId, dataset, m };
}

/** After the storm: a fresh tenant's seed GRS job must come back with score −0.03. */
async function runHonestJob(apiUrl: string, token: string, m: Materials): Promise<string> {
  const client = new VeilClient({ server: apiUrl, token });
  await client.addModelJson(SEED_MODEL);
  const jobId = await submitGrs(client, m.owner, SEED_MODEL.id, [SEED_GENOTYPE]);
  const [out] = (await waitAndFinish(client, m.owner, jobId)) as GrsOutcome[];
  if (!out || Math.abs(out.score - SEED_SCORE) > 1e-6) return `FAILED (score ${out?.score}, expected ${SEED_SCORE})`;
  return 'ok';
}

/** How many Redis keys hold the secret key's serialization anywhere in their value. */
async function secretKeyCopies(redisUrl: string, secretKey: Buffer): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  // A 64-byte window of the key is enough to find it and cannot occur by chance.
  const needle = secretKey.subarray(secretKey.length - 64);
  let found = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const values: Buffer[] =
          type === 'string'
            ? [(await redis.getBuffer(key)) ?? Buffer.alloc(0)]
            : type === 'hash'
              ? Object.values(await redis.hgetallBuffer(key))
              : type === 'list'
                ? await redis.lrangeBuffer(key, 0, -1)
                : [];
        if (values.some((v) => v.includes(needle))) found++;
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return found;
}
