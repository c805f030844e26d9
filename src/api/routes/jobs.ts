import { randomUUID } from 'node:crypto';
import { Router, type Response } from 'express';
import { InvalidInputError, NotFoundError, VeilError } from '../../shared/errors.js';
import { jobOptions, toStatus, type JobData } from '../../server/queue.js';
import { vectorLayout } from '../../shared/layout.js';
import { getModelMeta, type ModelMeta } from '../../server/models.js';
import { getPreset } from '../../shared/params.js';
import { unpackChecked } from '../../shared/msgpack-bounds.js';
import { jobRequestSchema, parseWire, type JobRequest } from '../../shared/wire.js';
import { admitPrivateModelJob } from '../../server/private-models.js';
import { admitJob } from '../../server/quotas.js';
import { tenantOf, tokenIdOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { bodyBytes, MSGPACK_TYPES, rawBody } from '../http.js';

const JOB_ID = /^[0-9a-f-]{36}$|^[A-Za-z0-9_.:-]{1,200}$/;
const MAX_WAIT_SECONDS = 30;

export function jobRoutes(deps: ApiDeps): Router {
  const router = Router();
  const { store, queue } = deps;

  /** The job if it exists and is this tenant's; 404 otherwise (never "forbidden": ids don't leak). */
  async function ownJob(res: Response, id: string) {
    const job = JOB_ID.test(id) ? await queue.getJob(id) : undefined;
    if (!job || job.data.tenant !== tenantOf(res)) throw new NotFoundError('job', id);
    return job;
  }

  router.post('/', rawBody(MSGPACK_TYPES, deps.config.MAX_BODY_MB * 2 ** 20), async (req, res) => {
    const tenant = tenantOf(res);
    const request = parseWire(jobRequestSchema, unpackChecked(bodyBytes(req), deps.config.MAX_MSGPACK_DEPTH), 'job');
    const data = await checkJob(deps, tenant, request, tokenIdOf(res));
    const idemKey = req.get('idempotency-key');
    if (idemKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idemKey)) {
      throw new InvalidInputError('invalid_idempotency_key', 'Idempotency-Key must be 1-200 printable ASCII characters');
    }
    const jobId = randomUUID();
    if (idemKey) {
      const holder = await store.claimIdempotencyKey(tenant, idemKey, jobId);
      if (holder !== jobId) {
        const first = await queue.getJob(holder);
        return res.status(first ? 200 : 409).location(`/v1/jobs/${holder}`).json({ jobId: holder, status: first ? toStatus(await first.getState()) : 'unknown' });
      }
    }
    try {
      await admitJob(store, deps.config, tenant, jobId, request.ciphertexts.reduce((n, c) => n + c.length, 0));
      await store.putInputs(jobId, request.ciphertexts);
      await queue.add(request.op, data, { ...jobOptions(deps.config.RETENTION_SECONDS, deps.config.JOB_ATTEMPTS), jobId });
    } catch (err) {
      if (idemKey) await store.releaseIdempotencyKey(tenant, idemKey);
      await store.deleteJobData(jobId);
      throw err;
    }
    deps.metrics.jobsSubmitted.inc({ op: request.op });
    deps.metrics.bytesReceived.inc(request.ciphertexts.reduce((n, c) => n + c.length, 0));
    res.status(202).location(`/v1/jobs/${jobId}`).json({ jobId, status: 'queued' });
  });

  router.get('/:id', async (req, res) => {
    const job = await ownJob(res, req.params.id);
    const status = toStatus(await job.getState());
    res.json({
      jobId: job.id,
      op: job.data.op,
      status,
      progress: typeof job.progress === 'number' ? job.progress : 0,
      attempts: job.attemptsMade,
      ...('modelId' in job.data && job.data.modelId ? { modelId: job.data.modelId, modelVersion: job.data.modelVersion ?? 1 } : {}),
      createdAt: new Date(job.timestamp).toISOString(),
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      ...(status === 'failed' ? { error: failure(job.failedReason) } : {}),
    });
  });

  router.get('/:id/result', async (req, res) => {
    const wait = Math.min(MAX_WAIT_SECONDS, Math.max(0, Number(req.query.wait ?? 0) || 0));
    const deadline = Date.now() + wait * 1000;
    let job = await ownJob(res, req.params.id);
    let closed = false;
    req.on('close', () => (closed = true));
    // Long-poll by polling Redis with a growing interval: cheap, and needs no event stream.
    for (let delay = 25; ; delay = Math.min(delay * 2, 100)) {
      const state = await job.getState();
      if (state === 'completed') {
        const bytes = await store.getResult(job.id as string);
        if (!bytes) throw new VeilError('result_gone', 'the result was deleted or has expired', 410);
        return res.type('application/msgpack').send(bytes);
      }
      if (state === 'failed') {
        const error = failure(job.failedReason);
        throw new VeilError('job_failed', `the job failed: ${error.code}: ${error.message}`, 409);
      }
      if (Date.now() + delay > deadline || closed) {
        throw new VeilError('not_ready', `job is ${toStatus(state)}; retry later or pass ?wait=SECONDS (≤ ${MAX_WAIT_SECONDS})`, 409);
      }
      await new Promise((r) => setTimeout(r, delay));
      job = await ownJob(res, req.params.id);
    }
  });

  router.delete('/:id', async (req, res) => {
    const job = await ownJob(res, req.params.id);
    await store.deleteJobData(job.id as string);
    try {
      await job.remove();
    } catch {
      // An active job is locked by its worker; with its inputs gone it cannot finish, and
      // its record expires with the retention.
    }
    res.status(204).end();
  });
  return router;
}

