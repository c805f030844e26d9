import { z } from 'zod';
import { contextStoredSchema, IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY, jobAcceptedSchema, jobStatusBodySchema, MAX_RESULT_WAIT_SECONDS } from '../shared/api.js';
import {
  appendedSchema,
  appendRecordsSchema,
  createDatasetSchema,
  datasetDetailSchema,
  datasetListSchema,
  datasetMetaSchema,
  reportAcceptedSchema,
  reportListSchema,
  reportRequestSchema,
  scheduleInfoSchema,
  scheduleListSchema,
  scheduleRequestSchema,
} from '../shared/api-datasets.js';
import { DATASET_NAME, SCHEDULE_NAME } from '../shared/dataset.js';
import { jsonModelSchema, MODEL_ID, modelDetailSchema, modelInfoSchema, modelListSchema } from '../shared/model.js';
import { jobRequestSchema, jobResultSchema, publicContextSchema } from '../shared/wire.js';
import { MSGPACK_TYPES, PGS_TYPES } from './http.js';

/**
 * Every /v1 route with the zod schemas the route parses and answers with: the one place the
 * OpenAPI document (openapi.ts) is built from. test/openapi.test.ts fails when the Express app has
 * a /v1 route this table lacks (or the reverse), and every /v1 response the tests see is checked
 * against the document, so an entry cannot drift from the route it describes.
 */

/** A schema with the name it has under components/schemas. */
export interface Named {
  name: string;
  schema: z.ZodType;
}

/** One request or response body: JSON or msgpack with a schema (msgpack: the decoded map), or opaque bytes. */
export interface Body {
  types: readonly string[];
  schema?: Named;
}

export interface Reply {
  description: string;
  body?: Body;
  /** Sets Location to the created or named resource. */
  location?: boolean;
}

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI form: `/v1/jobs/{id}`. */
  path: string;
  summary: string;
  /** No token needed (the scope check does not apply either). */
  public?: boolean;
  /** Path parameters with a stricter schema than "a string". */
  params?: Record<string, z.ZodType>;
  query?: Record<string, { schema: z.ZodType; description: string }>;
  /** Accepts Idempotency-Key: a retried request takes effect once. */
  idempotent?: boolean;
  body?: Body[];
  replies: Record<number, Reply>;
  /** Statuses answered with the error body, besides the ones every /v1 route may give (openapi.ts). */
  errors: number[];
}

const json = (name: string, schema: z.ZodType): Body => ({ types: ['application/json'], schema: { name, schema } });
const msgpack = (name: string, schema: z.ZodType): Body => ({ types: MSGPACK_TYPES, schema: { name, schema } });
const noContent: Reply = { description: 'Done; no body.' };

const jobAccepted = json('JobAccepted', jobAcceptedSchema);
const modelInfo = json('ModelInfo', modelInfoSchema);
const modelBody = [json('JsonModel', jsonModelSchema), { types: PGS_TYPES }];
const reportAccepted = json('ReportAccepted', reportAcceptedSchema);
const scheduleInfo = json('ScheduleInfo', scheduleInfoSchema);
const appended = json('Appended', appendedSchema);
const datasetParams = { name: z.string().regex(DATASET_NAME) };
const scheduleParams = { ...datasetParams, schedule: z.string().regex(SCHEDULE_NAME) };
const modelParams = { id: z.string().regex(MODEL_ID) };

