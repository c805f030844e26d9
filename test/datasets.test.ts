import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VeilClient } from '../src/producer/client.js';
import type { Owner } from '../src/producer/crypto.js';
import { appendGenotypes, appendReadings, createDataset, finishReport, type GrsReportOutcome, type ReadingsOutcome } from '../src/producer/datasets.js';
import { loadOwner } from '../src/producer/sdk.js';
import { CLI_PATH } from '../src/stack/local.js';
import type { ReportRequest } from '../src/shared/api-datasets.js';
import { appendGroups } from '../src/server/append.js';
import { DatasetStore } from '../src/server/datasets.js';
import { encodeReadings, LIMB_BITS } from '../src/shared/readings.js';
import { Store } from '../src/server/store.js';
import { alive, datasetsStack, plainStats, relErr, sleep, stopRole, TOKENS, until, type DatasetsStack } from './helpers/datasets-stack.js';
import { writeTestKeys } from './helpers/stack.js';

const run = promisify(execFile);
const DAY = 86_400_000;

/** Datasets, reports and schedules through the real stack: API, Redis, BullMQ, worker processes. */
describe('datasets: append, reports, schedules', () => {
  let stack: DatasetsStack;
  let client: VeilClient;
  let other: VeilClient;
  let owner: Owner;
  let keyDir: string;
  // 30 days, 3 readings a day at whole seconds, with a trend and noise that is not dyadic.
  const start = Date.UTC(2025, 0, 1, 6, 0, 0);
  const rows: { at: number; value: number }[] = [];
  for (let day = 0; day < 30; day++) {
    for (const h of [0, 7, 13]) {
      const at = start + day * DAY + h * 3_600_000 + Math.floor(Math.random() * 3000) * 1000;
      rows.push({ at, value: 62 + 0.07 * day + Math.round(Math.random() * 1000) / 97 });
    }
  }

  async function report(name: string, body: ReportRequest) {
    const jobId = await client.requestReport(name, body);
    return finishReport(client, owner, await client.result(jobId, { timeoutMs: 60_000 }));
  }

  /** Scheduler processes connected to the stack's Redis (each names its connection). */
  const schedulersConnected = async () => ((await stack.redis.client('LIST')) as string).split('\n').filter((l) => / name=veil-scheduler /.test(l)).length;

  beforeAll(async () => {
    keyDir = await mkdtemp(join(tmpdir(), 'veil-ds-keys-'));
    // Keys are made while the stack's processes start.
    [stack] = await Promise.all([datasetsStack(), writeTestKeys(keyDir)]);
    client = new VeilClient({ server: stack.apiUrl, token: TOKENS.a });
    other = new VeilClient({ server: stack.apiUrl, token: TOKENS.b });
    owner = await loadOwner(keyDir);
    await createDataset(client, owner, 'hr', { retentionDays: 3650 });
    // One record per reading time, appended as the app would each day (here: one request per day).
    await Promise.all(
      Array.from({ length: 30 }, (_, day) =>
        appendReadings(
          client,
          owner,
          'hr',
          rows.slice(day * 3, day * 3 + 3).map((r) => ({ at: r.at, values: [r.value] })),
        ),
      ),
    );
  });
  afterAll(async () => {
    owner?.dispose();
    await stack?.close();
    await rm(keyDir, { recursive: true, force: true });
  });

  it('reports mean, variance and trend of 30 days on demand, equal to plaintext (rel ≤ 1e-6)', async () => {
    const want = plainStats(rows);
    const since = new Date(start + 20 * DAY).toISOString();
    // The four reports run side by side on the two workers.
    const ops = ['mean', 'variance', 'trend'] as const;
    const [all, got] = await Promise.all([
      Promise.all(ops.map(async (op) => (await report('hr', { op })) as ReadingsOutcome)),
      report('hr', { op: 'trend', since }) as Promise<ReadingsOutcome>,
    ]);
    ops.forEach((op, i) => {
      expect(all[i]!.count).toBe(90);
      expect(relErr(all[i]!.value, want[op]), `${op}: ${all[i]!.value} vs ${want[op]}`).toBeLessThanOrEqual(1e-6);
    });
    // A window: the last 10 days only.
    const w = plainStats(rows.filter((r) => r.at >= start + 20 * DAY));
    expect(got.count).toBe(30);
    expect(relErr(got.value, w.trend)).toBeLessThanOrEqual(1e-6);
  });

  it('masks every coefficient of a report but the sums', async () => {
    const jobId = await client.requestReport('hr', { op: 'variance' });
    const result = await client.result(jobId, { timeoutMs: 60_000 });
    // (No noise budget to read: off the kept sums the phase is uniform mod q, see docs/circuit-privacy.md.)
    const coeffs = owner.decryptRaw(result.ciphertexts[0]!) as BigUint64Array;
    const small = [...coeffs].filter((c) => c < 2n ** 40n).length; // kept sums are small; masks uniform mod t
    expect(small).toBeLessThanOrEqual(result.report!.encoding!.xLimbs + result.report!.encoding!.x2Limbs + 2);
  });

  it('runs a schedule with two scheduler processes: exactly one report per slot, each correct', async () => {
    const second = stack.spawnRole('scheduler');
    await until('the second scheduler to connect', async () => (await schedulersConnected()) === 2, 30_000, 50);
    const s = await client.putSchedule('hr', 'every2s', { op: 'mean', cron: '*/2 * * * * *', tz: 'Europe/Berlin' });
    expect(s.next).toBeTruthy();
    const scheduledList = async () => (await client.listReports('hr')).filter((r) => r.schedule === 'every2s');
    // Three slots with both schedulers running, then no more.
    await until('three scheduled reports', async () => (await scheduledList()).length >= 3, 60_000, 50);
    await client.deleteSchedule('hr', 'every2s');
    const scheduled = await until('scheduled reports to finish', async () => {
      const list = await scheduledList();
      return list.length >= 3 && list.every((r) => r.status === 'completed') && list;
    });
    second.kill('SIGTERM');
    const slots = scheduled.map((r) => Date.parse(r.scheduledFor)).sort((a, b) => a - b);
    expect(new Set(slots).size).toBe(slots.length);
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(2000);
    // BullMQ holds exactly these jobs for the scheduler: no second job for any slot.
    const keys = await stack.redis.keys(`${stack.prefix}:bull:jobs:repeat:${s.schedulerId}:*`);
    const jobSlots = keys.map((k) => Number(k.split(':').pop())).filter((m) => slots.includes(m));
    expect(jobSlots.length).toBe(slots.length);
    const want = plainStats(rows);
    for (const r of scheduled.slice(0, 2)) {
      const got = (await finishReport(client, owner, await client.result(r.jobId))) as ReadingsOutcome;
      expect(got.scheduledFor).toBe(r.scheduledFor);
      expect(relErr(got.value, want.mean)).toBeLessThanOrEqual(1e-6);
    }
  }, 90_000);

  it('completes a report once when its worker is SIGKILLed mid-run', async () => {
    const jobId = await client.requestReport('hr', { op: 'trend' });
    const victim = await until(
      'the report to start',
      async () => {
        const job = await stack.queue.getJob(jobId);
        return (await job?.getState()) === 'active' && job?.processedBy ? job.processedBy : undefined;
      },
      30_000,
      10,
    );
    const pid = Number(/(\d+)$/.exec(victim)![1]);
    const child = stack.workers.find((w) => w.pid === pid);
    expect(child).toBeDefined();
    child!.kill('SIGKILL');
    stack.addWorker();
    const got = (await finishReport(client, owner, await client.result(jobId, { timeoutMs: 60_000 }))) as ReadingsOutcome;
    expect(relErr(got.value, plainStats(rows).trend)).toBeLessThanOrEqual(1e-6);
    const job = await stack.queue.getJob(jobId);
    expect(await job!.getState()).toBe('completed');
    expect(job!.attemptsStarted).toBeGreaterThanOrEqual(2); // it really was cut off mid-run
    expect((await client.listReports('hr')).filter((r) => r.jobId === jobId)).toHaveLength(1);
  });

  it('makes one report for the runs missed while every worker and scheduler was down, then one per slot', async () => {
    await createDataset(client, owner, 'outage', { retentionDays: 3650 });
    await appendReadings(client, owner, 'outage', [{ at: start, values: [60.5, 62.25] }]);
    const s = await client.putSchedule('outage', 'every2s', { op: 'mean', cron: '*/2 * * * * *', tz: 'UTC' });
    const listed = async () => (await client.listReports('outage')).map((r) => ({ ...r, slot: Date.parse(r.scheduledFor) })).sort((a, b) => a.slot - b.slot);
    await until('a first scheduled report', async () => (await listed()).some((r) => r.status === 'completed'), 20_000, 50);
    // The outage: every worker and scheduler process gets SIGTERM, drains and exits.
    const t0 = Date.now();
    await Promise.all([...stack.workers, stack.scheduler, ...stack.extra].filter(alive).map((c) => stopRole(c)));
    const stoppedMs = Date.now() - t0;
    const before = await listed();
    const lastBefore = Math.max(...before.map((r) => r.slot));
    // The slot BullMQ holds a job for: lastBefore + 2 s, or later if the last run started late
    // (BullMQ plans the next slot after the time a run starts).
    const pending = (await stack.queue.getJobScheduler(s.schedulerId))!.next!;
    expect(pending).toBeGreaterThan(lastBefore);
    await sleep(5000); // 2-3 slots pass with nothing running
    const upAt = Date.now();
    // The pending slot and at least one more passed while down: one report for them is a real merge.
    expect(upAt - pending).toBeGreaterThan(2000);
    stack.addWorker();
    stack.addWorker();
    stack.spawnRole('scheduler');
    // Two slots after the restart have run, then the schedule goes.
    await until(
      'two reports after the restart',
      async () => (await listed()).filter((r) => r.slot >= upAt && r.status === 'completed').length >= 2,
      30_000,
      50,
    );
    await client.deleteSchedule('outage', 'every2s');
    const all = await until(
      'the reports to finish',
      async () => {
        const l = await listed();
        return l.every((r) => r.status === 'completed') && l;
      },
      20_000,
      50,
    );
    const after = all.filter((r) => r.slot > lastBefore);
    const missed = after.filter((r) => r.slot < upAt);
    const resumed = after.filter((r) => r.slot >= upAt);
    // Exactly one report stands for the outage (not zero, not one per missed slot)…
    const why = JSON.stringify({ lastBefore, pending, upAt, stoppedMs, before, after });
    expect(missed, why).toHaveLength(1);
    expect(missed[0]!.slot, why).toBe(pending); // …the slot that was pending when everything stopped
    // …and the schedule goes on from the next slot after the restart, one report per slot.
    expect(resumed.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < resumed.length; i++) {
      const gap = resumed[i]!.slot - resumed[i - 1]!.slot;
      // A slot is skipped only when it had passed before the previous run started (BullMQ plans
      // the next slot after that start, as a loaded machine shows): none is replayed or doubled.
      if (gap !== 2000) {
        const startedAt = (await stack.queue.getJob(resumed[i - 1]!.jobId))!.processedOn!;
        expect(gap % 2000, why).toBe(0);
        expect(resumed[i]!.slot - 2000, why).toBeLessThanOrEqual(startedAt + 50);
      }
    }
    // It resumes at the first slot after the missed run started (no replay), however long the
    // restarted workers took to load SEAL.
    const missedStart = (await stack.queue.getJob(missed[0]!.jobId))!.processedOn!;
    expect(resumed[0]!.slot, why).toBeGreaterThan(missedStart - 50);
    expect(resumed[0]!.slot - 2000, why).toBeLessThanOrEqual(missedStart + 50);
    // BullMQ holds one job for the outage too, not one per missed slot.
    const keys = await stack.redis.keys(`${stack.prefix}:bull:jobs:repeat:${s.schedulerId}:*`);
    expect(keys.map((k) => Number(k.split(':').pop())).filter((m) => m > lastBefore && m < upAt)).toEqual([missed[0]!.slot]);
    const got = (await finishReport(client, owner, await client.result(missed[0]!.jobId))) as ReadingsOutcome;
    expect(got).toMatchObject({ count: 2, scheduledFor: missed[0]!.scheduledFor });
    expect(relErr(got.value, 61.375)).toBeLessThan(1e-9);
  }, 60_000);

  it('stores an append all or nothing, and each group once when it is retried with its Idempotency-Key', async () => {
    await createDataset(client, owner, 'atomic', { retentionDays: 30 });
    const groups = () => stack.redis.zcard(`${stack.prefix}:ds:a:atomic:idx`);
    const now = Date.now();
    // One bad record refuses the whole append: the good one before it is not stored either.
    await expect(
      appendReadings(
        client,
        owner,
        'atomic',
        [
          { at: now - 3_600_000, values: [70] },
          { at: now - 40 * DAY, values: [71] },
        ],
        { idempotencyKey: 'k1' },
      ),
    ).rejects.toMatchObject({ status: 422, code: 'outside_retention' });
    expect(await groups()).toBe(0);

    // The API's view of Redis, with the publish step failing: before it runs (the process died
    // after writing the ciphertexts) or after it ran (the reply was lost).
    const dsStore = (evalFails: 'before' | 'after') => {
      const redis = new Proxy(stack.redis, {
        get(target, key) {
          if (key === 'eval') {
            return async (...args: Parameters<Redis['eval']>) => {
              if (evalFails === 'after') await target.eval(...args);
              throw new Error('connection lost');
            };
          }
          const v = Reflect.get(target, key, target) as unknown;
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      return new DatasetStore(new Store(redis, stack.prefix, 3600));
    };
    const meta = await dsStore('before').get('a', 'atomic');
    const batches = [
      { at: now - 7_200_000, values: [60, 61.5] },
      { at: now - 3_600_000, values: [62] },
    ];
    const pending = () =>
      batches.map((b) => ({
        group: { at: b.at, count: b.values.length, ciphertexts: 1 },
        ciphertexts: owner.encryptVectors(
          encodeReadings(meta.encoding!, b.values, 8192).map((v) => v.map(Number)),
          { purpose: 'sum', scaleBits: 0, maxAbs: 2 ** LIMB_BITS },
        ).ciphertexts,
      }));
    await expect(appendGroups(dsStore('before'), 'a', meta, pending(), { idempotencyKey: 'k2' })).rejects.toThrow('connection lost');
    expect(await groups()).toBe(0); // written, never published
    expect(await appendReadings(client, owner, 'atomic', batches, { idempotencyKey: 'k2' })).toEqual({ dataset: 'atomic', records: 3, groups: 2 });
    expect(await groups()).toBe(2);

    await expect(appendGroups(dsStore('after'), 'a', meta, pending(), { idempotencyKey: 'k3' })).rejects.toThrow('connection lost');
    expect(await groups()).toBe(4); // published; the client never heard
    expect(await appendReadings(client, owner, 'atomic', batches, { idempotencyKey: 'k3' })).toEqual({
      dataset: 'atomic',
      records: 3,
      groups: 2,
      duplicate: true,
    });
    expect(await groups()).toBe(4);
    const got = (await report('atomic', { op: 'mean' })) as ReadingsOutcome;
    expect(got.count).toBe(6); // each reading once per append, none twice
    expect(relErr(got.value, (60 + 61.5 + 62) / 3)).toBeLessThan(1e-9);
  });

  it('refuses a genotype record id already in the dataset (409 duplicate_record_id), storing nothing', async () => {
    await createDataset(client, owner, 'ids', { kind: 'genotypes', variants: 3 });
    const groups = () => stack.redis.zcard(`${stack.prefix}:ds:a:ids:idx`);
    const rec = (id: string) => ({ id, dosages: [1, 0, 2] });
    await appendGenotypes(client, owner, 'ids', [rec('p1'), rec('p2')]);
    await expect(appendGenotypes(client, owner, 'ids', [rec('p3'), rec('p1')])).rejects.toMatchObject({
      status: 409,
      code: 'duplicate_record_id',
      message: expect.stringContaining("'p1'"),
    });
    // The same id twice in one append, across its groups: the request itself is wrong.
    await expect(appendGenotypes(client, owner, 'ids', [rec('p4'), rec('p4')], { groupSize: 1 })).rejects.toMatchObject({ status: 400, code: 'invalid_ids' });
    expect(await groups()).toBe(1);
    await appendGenotypes(client, owner, 'ids', [rec('p3')]); // p3 was not taken by the refused append
    expect(await groups()).toBe(2);
    // Two appends racing with the same new id: one is stored, the other refused.
    const race = await Promise.allSettled([appendGenotypes(client, owner, 'ids', [rec('p9')]), appendGenotypes(client, owner, 'ids', [rec('p9')])]);
    expect(race.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await groups()).toBe(3);
  });

  it('prunes records past retention from the index in the scheduler sweep, without a report', async () => {
    const second = stack.spawnRole('scheduler'); // two replicas prune side by side
    await createDataset(client, owner, 'short', { kind: 'genotypes', variants: 3, retentionDays: 1 });
    const key = (...rest: string[]) => [stack.prefix, 'ds', 'a', 'short', ...rest].join(':');
    const now = Date.now();
    await appendGenotypes(client, owner, 'short', [{ id: 'old', dosages: [0, 1, 2] }], { at: now - DAY + 2500 }); // expires in 2.5 s
    await appendGenotypes(client, owner, 'short', [{ id: 'new', dosages: [2, 1, 0] }], { at: now });
    expect(await stack.redis.zcard(key('idx'))).toBe(2);
    // One sweep unindexes the group, then frees its record id: wait for both.
    await until(
      'the sweep to prune the expired group',
      async () => (await stack.redis.zcard(key('idx'))) === 1 && (await stack.redis.zcard(key('ids'))) === 1,
      10_000,
      50,
    );
    const prunedAfter = Date.now() - now;
    expect(await stack.redis.zrange(key('ids'), '0', '-1')).toEqual(['new']);
    expect(await stack.redis.keys(key('rec', '*'))).toHaveLength(1);
    await appendGenotypes(client, owner, 'short', [{ id: 'old', dosages: [0, 1, 2] }]); // its id is free again
    expect(await stack.redis.zcard(key('idx'))).toBe(2);
    expect(prunedAfter).toBeLessThan(5000); // within a reconcile tick (500 ms here) of expiring
    await stopRole(second);
  });

  it('scores a cohort of 1,000 genotype records on a schedule, every score equal to plaintext', async () => {
    const variants = 24;
    const weights = Array.from({ length: variants }, () => Math.round((Math.random() - 0.5) * 1e6) / 1e6);
    await client.addModelJson({ id: 'cohort-model', name: 'cohort', weights, bias: 0.25 });
    await createDataset(client, owner, 'cohort', { kind: 'genotypes', modelId: 'cohort-model' });
    const records = Array.from({ length: 1000 }, (_, i) => ({
      id: `patient-${i}`,
      dosages: Array.from({ length: variants }, () => Math.floor(Math.random() * 3)),
    }));
    await appendGenotypes(client, owner, 'cohort', records, { groupSize: 100 });
    const s = await client.putSchedule('cohort', 'nightly', { op: 'grs', modelId: 'cohort-model', cron: '*/3 * * * * *', tz: 'UTC' });
    const first = await until(
      'a scheduled grs report',
      async () => {
        const list = (await client.listReports('cohort')).filter((r) => r.schedule === 'nightly');
        return list.find((r) => r.status === 'completed');
      },
      60_000,
      50,
    );
    await client.deleteSchedule('cohort', 'nightly');
    expect(first.jobId.startsWith(`repeat:${s.schedulerId}:`)).toBe(true);
    const got = (await finishReport(client, owner, await client.result(first.jobId))) as GrsReportOutcome;
    expect(got.count).toBe(1000);
    const want = records.map((r) => r.dosages.reduce((a, d, i) => a + d * weights[i]!, 0.25));
    got.scores.forEach((s, i) => {
      expect(s.recordId).toBe(records[i]!.id);
      expect(Math.abs(s.score - want[i]!)).toBeLessThan(1e-6);
    });
    expect(Math.abs(got.mean - want.reduce((a, b) => a + b, 0) / 1000)).toBeLessThan(1e-6);
    expect(first.progress).toBe(100);
  });

  it('keeps tenants apart and answers bad input with 4xx', async () => {
    await expect(other.getDataset('hr')).rejects.toMatchObject({ status: 404 });
    const [r] = await client.listReports('hr');
    await expect(other.status(r!.jobId)).rejects.toMatchObject({ status: 404 });
    await expect(other.listReports('hr')).rejects.toMatchObject({ status: 404 });
    await expect(client.putSchedule('hr', 'x', { op: 'mean', cron: 'not a cron', tz: 'UTC' })).rejects.toMatchObject({ status: 400, code: 'invalid_cron' });
    await expect(client.putSchedule('hr', 'x', { op: 'mean', cron: '0 2 * * *', tz: 'Mars/Olympus' })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_timezone',
    });
    await expect(client.requestReport('hr', { op: 'grs', modelId: 'cohort-model' })).rejects.toMatchObject({ status: 400, code: 'invalid_op' });
    await expect(client.requestReport('nope', { op: 'mean' })).rejects.toMatchObject({ status: 404 });
    await expect(client.appendRecords('hr', { v: 1, records: [{ count: 1, ciphertexts: [new Uint8Array([1, 2, 3])] }] })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_ciphertext',
    });
    await expect(client.createDataset({ name: 'bad name!', contextId: owner.contextId })).rejects.toMatchObject({ status: 400 });
    expect(await client.listSchedules('hr')).toEqual([]);
  });

  it('drives it all from the CLI', async () => {
    const day0 = new Date(Math.floor(Date.now() / DAY) * DAY - 3 * DAY);
    const at = (days: number) => new Date(day0.getTime() + days * DAY + 6 * 3_600_000).toISOString();
    const env = { ...process.env, VEIL_SERVER: stack.apiUrl, VEIL_TOKEN: TOKENS.a };
    const veil = async (...args: string[]) =>
      JSON.parse((await run(process.execPath, [CLI_PATH, '--json', ...args], { env })).stdout.trim().split('\n').pop()!);
    // A person's view of a cohort (checked at the end), run on one worker while the other serves cli-hr.
    const csv = join(keyDir, 'scores.csv');
    const cohortRun = run(process.execPath, [CLI_PATH, 'dataset', 'run', 'cohort', '--op', 'grs', '--model', 'cohort-model', '--keys', keyDir, '--out', csv], {
      env,
    });
    cohortRun.catch(() => {}); // awaited below; a failure before that must not count as unhandled
    expect(await veil('dataset', 'create', 'cli-hr', '--keys', keyDir)).toMatchObject({ dataset: 'cli-hr', contextId: owner.contextId });
    await veil('dataset', 'append', 'cli-hr', '--keys', keyDir, '--values', '61.5,63.25', '--at', at(0));
    expect(await veil('dataset', 'append', 'cli-hr', '--keys', keyDir, '--values', '60.5', '--at', at(1))).toEqual({ dataset: 'cli-hr', records: 1 });
    const mean = await veil('dataset', 'run', 'cli-hr', '--op', 'mean', '--keys', keyDir);
    expect(mean).toMatchObject({ op: 'mean', count: 3 });
    expect(relErr(mean.value, (61.5 + 63.25 + 60.5) / 3)).toBeLessThan(1e-9);
    const trend = await veil('dataset', 'run', 'cli-hr', '--op', 'trend', '--keys', keyDir, '--until', at(2));
    expect(
      relErr(
        trend.value,
        plainStats([
          { at: 0, value: 61.5 },
          { at: 0, value: 63.25 },
          { at: DAY, value: 60.5 },
        ]).trend,
      ),
    ).toBeLessThan(1e-9);
    const sched = await veil('dataset', 'schedule', 'cli-hr', '--op', 'variance', '--cron', '0 2 * * *', '--tz', 'Europe/Berlin');
    expect(sched).toMatchObject({ dataset: 'cli-hr', schedulerId: expect.stringMatching(/^rpt-cli-hr-variance-/) });
    expect(new Date(sched.next).getTime()).toBeGreaterThan(Date.now());
    expect((await veil('dataset', 'schedules', 'cli-hr')).schedules).toHaveLength(1);
    await veil('dataset', 'unschedule', 'cli-hr', '--name', 'variance');
    const { reports } = await veil('dataset', 'reports', 'cli-hr');
    expect(reports).toHaveLength(2);
    expect(reports[0]).toMatchObject({ op: 'trend', status: 'completed' });
    expect(await veil('result', reports[1].jobId, '--keys', keyDir)).toMatchObject({ op: 'mean', count: 3 });
    // A person's view of a cohort: a summary and the first scores, every score in --out, no bar
    // when stderr is not a terminal, never thousands of scores on one line.
    const human = await cohortRun;
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^grs \(model cohort-model\): 1000 records, mean score -?\d/);
    expect(lines.filter((l) => l.startsWith('  patient-'))).toHaveLength(10);
    expect(lines.at(-1)).toBe(`  … 990 more in ${csv}`);
    expect(human.stderr).toBe('');
    const rows = (await readFile(csv, 'utf8')).trim().split('\n');
    expect(rows[0]).toBe('recordId,score');
    expect(rows).toHaveLength(1001);
    expect(rows[1]).toMatch(/^patient-0,-?\d/);
  });
});
