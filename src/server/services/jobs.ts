import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { MAX_RESULT_WAIT_SECONDS, type JobAccepted, type JobStatusBody } from '../../shared/api.js';
import { InvalidInputError, NotFoundError, VeilError } from '../../shared/errors.js';
import { vectorLayout } from '../../shared/layout.js';
import { getPreset } from '../../shared/params.js';
import type { JobRequest } from '../../shared/wire.js';
import type { ServiceDeps } from '../deps.js';
import { getModelMeta } from '../models.js';
import { admitPrivateModelJob } from '../private-models.js';
import { admitJob } from '../quotas.js';
import { jobOptions, parseFailure, progressFor, toStatus, withState, type JobData, type JobReturn, type LinearJobData } from '../queue.js';

const JOB_ID = /^[0-9a-f-]{36}$|^[A-Za-z0-9_.:-]{1,200}$/;

/** The job if it exists and is this tenant's; 404 otherwise (never "forbidden": ids don't leak). */
export async function ownJob(deps: ServiceDeps, tenant: string, id: string): Promise<Job<JobData, JobReturn>> {
  const job = JOB_ID.test(id) ? await deps.queue.getJob(id) : undefined;
  if (!job || job.data.tenant !== tenant) throw new NotFoundError('job', id);
  return job;
}

/**
 * Everything about a submission that can be checked without the owner's keys, before queueing.
 * `tokenId`: the submitting token, which private models limit (private-models.ts).
 */
async function checkJob(deps: ServiceDeps, tenant: string, request: JobRequest, tokenId: string): Promise<LinearJobData> {
  const presetId = await deps.store.getContextPreset(tenant, request.contextId);
  if (!presetId) throw new NotFoundError('context', request.contextId);
  const preset = getPreset(presetId);
  const model = request.op === 'grs' ? await getModelMeta(deps.store, tenant, request.modelId) : undefined;
  const length = model ? model.variants : (request as Extract<JobRequest, { op: 'mean' }>).count;
  const samples = request.op === 'grs' ? request.samples : 1;
  const packing = (request.op === 'grs' && request.packing) || 'coeff';
  const layout = vectorLayout(preset, length, samples, packing);
  if (request.ciphertexts.length !== layout.ciphertexts) {
    throw new InvalidInputError(
      'wrong_ciphertext_count',
      `${length} values × ${samples} sample(s) under ${preset.id}${packing === 'sample' ? ', sample packing,' : ''} take ${layout.ciphertexts} ciphertexts, got ${request.ciphertexts.length}`,
    );
  }
  // SEAL's checks run in the validation pool's threads (or in the worker, per VALIDATE_CIPHERTEXTS).
  await deps.validation.checkCiphertexts(
    preset.id,
    request.ciphertexts,
    request.ciphertexts.map((_, i) => `ciphertexts.${i}`),
    deps.config.VALIDATE_CIPHERTEXTS === 'api',
  );
  if (model) await admitPrivateModelJob(deps.store, deps.config, tokenId, model, preset, samples);
  return {
    tenant,
    op: request.op,
    contextId: request.contextId,
    ...(request.op === 'grs' ? { modelId: request.modelId, modelDigest: model?.digest, modelVersion: model?.version } : {}),
    length,
    samples,
    ...(packing !== 'coeff' ? { packing } : {}),
    scaleBits: request.scaleBits,
    valueBits: request.valueBits,
    ciphertexts: layout.ciphertexts,
    createdAt: Date.now(),
  };
}

/**
 * Check, store and queue a job. With an Idempotency-Key, a repeat names the first job instead
 * (`created: false`). A claim whose job was never queued (the first attempt died or lost Redis between claiming and queueing) is finished
 * by the repeat, under the claimed id: BullMQ adds a job id once, so two finishers queue one job.
 */