/** The failure of a job as `{code, message}`: workers write failedReason as "code: message". */
function failure(reason: string | undefined): { code: string; message: string } {
  const m = /^([a-z_]+): ([\s\S]*)$/.exec(reason ?? '');
  return m ? { code: m[1] as string, message: m[2] as string } : { code: 'internal', message: 'the job failed; see the worker log' };
}

/** Everything about a submission that can be checked without the owner's keys, before queueing. */
async function checkJob(deps: ApiDeps, tenant: string, request: JobRequest, tokenId: string): Promise<JobData> {
  const presetId = await deps.store.getContextPreset(tenant, request.contextId);
  if (!presetId) throw new NotFoundError('context', request.contextId);
  const preset = getPreset(presetId);
  let length: number;
  let samples = 1;
  let modelDigest: string | undefined;
  let model: ModelMeta | undefined;
  if (request.op === 'grs') {
    const meta = (model = await getModelMeta(deps.store, tenant, request.modelId));
    length = meta.variants;
    samples = request.samples;
    modelDigest = meta.digest;
  } else {
    length = request.count;
  }
  const layout = vectorLayout(preset, length, samples);
  if (request.ciphertexts.length !== layout.ciphertexts) {
    throw new InvalidInputError('wrong_ciphertext_count', `${length} values × ${samples} sample(s) under ${preset.id} take ${layout.ciphertexts} ciphertexts, got ${request.ciphertexts.length}`);
  }
  await deps.validation.checkCiphertexts(preset.id, request.ciphertexts, request.ciphertexts.map((_, i) => `ciphertexts.${i}`), deps.config.VALIDATE_CIPHERTEXTS === 'api');
  if (model) await admitPrivateModelJob(deps.store, deps.config, tokenId, model, preset, samples);
  return {
    tenant,
    op: request.op,
    contextId: request.contextId,
    ...(request.op === 'grs' ? { modelId: request.modelId, modelDigest, modelVersion: model?.version } : {}),
    length,
    samples,
    scaleBits: request.scaleBits,
    valueBits: request.valueBits,
    ciphertexts: layout.ciphertexts,
    createdAt: Date.now(),
  };
}
