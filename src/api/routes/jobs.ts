import { Router } from 'express';
import { checkIdempotencyKey, IDEMPOTENCY_HEADER, MAX_RESULT_WAIT_SECONDS, type JobAccepted, type JobStatusBody } from '../../shared/api.js';
import { unpackChecked } from '../../shared/msgpack-bounds.js';
import { jobRequestSchema, parseWire } from '../../shared/wire.js';
import { awaitResult, deleteJob, jobStatus, ownJob, submitJob } from '../../server/services/jobs.js';
import { tenantOf, tokenIdOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { bodyBytes, MSGPACK_TYPES, rawBody } from '../http.js';

/** /v1/jobs: parse, call the job service (server/services/jobs.ts), respond. */
export function jobRoutes(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', rawBody(MSGPACK_TYPES, deps.config.MAX_BODY_MB * 2 ** 20), async (req, res) => {
    const request = parseWire(jobRequestSchema, unpackChecked(bodyBytes(req), deps.config.MAX_MSGPACK_DEPTH), 'job');
    const { created, ...accepted } = await submitJob(deps, tenantOf(res), tokenIdOf(res), request, checkIdempotencyKey(req.get(IDEMPOTENCY_HEADER)));
    if (created) {
      deps.metrics.jobsSubmitted.inc({ op: request.op });
      deps.metrics.bytesReceived.inc(request.ciphertexts.reduce((n, c) => n + c.length, 0));
    }
    const status = created ? 202 : accepted.status === 'unknown' ? 409 : 200;
    res
      .status(status)
      .location(`/v1/jobs/${accepted.jobId}`)
      .json(accepted satisfies JobAccepted);
  });

  router.get('/:id', async (req, res) => {
    res.json((await jobStatus(deps, await ownJob(deps, tenantOf(res), req.params.id))) satisfies JobStatusBody);
  });

  router.get('/:id/result', async (req, res) => {
    const wait = Math.min(MAX_RESULT_WAIT_SECONDS, Math.max(0, Number(req.query.wait ?? 0) || 0));
    let closed = false;
    req.on('close', () => (closed = true));
    const bytes = await awaitResult(deps, tenantOf(res), req.params.id, wait, () => closed);
    res.type('application/msgpack').send(bytes);
  });

  router.delete('/:id', async (req, res) => {
    await deleteJob(deps, tenantOf(res), req.params.id);
    res.status(204).end();
  });
  return router;
}
