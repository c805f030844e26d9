import { randomUUID } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  checkDatasetName, checkScheduleName, DatasetStore, GENOTYPE_OPS, READING_OPS, REPORT_OPS, reportWindow, scheduledForOf, schedulerIdOf,
  type DatasetMeta, type ReportJobData, type ReportOp, type ScheduleDef,
} from '../../server/datasets.js';
import { InvalidInputError, NotFoundError, VeilError } from '../../shared/errors.js';
import { jobOptions, toStatus } from '../../server/queue.js';
import { vectorLayout } from '../../shared/layout.js';
import { getModelMeta } from '../../server/models.js';
import { getPreset } from '../../shared/params.js';
import { readingChunks, readingsEncoding } from '../../shared/readings.js';
import { applySchedule, checkTimeZone, type ScheduleQueue } from '../../server/schedules.js';
import { unpackChecked } from '../../shared/msgpack-bounds.js';
import { parseWire } from '../../shared/wire.js';
import { admitDataset, admitSchedule } from '../../server/quotas.js';
import { tenantOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { bodyBytes, MSGPACK_TYPES, rawBody } from '../http.js';

/** A time as ISO-8601 text or epoch milliseconds. */
const time = z.union([z.number().int().nonnegative(), z.string().min(1)]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `'${v}' is not an ISO-8601 time` });
    return z.NEVER;
  }
  return ms;
});

const createSchema = z
  .object({
    name: z.string(),
    contextId: z.string().regex(/^[0-9a-f]{64}$/, 'contextId is the 64-hex id POST /v1/contexts returned'),
    kind: z.enum(['readings', 'genotypes']).default('readings'),
    /** genotypes: dosages per record; or take it from a model. */
    variants: z.number().int().min(1).max(4_194_304).optional(),
    modelId: z.string().optional(),
    retentionDays: z.number().int().min(1).max(3650).optional(),
    valueBits: z.number().int().min(1).max(40).optional(),
    scaleBits: z.number().int().min(0).max(40).optional(),
  })
  .strict();

