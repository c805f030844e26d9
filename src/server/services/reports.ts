import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { DatasetMeta, ReportListing, reportRequestSchema, ScheduleInfo, scheduleRequestSchema } from '../../shared/api-datasets.js';
import { checkScheduleName, opsFor, type ReportOp } from '../../shared/dataset.js';
import { InvalidInputError, VeilError } from '../../shared/errors.js';
import { DatasetStore } from '../datasets.js';
import type { ServiceDeps } from '../deps.js';
import { getModelMeta } from '../models.js';
import { admitSchedule } from '../quotas.js';
import { jobOptions, progressFor, reportWindow, scheduledForOf, toStatus, withState, type ReportJobData } from '../queue.js';
import { applySchedule, checkTimeZone, schedulerIdOf, type ScheduleDef } from '../schedules.js';

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

/** The op must fit the dataset's kind; grs needs a model of the dataset's length. Returns its digest. */
async function checkOp(deps: ServiceDeps, tenant: string, meta: DatasetMeta, op: ReportOp, modelId?: string): Promise<string | undefined> {
  const allowed = opsFor(meta.kind);
  if (!allowed.includes(op)) throw new InvalidInputError('invalid_op', `a ${meta.kind} dataset supports ${allowed.join(', ')}, not ${op}`);
  if (op !== 'grs') {
    if (modelId) throw new InvalidInputError('invalid_op', `op ${op} takes no model`);
    return undefined;
  }
  if (!modelId) throw new InvalidInputError('model_required', 'op grs needs modelId');
  const model = await getModelMeta(deps.store, tenant, modelId);
  // A report scores every record: no per-token limit could bound what it reveals.
  if (model.private)
    throw new InvalidInputError('private_model_not_allowed', `model '${modelId}' is private; dataset reports cannot use it (submit single jobs)`, 422);
  if (model.variants !== meta.variants)
    throw new InvalidInputError('model_mismatch', `model '${modelId}' has ${model.variants} variants; the dataset's records have ${meta.variants}`, 422);
  return model.digest;
}

/** Queue an on-demand report; a repeat with the same Idempotency-Key names the first one. */
export async function requestReport(deps: ServiceDeps, tenant: string, name: string, body: z.output<typeof reportRequestSchema>, idempotencyKey?: string) {
  const ds = new DatasetStore(deps.store);
  const meta = await ds.get(tenant, name);
  const modelDigest = await checkOp(deps, tenant, meta, body.op, body.modelId);
  if (body.since !== undefined && body.until !== undefined && body.since >= body.until)
    throw new InvalidInputError('invalid_window', 'since must be before until');
  let jobId = `run-${meta.dataset}-${randomUUID()}`;
  if (idempotencyKey) jobId = await deps.store.claimIdempotencyKey(tenant, `report:${meta.dataset}:${idempotencyKey}`, jobId);
  const existing = await deps.queue.getJob(jobId);
  if (existing) return { jobId, op: body.op, status: toStatus(await existing.getState()), created: false };
  const now = Date.now();
  const data: ReportJobData = {
    tenant,
    op: 'report',
    contextId: meta.contextId,
    dataset: meta.dataset,
    report: {
      op: body.op,
      ...(body.since !== undefined ? { since: body.since } : {}),
      ...(body.until !== undefined ? { until: body.until } : {}),
      ...(body.modelId ? { modelId: body.modelId, modelDigest } : {}),
    },
    scheduledFor: now,
    createdAt: now,
  };
  await ds.indexReport(tenant, meta.dataset, jobId, now);
  await deps.queue.add('report', data, { ...jobOptions(deps.config.RETENTION_SECONDS, deps.config.JOB_ATTEMPTS), jobId });
  return { jobId, op: body.op, status: 'queued' as const, created: true };
}

