import { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/**
 * Contexts, job ciphertexts and job Idempotency-Keys in Redis (key layout: keys.ts). Ciphertexts
 * are binary values referenced by a job, never inside job data: BullMQ JSON-encodes job data
 * (measured: 200 KB payloads move at ~235 jobs/s inside job data vs thousands of binary GET/SET
 * per second).
 */
export class Store {
  readonly keys: Keys;
  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
    readonly retentionSeconds: number,
  ) {
    this.keys = new Keys(prefix);
  }

  async putContext(tenant: string, contextId: string, bytes: Uint8Array, preset: string): Promise<void> {
    await this.redis.hset(this.keys.context(tenant, contextId), 'bytes', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'preset', preset);
  }

  getContext(tenant: string, contextId: string): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.keys.context(tenant, contextId), 'bytes');
  }

  /** The preset of a stored context, or null when this tenant has no such context. */
  getContextPreset(tenant: string, contextId: string): Promise<string | null> {
    return this.redis.hget(this.keys.context(tenant, contextId), 'preset');
  }

  /** Store a job's input ciphertexts, in pipelined batches so a 100 MB job is not one command. */
  async putInputs(jobId: string, ciphertexts: Uint8Array[]): Promise<void> {
    const key = this.keys.jobInputs(jobId);
    for (let from = 0; from < ciphertexts.length; from += 64) {
      const batch = this.redis.pipeline();
      ciphertexts.slice(from, from + 64).forEach((ct, j) => batch.hset(key, String(from + j), Buffer.from(ct.buffer, ct.byteOffset, ct.byteLength)));
      batch.expire(key, this.retentionSeconds);
      const results = await batch.exec();
      const failed = results?.find(([err]) => err);
      if (failed?.[0]) throw failed[0];
    }
  }

  getInput(jobId: string, index: number): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.keys.jobInputs(jobId), String(index));
  }

  async putResult(jobId: string, bytes: Uint8Array): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.jobResult(jobId), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', this.retentionSeconds)
      .del(this.keys.jobInputs(jobId))
      .exec();
  }

  /** Bytes of a stored result, 0 when there is none. */
  resultSize(jobId: string): Promise<number> {
    return this.redis.strlen(this.keys.jobResult(jobId));
  }

  getResult(jobId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.jobResult(jobId));
  }

  async deleteJobData(jobId: string): Promise<void> {
    await this.redis.del(this.keys.jobInputs(jobId), this.keys.jobResult(jobId));
  }

  /** Claim an Idempotency-Key for `jobId`; returns the job id that holds it (ours or an earlier one). */
  async claimIdempotencyKey(tenant: string, key: string, jobId: string): Promise<string> {
    const k = this.keys.idempotency(tenant, key);
    const set = await this.redis.set(k, jobId, 'EX', this.retentionSeconds, 'NX');
    return set === 'OK' ? jobId : ((await this.redis.get(k)) ?? jobId);
  }

  async releaseIdempotencyKey(tenant: string, key: string): Promise<void> {
    await this.redis.del(this.keys.idempotency(tenant, key));
  }
}
