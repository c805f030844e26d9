import { Router } from 'express';
import { checkIdempotencyKey, IDEMPOTENCY_HEADER } from '../../shared/api.js';
import {
  appendRecordsSchema,
  createDatasetSchema,
  reportRequestSchema,
  scheduleRequestSchema,
  type Appended,
  type DatasetMeta,
  type ScheduleInfo,
} from '../../shared/api-datasets.js';
import { unpackChecked } from '../../shared/msgpack-bounds.js';
import { parseWire } from '../../shared/wire.js';
import { DatasetStore } from '../../server/datasets.js';
import { appendRecords, createDataset, deleteDataset } from '../../server/services/datasets.js';
import { deleteSchedule, listReports, listSchedules, putSchedule, requestReport } from '../../server/services/reports.js';
import { tenantOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { bodyBytes, jsonBody, MSGPACK_TYPES, rawBody } from '../http.js';

/** /v1/datasets: parse, call the dataset and report services (server/services/), respond. */
export function datasetRoutes(deps: ApiDeps): Router {
  const router = Router();
  const ds = new DatasetStore(deps.store);
  const json = jsonBody(64 * 1024);

  router.post('/', json, async (req, res) => {
    const meta = await createDataset(deps, tenantOf(res), parseWire(createDatasetSchema, req.body, 'dataset'));
    res
      .status(201)
      .location(`/v1/datasets/${meta.dataset}`)
      .json(meta satisfies DatasetMeta);
  });

  router.get('/', async (_req, res) => {
    res.json({ datasets: await ds.list(tenantOf(res)) });
  });

  router.get('/:name', async (req, res) => {
    const tenant = tenantOf(res);
    const meta = await ds.get(tenant, req.params.name);
    res.json({ ...meta, groups: await ds.groupCount(tenant, meta.dataset) });
  });

  router.delete('/:name', async (req, res) => {
    await deleteDataset(deps, tenantOf(res), req.params.name);
    res.status(204).end();
  });

  router.post('/:name/records', rawBody(MSGPACK_TYPES, deps.config.MAX_BODY_MB * 2 ** 20), async (req, res) => {
    const tenant = tenantOf(res);
    const name = String(req.params.name);
    await ds.get(tenant, name); // 404 before the body is looked at
    const body = parseWire(appendRecordsSchema, unpackChecked(bodyBytes(req), deps.config.MAX_MSGPACK_DEPTH), 'records');
    const out = await appendRecords(deps, tenant, name, body, checkIdempotencyKey(req.get(IDEMPOTENCY_HEADER)));
    if (!out.duplicate) deps.metrics.bytesReceived.inc(body.records.reduce((n, r) => n + r.ciphertexts.reduce((m, c) => m + c.length, 0), 0));
    res.status(out.duplicate ? 200 : 201).json(out satisfies Appended);
  });

  router.post('/:name/reports', json, async (req, res) => {
    const tenant = tenantOf(res);
    await ds.get(tenant, req.params.name);
    const body = parseWire(reportRequestSchema, req.body, 'report');
    const { created, ...accepted } = await requestReport(deps, tenant, req.params.name, body, checkIdempotencyKey(req.get(IDEMPOTENCY_HEADER)));
    if (created) deps.metrics.jobsSubmitted.inc({ op: 'report' });
    res
      .status(created ? 202 : 200)
      .location(`/v1/jobs/${accepted.jobId}`)
      .json(accepted);
  });

  router.get('/:name/reports', async (req, res) => {
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    res.json(await listReports(deps, tenantOf(res), req.params.name, limit));
  });

  router.get('/:name/schedules', async (req, res) => {
    res.json(await listSchedules(deps, tenantOf(res), req.params.name));
  });

  router.put('/:name/schedules/:schedule', json, async (req, res) => {
    const tenant = tenantOf(res);
    await ds.get(tenant, req.params.name);
    const { created, ...info } = await putSchedule(deps, tenant, req.params.name, req.params.schedule, parseWire(scheduleRequestSchema, req.body, 'schedule'));
    res.status(created ? 201 : 200).json(info satisfies ScheduleInfo);
  });

  router.delete('/:name/schedules/:schedule', async (req, res) => {
    await deleteSchedule(deps, tenantOf(res), req.params.name, req.params.schedule);
    res.status(204).end();
  });

  return router;
}
