import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { contextStoredSchema, errorBodySchema, IDEMPOTENCY_HEADER, jobAcceptedSchema, jobStatusBodySchema, type JobStatusBody } from '../shared/api.js';
import {
  appendedSchema,
  datasetDetailSchema,
  datasetListSchema,
  datasetMetaSchema,
  reportAcceptedSchema,
  reportListSchema,
  scheduleInfoSchema,
  scheduleListSchema,
  type AppendRecords,
  type Appended,
  type CreateDataset,
  type DatasetMeta,
  type ReportListing,
  type ReportRequest,
  type ScheduleInfo,
  type ScheduleRequest,
} from '../shared/api-datasets.js';
import { contextIdOf } from '../shared/context.js';
import { VeilError } from '../shared/errors.js';
import { modelDetailSchema, modelInfoSchema, modelListSchema, type JsonModel, type ModelDetail, type ModelInfo } from '../shared/model.js';
import { jobResultSchema, pack, parseWire, unpack, type JobRequest, type JobResult } from '../shared/wire.js';

export type { DatasetMeta, JobStatusBody, ModelInfo, ReportListing, ScheduleInfo };

export interface ClientOptions {
  server: string;
  token?: string;
}

/** Contexts this process has uploaded, per server and token: content-addressed, so once is enough. */
const uploadedContexts = new Set<string>();

/**
 * The HTTP side of the SDK: one method per API route, errors as VeilError with the server's code.
 * Every JSON response is parsed with the schema the API sends it with (src/shared/api*.ts).
 */
export class VeilClient {
  private readonly base: string;
  /** Model infos by id: a job's length and a score's link come from here, not from more requests. */
  private readonly models = new Map<string, ModelInfo>();
  constructor(private readonly opts: ClientOptions) {
    this.base = opts.server.replace(/\/+$/, '');
  }

