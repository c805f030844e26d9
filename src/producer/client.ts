import { randomUUID } from 'node:crypto';
import { contextIdOf } from '../shared/context.js';
import { VeilError } from '../shared/errors.js';
import { jobResultSchema, pack, parseWire, unpack, type JobRequest, type JobResult } from '../shared/wire.js';

export interface ClientOptions {
  server: string;
  token?: string;
}

export interface JobStatusBody {
  jobId: string;
  op: string;
  status: 'queued' | 'active' | 'completed' | 'failed';
  progress: number;
  attempts: number;
  createdAt: string;
  finishedAt: string | null;
  error?: { code: string; message: string };
}

export interface ModelInfo {
  modelId: string;
  name: string;
  variants: number;
  bias: number;
  link: 'identity' | 'logistic';
  metadata: Record<string, string>;
}

/** The HTTP side of the SDK: one method per API route, errors as VeilError with the server's code. */
export class VeilClient {
  private readonly base: string;
  private readonly models = new Map<string, ModelInfo>();
  private readonly uploaded = new Set<string>();
  constructor(private readonly opts: ClientOptions) {
    this.base = opts.server.replace(/\/+$/, '');
  }

  private async request(method: string, path: string, body?: { type: string; data: Uint8Array | string }, headers: Record<string, string> = {}): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
    if (body) h['content-type'] = body.type;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers: h, body: body?.data as RequestInit['body'] });
    } catch (err) {
      throw new VeilError('server_unreachable', `cannot reach ${this.base} (${(err as Error).cause ?? (err as Error).message}); start it with npm start or set --server / VEIL_SERVER`, 503);
    }
    if (res.status >= 400) {
      let code = 'http_error';
      let message = `${method} ${path} → HTTP ${res.status}`;
      try {
        const j = (await res.json()) as { error?: { code?: string; message?: string } };
        code = j.error?.code ?? code;
        message = j.error?.message ?? message;
      } catch {
        // not our JSON error: keep the generic message
      }
      throw new VeilError(code, message, res.status);
    }
    return res;
  }

  /** Upload a public context once per client: it is content-addressed, so its id is known here. */
  async uploadContext(publicContext: Uint8Array): Promise<string> {
    const id = contextIdOf(publicContext);
    if (this.uploaded.has(id)) return id;
    const res = await this.request('POST', '/v1/contexts', { type: 'application/msgpack', data: publicContext });
    const { contextId } = (await res.json()) as { contextId: string };
    this.uploaded.add(contextId);
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
        const res = await this.request('POST', '/v1/jobs', body, { 'idempotency-key': idempotencyKey });
        return ((await res.json()) as { jobId: string }).jobId;
      } catch (err) {
        if (!(err instanceof VeilError && err.code === 'server_unreachable') || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  async status(jobId: string): Promise<JobStatusBody> {
    return (await (await this.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}`)).json()) as JobStatusBody;
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
    return ((await (await this.request('GET', '/v1/models')).json()) as { models: ModelInfo[] }).models;
  }

  async getModel(modelId: string): Promise<ModelInfo & { variantList: import('../shared/model.js').ModelVariant[] }> {
    return (await (await this.request('GET', `/v1/models/${encodeURIComponent(modelId)}`)).json()) as ModelInfo & { variantList: import('../shared/model.js').ModelVariant[] };
  }

  /** A model's metadata without its variant list (cached: models are immutable per digest). */
  async getModelInfo(modelId: string): Promise<ModelInfo> {
    const hit = this.models.get(modelId);
    if (hit) return hit;
    const list = await this.listModels();
    const found = list.find((m) => m.modelId === modelId);
    if (!found) throw new VeilError('model_not_found', `model '${modelId}' does not exist; list models with veil models list`, 404);
    this.models.set(modelId, found);
    return found;
  }

  async addModelJson(model: { id?: string; name: string; weights: number[]; bias?: number; link?: string; variants?: unknown[] }): Promise<ModelInfo> {
    const res = await this.request('POST', '/v1/models', { type: 'application/json', data: JSON.stringify(model) });
    return (await res.json()) as ModelInfo;
  }

  async addModelFile(bytes: Uint8Array, id?: string): Promise<ModelInfo> {
    const query = id ? `?id=${encodeURIComponent(id)}` : '';
    const res = await this.request('POST', `/v1/models${query}`, { type: 'text/tab-separated-values', data: bytes });
    return (await res.json()) as ModelInfo;
  }

  // Datasets and report schedules (see docs/nightly-reports.md).

  private async json<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.request(method, path, body === undefined ? undefined : { type: 'application/json', data: JSON.stringify(body) }, headers);
    return (res.status === 204 ? {} : await res.json()) as T;
  }

  createDataset(body: Record<string, unknown>): Promise<DatasetInfo> {
    return this.json('POST', '/v1/datasets', body);
  }

  getDataset(name: string): Promise<DatasetInfo & { groups: number }> {
    return this.json('GET', `/v1/datasets/${encodeURIComponent(name)}`);
  }

  async listDatasets(): Promise<DatasetInfo[]> {
    return (await this.json<{ datasets: DatasetInfo[] }>('GET', '/v1/datasets')).datasets;
  }

  async deleteDataset(name: string): Promise<void> {
    await this.request('DELETE', `/v1/datasets/${encodeURIComponent(name)}`);
  }

  /** Append record groups (msgpack: ciphertexts are binary). */
  async appendRecords(name: string, body: { v: 1; records: unknown[] }, idempotencyKey?: string): Promise<{ dataset: string; records: number; duplicate?: boolean }> {
    const res = await this.request('POST', `/v1/datasets/${encodeURIComponent(name)}/records`, { type: 'application/msgpack', data: pack(body) }, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
    return (await res.json()) as { dataset: string; records: number; duplicate?: boolean };
  }

  async requestReport(name: string, body: { op: string; since?: string; until?: string; modelId?: string }, idempotencyKey?: string): Promise<string> {
    return (await this.json<{ jobId: string }>('POST', `/v1/datasets/${encodeURIComponent(name)}/reports`, body, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {})).jobId;
  }

  async listReports(name: string, limit = 100): Promise<ReportListing[]> {
    return (await this.json<{ reports: ReportListing[] }>('GET', `/v1/datasets/${encodeURIComponent(name)}/reports?limit=${limit}`)).reports;
  }

  putSchedule(name: string, schedule: string, body: { op: string; cron: string; tz: string; windowDays?: number; modelId?: string }): Promise<ScheduleInfo> {
    return this.json('PUT', `/v1/datasets/${encodeURIComponent(name)}/schedules/${encodeURIComponent(schedule)}`, body);
  }

  async listSchedules(name: string): Promise<ScheduleInfo[]> {
    return (await this.json<{ schedules: ScheduleInfo[] }>('GET', `/v1/datasets/${encodeURIComponent(name)}/schedules`)).schedules;
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

export interface DatasetInfo {
  dataset: string;
  kind: 'readings' | 'genotypes';
  contextId: string;
  preset: string;
  retentionDays: number;
  createdAt: string;
  encoding?: import('../shared/readings.js').ReadingsEncoding;
  variants?: number;
}

export interface ReportListing {
  jobId: string;
  op: string;
  scheduledFor: string;
  since: string | null;
  until: string;
  schedule?: string;
  status: JobStatusBody['status'];
  progress: number;
}

export interface ScheduleInfo {
  dataset?: string;
  schedule: string;
  schedulerId: string;
  op: string;
  cron: string;
  tz: string;
  windowDays: number | null;
  next: string | null;
}