export const ROUTES: RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/openapi.json',
    summary: 'This API description (OpenAPI 3.1), generated from the schemas the server validates with.',
    public: true,
    replies: { 200: { description: 'The OpenAPI document.', body: { types: ['application/json'] } } },
    errors: [],
  },
  {
    method: 'post',
    path: '/v1/contexts',
    summary: "Store the owner's public evaluation context (parameters, public key, Galois keys); content-addressed.",
    body: [msgpack('PublicContext', publicContextSchema)],
    replies: { 201: { description: 'Stored (or already stored): its id and preset.', body: json('ContextStored', contextStoredSchema), location: true } },
    errors: [400, 413, 415, 422],
  },
  {
    method: 'post',
    path: '/v1/jobs',
    summary: 'Submit an encrypted computation (grs: a score with a model; mean: of readings).',
    idempotent: true,
    body: [msgpack('JobRequest', jobRequestSchema)],
    replies: {
      202: { description: 'Queued.', body: jobAccepted, location: true },
      200: { description: 'A repeat of an Idempotency-Key: the first job.', body: jobAccepted, location: true },
      409: { description: "A repeat of an Idempotency-Key whose job has expired (status 'unknown').", body: jobAccepted, location: true },
    },
    errors: [400, 404, 413, 415, 422, 429],
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}',
    summary: "A job's status, progress and, once failed, its error.",
    replies: { 200: { description: 'The job.', body: json('JobStatus', jobStatusBodySchema) } },
    errors: [404],
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/result',
    summary: "The encrypted result (msgpack); only the owner's secret key decrypts it.",
    query: { wait: { schema: z.number().int().min(0).max(MAX_RESULT_WAIT_SECONDS), description: 'Seconds to long-poll for the result.' } },
    replies: { 200: { description: 'The result.', body: { types: ['application/msgpack'], schema: { name: 'JobResult', schema: jobResultSchema } } } },
    errors: [404, 409, 410],
  },
  { method: 'delete', path: '/v1/jobs/{id}', summary: 'Delete a job and its result.', replies: { 204: noContent }, errors: [404] },
  {
    method: 'get',
    path: '/v1/models',
    summary: 'The models this tenant can score with.',
    replies: { 200: { description: 'The models.', body: json('ModelList', modelListSchema) } },
    errors: [],
  },
  {
    method: 'post',
    path: '/v1/models',
    summary: 'Add a model: JSON weights, or a PGS Catalog scoring file (gzip allowed). A new id only.',
    query: { id: { schema: z.string().regex(MODEL_ID), description: 'The id to store it under (default: from the body or file).' } },
    body: modelBody,
    replies: { 201: { description: 'Stored.', body: modelInfo, location: true } },
    errors: [400, 409, 413, 415, 422, 429],
  },
  {
    method: 'get',
    path: '/v1/models/{id}',
    summary: "A model's info and, unless variants=false, its variant list in model order.",
    params: modelParams,
    query: { variants: { schema: z.enum(['true', 'false']), description: 'false: the info alone.' } },
    replies: { 200: { description: 'The model.', body: json('ModelDetail', modelDetailSchema) } },
    errors: [404],
  },
  {
    method: 'put',
    path: '/v1/models/{id}',
    summary: "Replace a model (a new version; queued jobs of the old one fail 'model_changed').",
    params: modelParams,
    body: modelBody,
    replies: { 200: { description: 'Stored as the next version.', body: modelInfo, location: true } },
    errors: [400, 404, 409, 413, 415, 422, 429],
  },
  { method: 'delete', path: '/v1/models/{id}', summary: 'Delete a model.', params: modelParams, replies: { 204: noContent }, errors: [400, 404] },
  {
    method: 'get',
    path: '/v1/datasets',
    summary: "The tenant's datasets.",
    replies: { 200: { description: 'The datasets.', body: json('DatasetList', datasetListSchema) } },
    errors: [],
  },
  {
    method: 'post',
    path: '/v1/datasets',
    summary: 'Create a dataset of encrypted readings or genotype records, bound to one public context.',
    body: [json('CreateDataset', createDatasetSchema)],
    replies: { 201: { description: 'Created.', body: json('DatasetMeta', datasetMetaSchema), location: true } },
    errors: [400, 404, 409, 413, 415, 422, 429],
  },
  {
    method: 'get',
    path: '/v1/datasets/{name}',
    summary: 'A dataset and how many record groups it holds.',
    params: datasetParams,
    replies: { 200: { description: 'The dataset.', body: json('DatasetDetail', datasetDetailSchema) } },
    errors: [400, 404],
  },
  {
    method: 'delete',
    path: '/v1/datasets/{name}',
    summary: 'Delete a dataset, its records and schedules.',
    params: datasetParams,
    replies: { 204: noContent },
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/v1/datasets/{name}/records',
    summary: 'Append encrypted records.',
    params: datasetParams,
    idempotent: true,
    body: [msgpack('AppendRecords', appendRecordsSchema)],
    replies: { 201: { description: 'Appended.', body: appended }, 200: { description: 'A repeat of an Idempotency-Key: nothing appended.', body: appended } },
    errors: [400, 404, 409, 413, 415, 422, 429],
  },
  {
    method: 'post',
    path: '/v1/datasets/{name}/reports',
    summary: 'Run a report (mean, variance, trend, grs) over a time window of the dataset.',
    params: datasetParams,
    idempotent: true,
    body: [json('ReportRequest', reportRequestSchema)],
    replies: {
      202: { description: 'Queued; poll the job.', body: reportAccepted, location: true },
      200: { description: 'A repeat of an Idempotency-Key: the first job.', body: reportAccepted, location: true },
    },
    errors: [400, 404, 413, 415, 422, 429],
  },
  {
    method: 'get',
    path: '/v1/datasets/{name}/reports',
    summary: "The dataset's reports, newest first.",
    params: datasetParams,
    query: { limit: { schema: z.number().int().min(1).max(1000), description: 'At most this many (default 100).' } },
    replies: { 200: { description: 'The reports.', body: json('ReportList', reportListSchema) } },
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/v1/datasets/{name}/schedules',
    summary: "The dataset's report schedules.",
    params: datasetParams,
    replies: { 200: { description: 'The schedules.', body: json('ScheduleList', scheduleListSchema) } },
    errors: [400, 404],
  },
  {
    method: 'put',
    path: '/v1/datasets/{name}/schedules/{schedule}',
    summary: 'Create or replace a cron schedule of reports.',
    params: scheduleParams,
    body: [json('ScheduleRequest', scheduleRequestSchema)],
    replies: { 201: { description: 'Created.', body: scheduleInfo }, 200: { description: 'Replaced.', body: scheduleInfo } },
    errors: [400, 404, 413, 415, 422, 429],
  },
  {
    method: 'delete',
    path: '/v1/datasets/{name}/schedules/{schedule}',
    summary: 'Delete a schedule.',
    params: scheduleParams,
    replies: { 204: noContent },
    errors: [400, 404],
  },
];

/** The Idempotency-Key header, as documented. */
export const IDEMPOTENCY_PARAMETER = {
  name: IDEMPOTENCY_HEADER,
  in: 'header',
  required: false,
  description: 'A client-chosen key (1-200 printable ASCII characters) that makes a retried request take effect once.',
  schema: { type: 'string', pattern: IDEMPOTENCY_KEY.source },
};