const bin = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary data (msgpack bin)');
const appendSchema = z
  .object({
    v: z.literal(1),
    records: z
      .array(
        z
          .object({
            at: z.number().int().nonnegative().optional(),
            count: z.number().int().min(1).max(100_000),
            ciphertexts: z.array(bin).min(1).max(10_000),
            ids: z.array(z.string().min(1).max(128)).optional(),
            scaleBits: z.number().int().min(0).max(40).optional(),
            valueBits: z.number().int().min(0).max(56).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(10_000),
  })
  .strict();

const runSchema = z.object({ op: z.enum(REPORT_OPS), since: time.optional(), until: time.optional(), modelId: z.string().optional() }).strict();
const scheduleSchema = z
  .object({ op: z.enum(REPORT_OPS), cron: z.string().min(1).max(200), tz: z.string().min(1).max(64).default('UTC'), windowDays: z.number().int().min(1).max(3650).optional(), modelId: z.string().optional() })
  .strict();

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
const FUTURE_SLACK_MS = 5 * 60_000;

export function datasetRoutes(deps: ApiDeps): Router {
  const router = Router();
  const ds = new DatasetStore(deps.store);
  const { queue } = deps;
  const sq: ScheduleQueue = { queue, retentionSeconds: deps.config.RETENTION_SECONDS, attempts: deps.config.JOB_ATTEMPTS };
  const json = express.json({ limit: '64kb' });
  const own = (req: Request, res: Response) => ds.get(tenantOf(res), String(req.params.name));

  /** The op must fit the dataset's kind; grs needs a model of the dataset's length. */
  async function checkOp(tenant: string, meta: DatasetMeta, op: ReportOp, modelId?: string): Promise<string | undefined> {
    const allowed: readonly string[] = meta.kind === 'readings' ? READING_OPS : GENOTYPE_OPS;
    if (!allowed.includes(op)) throw new InvalidInputError('invalid_op', `a ${meta.kind} dataset supports ${allowed.join(', ')}, not ${op}`);
    if (op !== 'grs') {
      if (modelId) throw new InvalidInputError('invalid_op', `op ${op} takes no model`);
      return undefined;
    }
    if (!modelId) throw new InvalidInputError('model_required', 'op grs needs modelId');
    const model = await getModelMeta(deps.store, tenant, modelId);
    // A report scores every record: no per-token limit could bound what it reveals.
    if (model.private) throw new InvalidInputError('private_model_not_allowed', `model '${modelId}' is private; dataset reports cannot use it (submit single jobs)`, 422);
    if (model.variants !== meta.variants) throw new InvalidInputError('model_mismatch', `model '${modelId}' has ${model.variants} variants; the dataset's records have ${meta.variants}`, 422);
    return model.digest;
  }

  router.post('/', json, async (req, res) => {
    const tenant = tenantOf(res);
    const body = parseWire(createSchema, req.body, 'dataset');
    const name = checkDatasetName(body.name);
    const presetId = await deps.store.getContextPreset(tenant, body.contextId);
    if (!presetId) throw new NotFoundError('context', body.contextId);
    const preset = getPreset(presetId);
    if (preset.encoding !== 'coeff') throw new InvalidInputError('unsupported_parameters', `datasets need the coefficient-encoding preset (bfv-coeff-8192), not ${preset.id}`, 422);
    let variants = body.variants;
    if (body.kind === 'genotypes') {
      if (body.modelId) variants = (await getModelMeta(deps.store, tenant, body.modelId)).variants;
      if (!variants) throw new InvalidInputError('variants_required', 'a genotype dataset needs variants (dosages per record) or modelId');
    }
    const meta: DatasetMeta = {
      dataset: name,
      kind: body.kind,
      contextId: body.contextId,
      preset: preset.id,
      retentionDays: body.retentionDays ?? deps.config.DATASET_RETENTION_DAYS,
      createdAt: new Date().toISOString(),
      ...(body.kind === 'readings' ? { encoding: readingsEncoding(preset.polyModulusDegree, body.valueBits, body.scaleBits) } : { variants }),
    };
    await admitDataset(ds, deps.config, tenant);
    await ds.create(tenant, meta);
    res.status(201).location(`/v1/datasets/${name}`).json(meta);
  });

  router.get('/', async (_req, res) => {
    res.json({ datasets: await ds.list(tenantOf(res)) });
  });

  router.get('/:name', async (req, res) => {
    const meta = await own(req, res);
    res.json({ ...meta, groups: await ds.redis.zcard(ds.key(tenantOf(res), meta.dataset, 'idx')) });
  });

  router.delete('/:name', async (req, res) => {
    const meta = await own(req, res);
    const defs = await ds.delete(tenantOf(res), meta.dataset);
    for (const d of defs) await queue.removeJobScheduler(schedulerIdOf(d.tenant, d.dataset, d.schedule));
    res.status(204).end();
  });

  router.post('/:name/records', rawBody(MSGPACK_TYPES, deps.config.MAX_BODY_MB * 2 ** 20), async (req, res) => {
    const tenant = tenantOf(res);
    const meta = await own(req, res);
    const body = parseWire(appendSchema, unpackChecked(bodyBytes(req), deps.config.MAX_MSGPACK_DEPTH), 'records');
    const preset = getPreset(meta.preset);
    const now = Date.now();
    body.records.forEach((r, i) => {
      const where = `records.${i}`;
      if (r.at !== undefined && r.at > now + FUTURE_SLACK_MS) throw new InvalidInputError('future_timestamp', `${where}.at is in the future`);
      const expected = meta.kind === 'readings' ? readingChunks(meta.encoding!, r.count) : vectorLayout(preset, meta.variants!, r.count).ciphertexts;
      if (r.ciphertexts.length !== expected) throw new InvalidInputError('wrong_ciphertext_count', `${where}: ${r.count} ${meta.kind === 'readings' ? 'readings' : 'records'} take ${expected} ciphertexts in this dataset, got ${r.ciphertexts.length}`);
      if (meta.kind === 'genotypes') {
        if (!r.ids || r.ids.length !== r.count) throw new InvalidInputError('invalid_ids', `${where}: give one record id per genotype record (${r.count})`);
        if (new Set(r.ids).size !== r.ids.length) throw new InvalidInputError('invalid_ids', `${where}: record ids repeat`);
      } else if (r.ids) {
        throw new InvalidInputError('invalid_ids', `${where}: readings take no record ids`);
      }
    });
    await deps.validation.checkCiphertexts(
      preset.id,
      body.records.flatMap((r) => r.ciphertexts),
      body.records.flatMap((r, i) => r.ciphertexts.map((_, j) => `records.${i}.ciphertexts.${j}`)),
      deps.config.VALIDATE_CIPHERTEXTS === 'api',
    );
    if (meta.kind === 'genotypes') {
      const seen = new Set<string>();
      for (const id of body.records.flatMap((r) => r.ids ?? [])) {
        if (seen.has(id)) throw new InvalidInputError('invalid_ids', `record id '${id}' appears twice in this append`);
        seen.add(id);
      }
    }
    const idemKey = req.get('idempotency-key');
    if (idemKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idemKey)) throw new InvalidInputError('invalid_idempotency_key', 'Idempotency-Key must be 1-200 printable ASCII characters');
    // All groups or none, and a retry (same Idempotency-Key) stores each group once: see
    // DatasetStore.appendGroups. Nothing is claimed before the write, so a request that dies
    // half-way does not make its retry answer "duplicate" for records that were never stored.
    const out = await ds.appendGroups(
      tenant,
      meta,
      body.records.map((r) => ({
        group: { at: r.at ?? now, count: r.count, ciphertexts: r.ciphertexts.length, ...(r.ids ? { ids: r.ids, scaleBits: r.scaleBits ?? 0, valueBits: r.valueBits ?? 0 } : {}) },
        ciphertexts: r.ciphertexts,
      })),
      { ...(idemKey ? { idempotencyKey: idemKey } : {}), nowMs: now },
    );
    if (out.duplicate) return res.status(200).json({ dataset: meta.dataset, records: out.records, groups: out.groups, duplicate: true });
    deps.metrics.bytesReceived.inc(body.records.reduce((n, r) => n + r.ciphertexts.reduce((m, c) => m + c.length, 0), 0));
    res.status(201).json({ dataset: meta.dataset, records: out.records, groups: out.groups });
  });

  router.post('/:name/reports', json, async (req, res) => {
    const tenant = tenantOf(res);
    const meta = await own(req, res);
    const body = parseWire(runSchema, req.body, 'report');
    const modelDigest = await checkOp(tenant, meta, body.op, body.modelId);
    if (body.since !== undefined && body.until !== undefined && body.since >= body.until) throw new InvalidInputError('invalid_window', 'since must be before until');
    const idemKey = req.get('idempotency-key');
    if (idemKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idemKey)) throw new InvalidInputError('invalid_idempotency_key', 'Idempotency-Key must be 1-200 printable ASCII characters');
    let jobId = `run-${meta.dataset}-${randomUUID()}`;
    if (idemKey) {
      const holder = await deps.store.claimIdempotencyKey(tenant, `report:${meta.dataset}:${idemKey}`, jobId);
      if (holder !== jobId) jobId = holder;
    }
    const existing = await queue.getJob(jobId);
    if (!existing) {
      const now = Date.now();
      const data: ReportJobData = {
        tenant,
        op: 'report',
        contextId: meta.contextId,
        dataset: meta.dataset,
        report: { op: body.op, ...(body.since !== undefined ? { since: body.since } : {}), ...(body.until !== undefined ? { until: body.until } : {}), ...(body.modelId ? { modelId: body.modelId, modelDigest } : {}) },
        scheduledFor: now,
        createdAt: now,
      };
      await ds.indexReport(tenant, meta.dataset, jobId, now);
      await queue.add('report', data, { ...jobOptions(deps.config.RETENTION_SECONDS, deps.config.JOB_ATTEMPTS), jobId });
      deps.metrics.jobsSubmitted.inc({ op: 'report' });
    }
    res.status(existing ? 200 : 202).location(`/v1/jobs/${jobId}`).json({ jobId, op: body.op, status: existing ? toStatus(await existing.getState()) : 'queued' });
  });

  router.get('/:name/reports', async (req, res) => {
    const tenant = tenantOf(res);
    const meta = await own(req, res);
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    const ids = await ds.reportIds(tenant, meta.dataset, limit);
    const gone: string[] = [];
    const reports = [];
    for (const id of ids) {
      const job = await queue.getJob(id);
      if (!job || job.data.op !== 'report' || job.data.tenant !== tenant) {
        gone.push(id);
        continue;
      }
      const data = job.data;
      const scheduledFor = scheduledForOf(id, data, job.timestamp);
      const w = reportWindow(data, scheduledFor);
      reports.push({
        jobId: id,
        op: data.report.op,
        scheduledFor: iso(scheduledFor),
        since: iso(w.since),
        until: iso(w.until),
        ...(data.schedule ? { schedule: data.schedule } : {}),
        status: toStatus(await job.getState()),
        progress: typeof job.progress === 'number' ? job.progress : 0,
      });
    }
    await ds.unindexReports(tenant, meta.dataset, gone);
    res.json({ dataset: meta.dataset, reports });
  });

  router.get('/:name/schedules', async (req, res) => {
    const tenant = tenantOf(res);
    const meta = await own(req, res);
    const defs = await ds.schedules(tenant, meta.dataset);
    const schedules = await Promise.all(defs.map(async (d) => {
      const schedulerId = schedulerIdOf(tenant, d.dataset, d.schedule);
      const next = (await queue.getJobScheduler(schedulerId))?.next;
      return { schedule: d.schedule, op: d.op, cron: d.cron, tz: d.tz, windowDays: d.windowDays ?? null, modelId: d.modelId ?? null, schedulerId, next: iso(next ?? undefined) };
    }));
    res.json({ dataset: meta.dataset, schedules });
  });

  router.put('/:name/schedules/:schedule', json, async (req, res) => {
    const tenant = tenantOf(res);
    const meta = await own(req, res);
    const schedule = checkScheduleName(String(req.params.schedule));
    const body = parseWire(scheduleSchema, req.body, 'schedule');
    await checkOp(tenant, meta, body.op, body.modelId);
    const schedulerId = schedulerIdOf(tenant, meta.dataset, schedule);
    const previous = (await ds.schedules(tenant, meta.dataset)).find((d) => d.schedule === schedule);
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
    // BullMQ first: an invalid cron is refused before anything is stored.
    const next = await applySchedule(sq, schedulerId, def);
    await ds.putSchedule(schedulerId, def);
    res.status(previous ? 200 : 201).json({ dataset: meta.dataset, schedule, schedulerId, op: def.op, cron: def.cron, tz: def.tz, windowDays: def.windowDays ?? null, next: iso(next ?? undefined) });
  });

  router.delete('/:name/schedules/:schedule', async (req, res) => {
    const tenant = tenantOf(res);
    const meta = await own(req, res);
    const schedule = checkScheduleName(String(req.params.schedule));
    const existed = await ds.deleteSchedule(tenant, meta.dataset, schedule);
    await queue.removeJobScheduler(schedulerIdOf(tenant, meta.dataset, schedule));
    if (!existed) throw new VeilError('schedule_not_found', `dataset '${meta.dataset}' has no schedule '${schedule}'`, 404);
    res.status(204).end();
  });

  return router;
}
