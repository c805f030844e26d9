import type { JobsOptions } from 'bullmq';
import type { ReportJobData } from './datasets.js';
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
  scaleBits: number;
  valueBits: number;
  ciphertexts: number;
  createdAt: number;
}

/** Any job on the queue: a submitted grs/mean job, or a dataset report (see datasets.ts). */
export type JobData = LinearJobData | ReportJobData;

/** The job's return value in BullMQ: metadata only, the result bytes are in the Store. */
export interface JobReturn {
  resultBytes: number;
}

export type JobStatus = 'queued' | 'active' | 'completed' | 'failed';

/** BullMQ's states folded into the four the API promises. */
export function toStatus(state: string): JobStatus {
  if (state === 'active') return 'active';
  if (state === 'completed') return 'completed';
  if (state === 'failed') return 'failed';
  return 'queued';
}

export function jobOptions(retentionSeconds: number, attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: retentionSeconds },
    removeOnFail: { age: retentionSeconds },
  };
}