  private async request(
    method: string,
    path: string,
    body?: { type: string; data: Uint8Array | string },
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
    if (body) h['content-type'] = body.type;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers: h, body: body?.data as RequestInit['body'] });
    } catch (err) {
      const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new VeilError('server_unreachable', `cannot reach ${this.base} (${cause}); start it with npm start or set --server / VEIL_SERVER`, 503);
    }
    if (res.status >= 400) {
      const parsed = errorBodySchema.safeParse(await res.json().catch(() => undefined));
      // Not our JSON error (a proxy, say): keep a generic message.
      const error = parsed.success ? parsed.data.error : { code: 'http_error', message: `${method} ${path} → HTTP ${res.status}` };
      throw new VeilError(error.code, error.message, res.status);
    }
    return res;
  }

  /** A JSON request whose answer is parsed with `schema`. */
  private async call<S extends z.ZodType>(schema: S, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<z.output<S>> {
    const res = await this.request(method, path, body === undefined ? undefined : { type: 'application/json', data: JSON.stringify(body) }, headers);
    const parsed = schema.safeParse(await res.json());
    if (!parsed.success)
      throw new VeilError(
        'invalid_response',
        `${method} ${path}: the server's answer does not match this client (${parsed.error.issues[0]?.message ?? 'invalid'}); update one of them`,
        502,
      );
    return parsed.data;
  }

  private static idempotency(key: string | undefined): Record<string, string> {
    return key ? { [IDEMPOTENCY_HEADER]: key } : {};
  }

  /** Upload a public context once per process and server: it is content-addressed, so its id is known here. */
  async uploadContext(publicContext: Uint8Array): Promise<string> {
    const id = contextIdOf(publicContext);
    const cacheKey = `${this.base}\0${this.opts.token ?? ''}\0${id}`;
    if (uploadedContexts.has(cacheKey)) return id;
    const res = await this.request('POST', '/v1/contexts', { type: 'application/msgpack', data: publicContext });
    const { contextId } = contextStoredSchema.parse(await res.json());
    uploadedContexts.add(cacheKey);
    return contextId;
  }

  /**
   * Submit a job. Every submission carries an Idempotency-Key (a fresh one unless given), so a
   * connection lost mid-upload is retried without risk of running the job twice.
   */
  async submit(job: JobRequest, idempotencyKey: string = randomUUID()): Promise<string> {
    const body = { type: 'application/msgpack', data: pack(job) };
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.request('POST', '/v1/jobs', body, VeilClient.idempotency(idempotencyKey));
        return jobAcceptedSchema.parse(await res.json()).jobId;
      } catch (err) {
        if (!(err instanceof VeilError && err.code === 'server_unreachable') || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  status(jobId: string): Promise<JobStatusBody> {
    return this.call(jobStatusBodySchema, 'GET', `/v1/jobs/${encodeURIComponent(jobId)}`);
  }

  /** Wait for a job's result (long-polling ≤ 30 s at a time), reporting progress while it runs. */
  async result(jobId: string, opts: { timeoutMs?: number; onProgress?: (s: JobStatusBody) => void } = {}): Promise<JobResult> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30 * 60_000);
    for (;;) {
      const wait = opts.onProgress ? 1 : Math.min(30, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));
      try {
        const res = await this.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/result?wait=${wait}`);
        return parseWire(jobResultSchema, unpack(new Uint8Array(await res.arrayBuffer())), 'result');
      } catch (err) {
        if (!(err instanceof VeilError && err.code === 'not_ready') || Date.now() > deadline) throw err;
        if (opts.onProgress) opts.onProgress(await this.status(jobId));
      }
    }
  }

  async deleteJob(jobId: string): Promise<void> {
    await this.request('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`);
  }

  async listModels(): Promise<ModelInfo[]> {
    return (await this.call(modelListSchema, 'GET', '/v1/models')).models;
  }

  /** A model with its variant list (to match genotypes against); remembers its info. */
  async getModel(modelId: string): Promise<ModelDetail & { variantList: NonNullable<ModelDetail['variantList']> }> {
    const detail = await this.call(modelDetailSchema, 'GET', `/v1/models/${encodeURIComponent(modelId)}`);
    this.remember(detail);
    return { ...detail, variantList: detail.variantList ?? [] };
  }

  /** A model's info without its variant list: one request per model and client at most. */
  async getModelInfo(modelId: string): Promise<ModelInfo> {
    return this.models.get(modelId) ?? this.remember(await this.call(modelDetailSchema, 'GET', `/v1/models/${encodeURIComponent(modelId)}?variants=false`));
  }

  private remember(detail: ModelDetail): ModelInfo {
    const { variantList: _variants, ...info } = detail;
    this.models.set(info.modelId, info);
    return info;
  }

  async addModelJson(model: JsonModel): Promise<ModelInfo> {
    return this.remember(await this.call(modelInfoSchema, 'POST', '/v1/models', model));
  }

  async addModelFile(bytes: Uint8Array, id?: string): Promise<ModelInfo> {
    const query = id ? `?id=${encodeURIComponent(id)}` : '';
    const res = await this.request('POST', `/v1/models${query}`, { type: 'text/tab-separated-values', data: bytes });
    return this.remember(modelInfoSchema.parse(await res.json()));
  }

  // Datasets and report schedules (see docs/nightly-reports.md).

  createDataset(body: CreateDataset): Promise<DatasetMeta> {
    return this.call(datasetMetaSchema, 'POST', '/v1/datasets', body);
  }

  getDataset(name: string): Promise<DatasetMeta & { groups: number }> {
    return this.call(datasetDetailSchema, 'GET', `/v1/datasets/${encodeURIComponent(name)}`);
  }

  async listDatasets(): Promise<DatasetMeta[]> {
    return (await this.call(datasetListSchema, 'GET', '/v1/datasets')).datasets;
  }

  async deleteDataset(name: string): Promise<void> {
    await this.request('DELETE', `/v1/datasets/${encodeURIComponent(name)}`);
  }

  /** Append record groups (msgpack: ciphertexts are binary). */
  async appendRecords(name: string, body: AppendRecords, idempotencyKey?: string): Promise<Appended> {
    const res = await this.request(
      'POST',
      `/v1/datasets/${encodeURIComponent(name)}/records`,
      { type: 'application/msgpack', data: pack(body) },
      VeilClient.idempotency(idempotencyKey),
    );
    return appendedSchema.parse(await res.json());
  }

  async requestReport(name: string, body: ReportRequest, idempotencyKey?: string): Promise<string> {
    return (await this.call(reportAcceptedSchema, 'POST', `/v1/datasets/${encodeURIComponent(name)}/reports`, body, VeilClient.idempotency(idempotencyKey)))
      .jobId;
  }

  async listReports(name: string, limit = 100): Promise<ReportListing[]> {
    return (await this.call(reportListSchema, 'GET', `/v1/datasets/${encodeURIComponent(name)}/reports?limit=${limit}`)).reports;
  }

  putSchedule(name: string, schedule: string, body: ScheduleRequest): Promise<ScheduleInfo> {
    return this.call(scheduleInfoSchema, 'PUT', `/v1/datasets/${encodeURIComponent(name)}/schedules/${encodeURIComponent(schedule)}`, body);
  }

  async listSchedules(name: string): Promise<ScheduleInfo[]> {
    return (await this.call(scheduleListSchema, 'GET', `/v1/datasets/${encodeURIComponent(name)}/schedules`)).schedules;
  }

  async deleteSchedule(name: string, schedule: string): Promise<void> {
    await this.request('DELETE', `/v1/datasets/${encodeURIComponent(name)}/schedules/${encodeURIComponent(schedule)}`);
  }

  async health(): Promise<boolean> {
    try {
      await this.request('GET', '/readyz');
      return true;
    } catch {
      return false;
    }
  }
}