/** The newest `limit` reports of a dataset, newest first; forgets ids whose job has expired. */
export async function listReports(deps: ServiceDeps, tenant: string, name: string, limit: number): Promise<{ dataset: string; reports: ReportListing[] }> {
  const ds = new DatasetStore(deps.store);
  const meta = await ds.get(tenant, name);
  const gone: string[] = [];
  const reports: ReportListing[] = [];
  for (const id of await ds.reportIds(tenant, meta.dataset, limit)) {
    const read = await deps.queue.getJob(id);
    if (!read || read.data.op !== 'report' || read.data.tenant !== tenant) {
      gone.push(id);
      continue;
    }
    const data = read.data;
    const { job, status } = await withState(deps.queue, read);
    const scheduledFor = scheduledForOf(id, data, job.timestamp);
    const w = reportWindow(data, scheduledFor);
    reports.push({
      jobId: id,
      op: data.report.op,
      scheduledFor: new Date(scheduledFor).toISOString(),
      since: iso(w.since),
      until: new Date(w.until).toISOString(),
      ...(data.schedule ? { schedule: data.schedule } : {}),
      status,
      progress: progressFor(job, status),
    });
  }
  await ds.unindexReports(tenant, meta.dataset, gone);
  return { dataset: meta.dataset, reports };
}

export async function listSchedules(deps: ServiceDeps, tenant: string, name: string): Promise<{ dataset: string; schedules: ScheduleInfo[] }> {
  const ds = new DatasetStore(deps.store);
  const meta = await ds.get(tenant, name);
  const defs = await ds.schedules.forDataset(tenant, meta.dataset);
  const schedules = await Promise.all(
    defs.map(async (d) => {
      const schedulerId = schedulerIdOf(tenant, d.dataset, d.schedule);
      const next = (await deps.queue.getJobScheduler(schedulerId))?.next;
      return {
        schedule: d.schedule,
        op: d.op,
        cron: d.cron,
        tz: d.tz,
        windowDays: d.windowDays ?? null,
        modelId: d.modelId ?? null,
        schedulerId,
        next: iso(next),
      };
    }),
  );
  return { dataset: meta.dataset, schedules };
}

/** Create or replace a schedule (BullMQ first: an invalid cron is refused before anything is stored). */
export async function putSchedule(
  deps: ServiceDeps,
  tenant: string,
  name: string,
  scheduleName: string,
  body: z.output<typeof scheduleRequestSchema>,
): Promise<ScheduleInfo & { created: boolean }> {
  const ds = new DatasetStore(deps.store);
  const meta = await ds.get(tenant, name);
  const schedule = checkScheduleName(scheduleName);
  await checkOp(deps, tenant, meta, body.op, body.modelId);
  const schedulerId = schedulerIdOf(tenant, meta.dataset, schedule);
  const previous = (await ds.schedules.forDataset(tenant, meta.dataset)).find((d) => d.schedule === schedule);
  const def: ScheduleDef = {
    tenant,
    dataset: meta.dataset,
    schedule,
    contextId: meta.contextId,
    op: body.op,
    cron: body.cron,
    tz: checkTimeZone(body.tz),
    ...(body.windowDays ? { windowDays: body.windowDays } : {}),
    ...(body.modelId ? { modelId: body.modelId } : {}),
    // Kept across identical PUTs, so replaying one leaves BullMQ's scheduler exactly as it was.
    createdAt: previous?.createdAt ?? Date.now(),
  };
  await admitSchedule(ds, deps.config, def, !previous);
  const queue = { queue: deps.queue, retentionSeconds: deps.config.RETENTION_SECONDS, attempts: deps.config.JOB_ATTEMPTS };
  const next = await applySchedule(queue, schedulerId, def);
  await ds.schedules.put(schedulerId, def);
  return {
    dataset: meta.dataset,
    schedule,
    schedulerId,
    op: def.op,
    cron: def.cron,
    tz: def.tz,
    windowDays: def.windowDays ?? null,
    next: iso(next),
    created: !previous,
  };
}

export async function deleteSchedule(deps: ServiceDeps, tenant: string, name: string, scheduleName: string): Promise<void> {
  const ds = new DatasetStore(deps.store);
  const meta = await ds.get(tenant, name);
  const schedule = checkScheduleName(scheduleName);
  const existed = await ds.schedules.delete(tenant, meta.dataset, schedule);
  await deps.queue.removeJobScheduler(schedulerIdOf(tenant, meta.dataset, schedule));
  if (!existed) throw new VeilError('schedule_not_found', `dataset '${meta.dataset}' has no schedule '${schedule}'`, 404);
}
