import { Agent } from 'node:http';
import { jobResultSchema, pack, parseWire, unpack, type JobRequest, type JobResult } from '../../src/shared/wire.js';
import { send, type WireResponse } from '../lib/http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Statuses a client retries: the service is restarting, out of Redis, or throttling. */
const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * A client over several API processes, round-robin, that retries what a well-behaved client
 * retries — connection errors and 503/429 — with the same Idempotency-Key, so a retried
 * submission can never become a second job. 5xx other than those are counted (they are bugs) and
 * retried too, since the job must not be lost either way.
 */
export class RoundRobinClient {
  private next = 0;
  private readonly agents: Agent[];
  /** Unexpected 5xx (500, …) seen, by status. */
  readonly serverErrors = new Map<number, number>();
  connectionErrors = 0;
  retries = 0;

  constructor(private readonly bases: string[]) {
    this.agents = bases.map(() => new Agent({ keepAlive: true, maxSockets: 16 }));
  }

  private async request(
    method: string,
    path: string,
    body?: Uint8Array,
    headers: Record<string, string> = {},
    deadline = Date.now() + 600_000,
  ): Promise<WireResponse> {
    for (let attempt = 0; ; attempt++) {
      const i = this.next++ % this.bases.length;
      const r = await send(this.bases[i]!, { method, path, headers, ...(body ? { body } : {}) }, { agent: this.agents[i], timeoutMs: 60_000, keepBody: true });
      const retry = r.status === undefined || RETRYABLE.has(r.status) || r.status >= 500;
      if (r.status === undefined) this.connectionErrors++;
      else if (r.status >= 500 && !RETRYABLE.has(r.status)) this.serverErrors.set(r.status, (this.serverErrors.get(r.status) ?? 0) + 1);
      if (!retry || Date.now() > deadline) return r;
      this.retries++;
      await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
    }
  }

  async uploadContext(publicContext: Uint8Array): Promise<string> {
    const r = await this.request('POST', '/v1/contexts', publicContext, { 'content-type': 'application/msgpack' });
    if (r.status !== 201) throw new Error(`context upload: HTTP ${r.status ?? r.error}`);
    return (JSON.parse(r.body!.toString('utf8')) as { contextId: string }).contextId;
  }

  /** Submit until the service answers 202/200 for this key; the job id it names, or why not. */
  async submit(job: JobRequest, idempotencyKey: string): Promise<{ jobId?: string; status?: number; error?: string }> {
    const r = await this.request('POST', '/v1/jobs', pack(job), { 'content-type': 'application/msgpack', 'idempotency-key': idempotencyKey });
    if (r.status === 202 || r.status === 200) return { jobId: (JSON.parse(r.body!.toString('utf8')) as { jobId: string }).jobId, status: r.status };
    return { status: r.status, error: r.body?.toString('utf8').slice(0, 200) ?? r.error };
  }

  /** The job's result once it completed, or its final error (`job_failed`, `not_found` …). */
  async result(jobId: string, deadline: number): Promise<{ result?: JobResult; error?: string }> {
    for (;;) {
      const r = await this.request('GET', `/v1/jobs/${jobId}/result?wait=5`, undefined, {}, deadline);
      if (r.status === 200) return { result: parseWire(jobResultSchema, unpack(r.body!), 'result') };
      const { code, message } = errorOf(r.body);
      if (r.status !== 409 || code !== 'not_ready' || Date.now() > deadline) return { error: `HTTP ${r.status ?? r.error} ${code}: ${message.slice(0, 300)}` };
    }
  }

  close(): void {
    for (const a of this.agents) a.destroy();
  }
}

function errorOf(body: Buffer | undefined): { code: string; message: string } {
  try {
    const error = (JSON.parse(body?.toString('utf8') ?? '') as { error?: { code?: string; message?: string } }).error;
    return { code: error?.code ?? '', message: error?.message ?? '' };
  } catch {
    return { code: '', message: '' };
  }
}
