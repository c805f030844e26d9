import { z } from 'zod';
import { InvalidInputError } from './errors.js';
import { PRESET_IDS } from './params.js';

/**
 * The JSON side of the HTTP API: every response body of /v1 (and the JSON request bodies) as a
 * schema. The API types what it sends with these (`satisfies`), the client parses what it gets
 * with them: a wire change is one edit here, checked by the compiler on both sides. Binary bodies
 * are in wire.ts; models in model.ts; datasets in api-datasets.ts.
 */

/** `{"error":{code,message}}`: every 4xx/5xx body. */
export const errorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ApiError = z.infer<typeof errorBodySchema>['error'];

/**
 * Idempotency-Key: a client-chosen key that makes a retried POST (job, append, report) take
 * effect once. Any 1-200 printable ASCII characters.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** The header's value, checked; undefined when the request has none. */
export function checkIdempotencyKey(value: string | undefined): string | undefined {
  if (value !== undefined && !IDEMPOTENCY_KEY.test(value)) {
    throw new InvalidInputError('invalid_idempotency_key', 'Idempotency-Key must be 1-200 printable ASCII characters');
  }
  return value || undefined;
}

export const contextIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'contextId is the 64-hex id POST /v1/contexts returned');

/** POST /v1/contexts */
export const contextStoredSchema = z.object({ contextId: contextIdSchema, preset: z.enum(PRESET_IDS) });
export type ContextStored = z.infer<typeof contextStoredSchema>;

export const JOB_STATUSES = ['queued', 'active', 'completed', 'failed'] as const;
export const jobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof jobStatusSchema>;

/** POST /v1/jobs (and a dataset report request): `unknown` when an Idempotency-Key's job expired. */
export const jobAcceptedSchema = z.object({ jobId: z.string(), status: z.union([jobStatusSchema, z.literal('unknown')]) });
export type JobAccepted = z.infer<typeof jobAcceptedSchema>;

/** GET /v1/jobs/:id */
export const jobStatusBodySchema = z.object({
  jobId: z.string(),
  op: z.string(),
  status: jobStatusSchema,
  progress: z.number(),
  attempts: z.number().int(),
  /** GRS jobs: the model and the version the job was checked against. */
  modelId: z.string().optional(),
  modelVersion: z.number().int().optional(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  error: errorBodySchema.shape.error.optional(),
});
export type JobStatusBody = z.infer<typeof jobStatusBodySchema>;

/** GET /v1/jobs/:id/result: `wait` seconds of long-polling at most. */
export const MAX_RESULT_WAIT_SECONDS = 30;

/** A time as ISO-8601 text or epoch milliseconds, to epoch milliseconds. */
export const timeSchema = z.union([z.number().int().nonnegative(), z.string().min(1)]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `'${v}' is not an ISO-8601 time` });
    return z.NEVER;
  }
  return ms;
});