export async function submitJob(
  deps: ServiceDeps,
  tenant: string,
  tokenId: string,
  request: JobRequest,
  idempotencyKey?: string,
): Promise<JobAccepted & { created: boolean }> {
  const data = await checkJob(deps, tenant, request, tokenId);
  let jobId: string = randomUUID();
  if (idempotencyKey) {
    const holder = await deps.store.claimIdempotencyKey(tenant, idempotencyKey, jobId);
    if (holder !== jobId) {
      const first = await deps.queue.getJob(holder);
      if (first) return { jobId: holder, status: toStatus(await first.getState()), created: false };
      // The claim expires before the job it names (both live a retention, the job's from its end), so no job
      // means not queued (yet), or deleted by its owner: either way this repeat is the request to run.
      jobId = holder;
    }
  }
  try {
    await admitJob(
      deps.store,
      deps.config,
      tenant,
      jobId,
      request.ciphertexts.reduce((n, c) => n + c.length, 0),
    );
    await deps.store.putInputs(jobId, request.ciphertexts);
    await deps.queue.add(request.op, data, { ...jobOptions(deps.config.RETENTION_SECONDS, deps.config.JOB_ATTEMPTS), jobId });
  } catch (err) {
    await abandon(deps, tenant, jobId, idempotencyKey).catch(() => {}); // Redis may be what failed: a repeat finishes the claim then
    throw err;
  }
  return { jobId, status: 'queued', created: true };
}

/** Undo a submission that was not queued, unless a concurrent finisher of the same claim queued it. */
async function abandon(deps: ServiceDeps, tenant: string, jobId: string, idempotencyKey?: string): Promise<void> {
  if (await deps.queue.getJob(jobId)) return;
  if (idempotencyKey) await deps.store.releaseIdempotencyKey(tenant, idempotencyKey);
  await deps.store.deleteJobData(jobId);
}

export async function jobStatus(deps: ServiceDeps, read: Job<JobData, JobReturn>): Promise<JobStatusBody> {
  const { job, status } = await withState(deps.queue, read);
  return {
    jobId: job.id as string,
    op: job.data.op,
    status,
    progress: progressFor(job, status),
    attempts: job.attemptsMade,
    ...('modelId' in job.data && job.data.modelId ? { modelId: job.data.modelId, modelVersion: job.data.modelVersion ?? 1 } : {}),
    createdAt: new Date(job.timestamp).toISOString(),
    finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    ...(status === 'failed' ? { error: parseFailure(job.failedReason) } : {}),
  };
}

/**
 * A job's result bytes, waiting up to `waitSeconds` for it (long-poll by polling Redis with a
 * growing interval: cheap, and needs no event stream). `gone()` says the caller hung up. The job
 * is read once (tenant check); a poll is one round trip of two ZSCOREs (is the id in BullMQ's
 * completed or failed set?), not the job hash and a Lua state script: on a busy API that polling
 * cost more CPU than the rest of a job's intake.
 */
export async function awaitResult(deps: ServiceDeps, tenant: string, id: string, waitSeconds: number, gone: () => boolean): Promise<Buffer> {
  const job = await ownJob(deps, tenant, id);
  const jobId = job.id as string;
  const deadline = Date.now() + waitSeconds * 1000;
  for (let delay = 25; ; delay = Math.min(delay * 2, 100)) {
    const finished = await finishedAs(deps, jobId);
    if (finished === 'completed') {
      const bytes = await deps.store.getResult(jobId);
      if (!bytes) throw new VeilError('result_gone', 'the result was deleted or has expired', 410);
      return bytes;
    }
    if (finished === 'failed') {
      const error = parseFailure((await ownJob(deps, tenant, id)).failedReason);
      throw new VeilError('job_failed', `the job failed: ${error.code}: ${error.message}`, 409);
    }
    if (Date.now() + delay > deadline || gone()) {
      const state = await job.getState();
      // Finished since the poll: the next one reads it.
      if (state === 'completed' || state === 'failed') continue;
      throw new VeilError('not_ready', `job is ${toStatus(state)}; retry later or pass ?wait=SECONDS (≤ ${MAX_RESULT_WAIT_SECONDS})`, 409);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Whether BullMQ has moved the job to its completed or failed set (one round trip). */
async function finishedAs(deps: ServiceDeps, jobId: string): Promise<'completed' | 'failed' | undefined> {
  const replies = await deps.store.redis.pipeline().zscore(deps.queue.toKey('completed'), jobId).zscore(deps.queue.toKey('failed'), jobId).exec();
  const [completed, failed] = (replies ?? []).map(([err, score]) => {
    if (err) throw err;
    return score !== null;
  });
  return completed ? 'completed' : failed ? 'failed' : undefined;
}

export async function deleteJob(deps: ServiceDeps, tenant: string, id: string): Promise<void> {
  const job = await ownJob(deps, tenant, id);
  await deps.store.deleteJobData(job.id as string);
  try {
    await job.remove();
  } catch {
    // An active job is locked by its worker; with its inputs gone it cannot finish, and
    // its record expires with the retention.
  }
}
