import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VeilClient } from '../src/producer/client.js';
import type { Owner } from '../src/producer/crypto.js';
import { appendGenotypes, appendReadings, createDataset, finishReport, type GrsReportOutcome, type ReadingsOutcome } from '../src/producer/datasets.js';
import { loadOwner, writeKeys } from '../src/producer/sdk.js';
import { CLI_PATH } from '../src/stack/local.js';
import { datasetsStack, plainStats, relErr, sleep, TOKENS, until, type DatasetsStack } from './helpers/datasets-stack.js';

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

  async function report(name: string, body: { op: string; since?: string; until?: string; modelId?: string }) {
    const jobId = await client.requestReport(name, body);
    return finishReport(client, owner, await client.result(jobId, { timeoutMs: 60_000 }));
  }

  beforeAll(async () => {
    stack = await datasetsStack();
    client = new VeilClient({ server: stack.apiUrl, token: TOKENS.a });
    other = new VeilClient({ server: stack.apiUrl, token: TOKENS.b });
    keyDir = await mkdtemp(join(tmpdir(), 'veil-ds-keys-'));
    await writeKeys(keyDir);
    owner = await loadOwner(keyDir);
    await createDataset(client, owner, 'hr', { retentionDays: 3650 });
    // One record per reading time, appended as the app would each day (here: one request per day).
    for (let day = 0; day < 30; day++) {
      await appendReadings(client, owner, 'hr', rows.slice(day * 3, day * 3 + 3).map((r) => ({ at: r.at, values: [r.value] })));
    }
  });
  afterAll(async () => {
    owner?.dispose();
    await stack?.close();
    await rm(keyDir, { recursive: true, force: true });
  });

  it('reports mean, variance and trend of 30 days on demand, equal to plaintext (rel ≤ 1e-6)', async () => {
    const want = plainStats(rows);
    for (const op of ['mean', 'variance', 'trend'] as const) {
      const got = (await report('hr', { op })) as ReadingsOutcome;
      expect(got.count).toBe(90);
      expect(relErr(got.value, want[op]), `${op}: ${got.value} vs ${want[op]}`).toBeLessThanOrEqual(1e-6);
    }
    // A window: the last 10 days only.
    const since = new Date(start + 20 * DAY).toISOString();
    const w = plainStats(rows.filter((r) => r.at >= start + 20 * DAY));
    const got = (await report('hr', { op: 'trend', since })) as ReadingsOutcome;
    expect(got.count).toBe(30);
    expect(relErr(got.value, w.trend)).toBeLessThanOrEqual(1e-6);
  });

  it('leaves noise budget in a report and masks every coefficient but the sums', async () => {
    const jobId = await client.requestReport('hr', { op: 'variance' });
    const result = await client.result(jobId, { timeoutMs: 60_000 });
    expect(owner.noiseBudget(result.ciphertexts[0]!)).toBeGreaterThan(5);
    const coeffs = owner.decryptRaw(result.ciphertexts[0]!) as BigUint64Array;
    const small = [...coeffs].filter((c) => c < 2n ** 40n).length; // kept sums are small; masks uniform mod t
    expect(small).toBeLessThanOrEqual(result.report!.encoding!.xLimbs + result.report!.encoding!.x2Limbs + 2);
  });

  it('runs a schedule with two scheduler processes: exactly one report per slot, each correct', async () => {
    const second = stack.spawnRole('scheduler');
    await sleep(1000);
    const s = await client.putSchedule('hr', 'every2s', { op: 'mean', cron: '*/2 * * * * *', tz: 'Europe/Berlin' });
    expect(s.next).toBeTruthy();
    await sleep(9000);
    await client.deleteSchedule('hr', 'every2s');
    const scheduled = await until('scheduled reports to finish', async () => {
      const list = (await client.listReports('hr')).filter((r) => r.schedule === 'every2s');
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
    const victim = await until('the report to start', async () => {
      const job = await stack.queue.getJob(jobId);
      return (await job?.getState()) === 'active' && job?.processedBy ? job.processedBy : undefined;
    }, 30_000, 10);
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

  it('scores a cohort of 1,000 genotype records on a schedule, every score equal to plaintext', async () => {
    const variants = 24;
    const weights = Array.from({ length: variants }, () => Math.round((Math.random() - 0.5) * 1e6) / 1e6);
    await client.addModelJson({ id: 'cohort-model', name: 'cohort', weights, bias: 0.25 });
    await createDataset(client, owner, 'cohort', { kind: 'genotypes', modelId: 'cohort-model' });
    const records = Array.from({ length: 1000 }, (_, i) => ({ id: `patient-${i}`, dosages: Array.from({ length: variants }, () => Math.floor(Math.random() * 3)) }));
    await appendGenotypes(client, owner, 'cohort', records, { groupSize: 100 });
    const s = await client.putSchedule('cohort', 'nightly', { op: 'grs', modelId: 'cohort-model', cron: '*/3 * * * * *', tz: 'UTC' });
    const first = await until('a scheduled grs report', async () => {
      const list = (await client.listReports('cohort')).filter((r) => r.schedule === 'nightly');
      return list.find((r) => r.status === 'completed');
    }, 60_000, 50);
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
    await expect(client.putSchedule('hr', 'x', { op: 'mean', cron: '0 2 * * *', tz: 'Mars/Olympus' })).rejects.toMatchObject({ status: 400, code: 'invalid_timezone' });
    await expect(client.requestReport('hr', { op: 'grs', modelId: 'cohort-model' })).rejects.toMatchObject({ status: 400, code: 'invalid_op' });
    await expect(client.requestReport('nope', { op: 'mean' })).rejects.toMatchObject({ status: 404 });
    await expect(client.appendRecords('hr', { v: 1, records: [{ count: 1, ciphertexts: [new Uint8Array([1, 2, 3])] }] })).rejects.toMatchObject({ status: 400, code: 'invalid_ciphertext' });
    await expect(client.createDataset({ name: 'bad name!', contextId: owner.contextId })).rejects.toMatchObject({ status: 400 });
    expect(await client.listSchedules('hr')).toEqual([]);
  });

  it('drives it all from the CLI', async () => {
    const day0 = new Date(Math.floor(Date.now() / DAY) * DAY - 3 * DAY);
    const at = (days: number) => new Date(day0.getTime() + days * DAY + 6 * 3_600_000).toISOString();
    const env = { ...process.env, VEIL_SERVER: stack.apiUrl, VEIL_TOKEN: TOKENS.a };
    const veil = async (...args: string[]) => JSON.parse((await run(process.execPath, [CLI_PATH, '--json', ...args], { env })).stdout.trim().split('\n').pop()!);
    expect(await veil('dataset', 'create', 'cli-hr', '--keys', keyDir)).toMatchObject({ dataset: 'cli-hr', contextId: owner.contextId });
    await veil('dataset', 'append', 'cli-hr', '--keys', keyDir, '--values', '61.5,63.25', '--at', at(0));
    expect(await veil('dataset', 'append', 'cli-hr', '--keys', keyDir, '--values', '60.5', '--at', at(1))).toEqual({ dataset: 'cli-hr', records: 1 });
    const mean = await veil('dataset', 'run', 'cli-hr', '--op', 'mean', '--keys', keyDir);
    expect(mean).toMatchObject({ op: 'mean', count: 3 });
    expect(relErr(mean.value, (61.5 + 63.25 + 60.5) / 3)).toBeLessThan(1e-9);
    const trend = await veil('dataset', 'run', 'cli-hr', '--op', 'trend', '--keys', keyDir, '--until', at(2));
    expect(relErr(trend.value, plainStats([{ at: 0, value: 61.5 }, { at: 0, value: 63.25 }, { at: DAY, value: 60.5 }]).trend)).toBeLessThan(1e-9);
    const sched = await veil('dataset', 'schedule', 'cli-hr', '--op', 'variance', '--cron', '0 2 * * *', '--tz', 'Europe/Berlin');
    expect(sched).toMatchObject({ dataset: 'cli-hr', schedulerId: expect.stringMatching(/^rpt-cli-hr-variance-/) });
    expect(new Date(sched.next).getTime()).toBeGreaterThan(Date.now());
    expect((await veil('dataset', 'schedules', 'cli-hr')).schedules).toHaveLength(1);
    await veil('dataset', 'unschedule', 'cli-hr', '--name', 'variance');
    const { reports } = await veil('dataset', 'reports', 'cli-hr');
    expect(reports).toHaveLength(2);
    expect(reports[0]).toMatchObject({ op: 'trend', status: 'completed' });
    expect(await veil('result', reports[1].jobId, '--keys', keyDir)).toMatchObject({ op: 'mean', count: 3 });
  });
});
