import type { Packing } from '../shared/layout.js';
import type { Job, JobsOptions, Queue } from 'bullmq';
import type { JobStatus } from '../shared/api.js';
import type { ReportOp } from '../shared/dataset.js';
import type { ApiError } from '../shared/api.js';
import type { JobOp } from '../shared/wire.js';

/** The one BullMQ queue veil's API fills and its workers drain. */
export const QUEUE_NAME = 'jobs';

/** What BullMQ carries for a submitted job: small metadata only; ciphertexts live in the Store. */
export interface LinearJobData {
  tenant: string;
  op: JobOp;
  contextId: string;
  modelId?: string;
  /** The model version the job was checked against (see ModelMeta.digest). */
  modelDigest?: string;
  /** The model version the job was checked against (the worker refuses another: model_changed). */
  modelVersion?: number;
  /** Values per sample and samples: with the context's preset they fix the layout. */
  length: number;
  samples: number;
  /** grs: the inputs' packing (absent: 'coeff'). */
  packing?: Packing;
  scaleBits: number;
  valueBits: number;
  ciphertexts: number;
  createdAt: number;
}

/** What BullMQ carries for a report job: which dataset and window, never data. */
export interface ReportJobData {
  tenant: string;
  op: 'report';
  contextId: string;
  dataset: string;
  report: { op: ReportOp; since?: number; until?: number; windowDays?: number; modelId?: string; modelDigest?: string };
  /** Set for scheduled runs; the slot time itself comes from the job id (see scheduledForOf). */
  schedule?: string;
  /** Set for on-demand runs: the request time (the window ends here unless `until` is given). */
  scheduledFor?: number;
  createdAt: number;
}

/** The slot a scheduled report job stands for: BullMQ names them `repeat:<schedulerId>:<millis>`. */
export function scheduledForOf(jobId: string, data: ReportJobData, fallback: number): number {
  const m = /^repeat:.+:(\d+)$/.exec(jobId);
  return m ? Number(m[1]) : (data.scheduledFor ?? fallback);
}

/** The window [since, until) a report covers, in ms. */
export function reportWindow(data: ReportJobData, scheduledFor: number): { since: number; until: number } {
  const until = data.report.until ?? scheduledFor;
  const since = data.report.since ?? (data.report.windowDays ? until - data.report.windowDays * 86_400_000 : 0);
  return { since, until };
}

/** Any job on the queue: a submitted grs/mean job, or a dataset report. */
export type JobData = LinearJobData | ReportJobData;

/** The job's return value in BullMQ: metadata only, the result bytes are in the Store. */
export interface JobReturn {
  resultBytes: number;
}

/** BullMQ's states folded into the four the API promises. */
export function toStatus(state: string): JobStatus {
  if (state === 'active') return 'active';
  if (state === 'completed') return 'completed';
  if (state === 'failed') return 'failed';
  return 'queued';
}

/**
 * A job read before its state, as of that state. A job that finished between the two reads has a
 * snapshot without its outcome (no failedReason: "failed" with code `internal`; progress short of
 * 100; attempts one behind), so it is read again: BullMQ writes a finished job's hash in the same
 * script that moves it to its final state, so the second read has it (found by CI, twice).
 */
export async function withState<J extends Job>(queue: Queue, job: J): Promise<{ job: J; status: JobStatus }> {
  const status = toStatus(await job.getState());
  if ((status === 'completed' || status === 'failed') && !job.finishedOn) {
    const current = await queue.getJob(job.id as string);
    if (current) return { job: current as J, status };
  }
  return { job, status };
}

/** A job's progress for its status: 100 once completed (the worker's last report may be throttled away). */
export function progressFor(job: { progress: unknown }, status: JobStatus): number {
  if (status === 'completed') return 100;
  return typeof job.progress === 'number' ? job.progress : 0;
}

export function jobOptions(retentionSeconds: number, attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: retentionSeconds },
    removeOnFail: { age: retentionSeconds },
  };
}

/**
 * A failed job's reason as BullMQ keeps it (`failedReason`): "code: message". The worker writes
 * it with failureReason, the API reads it back with parseFailure.
 */
export function failureReason(code: string, message: string): string {
  return `${code}: ${message}`;
}

export function parseFailure(reason: string | undefined): ApiError {
  const m = /^([a-z_]+): ([\s\S]*)$/.exec(reason ?? '');
  return m ? { code: m[1] as string, message: m[2] as string } : { code: 'internal', message: 'the job failed; see the worker log' };
}
