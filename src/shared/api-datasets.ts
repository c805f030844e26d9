import { z } from 'zod';
import { contextIdSchema, jobStatusSchema, timeSchema } from './api.js';
import { DATASET_KINDS, REPORT_OPS } from './dataset.js';
import { bin, WIRE_VERSION } from './wire.js';

/** The HTTP bodies of /v1/datasets (see dataset.ts for what a dataset is). */

/** POST /v1/datasets */
export const createDatasetSchema = z
  .object({
    name: z.string(),
    contextId: contextIdSchema,
    kind: z.enum(DATASET_KINDS).default('readings'),
    /** genotypes: dosages per record; or take it from a model. */
    variants: z.number().int().min(1).max(4_194_304).optional(),
    modelId: z.string().optional(),
    retentionDays: z.number().int().min(1).max(3650).optional(),
    valueBits: z.number().int().min(1).max(40).optional(),
    scaleBits: z.number().int().min(0).max(40).optional(),
  })
  .strict();
export type CreateDataset = z.input<typeof createDatasetSchema>;

/** How readings sit in coefficients (see readings.ts). */
export const readingsEncodingSchema = z.object({
  scaleBits: z.number(),
  valueBits: z.number(),
  limbBits: z.number(),
  xLimbs: z.number(),
  x2Limbs: z.number(),
  blockSize: z.number(),
});

/** A dataset, as created, listed and stored. */
export const datasetMetaSchema = z.object({
  dataset: z.string(),
  kind: z.enum(DATASET_KINDS),
  contextId: z.string(),
  preset: z.string(),
  retentionDays: z.number(),
  createdAt: z.string(),
  /** readings: how values sit in coefficients. */
  encoding: readingsEncodingSchema.optional(),
  /** genotypes: dosages per record (the models it is scored against must have as many variants). */
  variants: z.number().int().optional(),
});
export type DatasetMeta = z.infer<typeof datasetMetaSchema>;

export const datasetListSchema = z.object({ datasets: z.array(datasetMetaSchema) });
/** GET /v1/datasets/:name: the meta and how many record groups it holds. */
export const datasetDetailSchema = datasetMetaSchema.extend({ groups: z.number().int() });

/** POST /v1/datasets/:name/records (msgpack: ciphertexts are binary). */
export const appendRecordsSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
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
export type AppendRecords = z.infer<typeof appendRecordsSchema>;

export const appendedSchema = z.object({ dataset: z.string(), records: z.number().int(), groups: z.number().int(), duplicate: z.boolean().optional() });
export type Appended = z.infer<typeof appendedSchema>;

/** POST /v1/datasets/:name/reports */
export const reportRequestSchema = z
  .object({ op: z.enum(REPORT_OPS), since: timeSchema.optional(), until: timeSchema.optional(), modelId: z.string().optional() })
  .strict();
export type ReportRequest = z.input<typeof reportRequestSchema>;

export const reportAcceptedSchema = z.object({ jobId: z.string(), op: z.enum(REPORT_OPS), status: jobStatusSchema });

/** GET /v1/datasets/:name/reports */
export const reportListingSchema = z.object({
  jobId: z.string(),
  op: z.enum(REPORT_OPS),
  scheduledFor: z.string(),
  since: z.string().nullable(),
  until: z.string(),
  schedule: z.string().optional(),
  status: jobStatusSchema,
  progress: z.number(),
});
export type ReportListing = z.infer<typeof reportListingSchema>;
export const reportListSchema = z.object({ dataset: z.string(), reports: z.array(reportListingSchema) });

/** PUT /v1/datasets/:name/schedules/:schedule */
export const scheduleRequestSchema = z
  .object({
    op: z.enum(REPORT_OPS),
    cron: z.string().min(1).max(200),
    tz: z.string().min(1).max(64).default('UTC'),
    windowDays: z.number().int().min(1).max(3650).optional(),
    modelId: z.string().optional(),
  })
  .strict();
export type ScheduleRequest = z.input<typeof scheduleRequestSchema>;

export const scheduleInfoSchema = z.object({
  dataset: z.string().optional(),
  schedule: z.string(),
  schedulerId: z.string(),
  op: z.enum(REPORT_OPS),
  cron: z.string(),
  tz: z.string(),
  windowDays: z.number().nullable(),
  modelId: z.string().nullable().optional(),
  next: z.string().nullable(),
});
export type ScheduleInfo = z.infer<typeof scheduleInfoSchema>;
export const scheduleListSchema = z.object({ dataset: z.string(), schedules: z.array(scheduleInfoSchema) });
