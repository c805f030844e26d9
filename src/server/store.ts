import type { RedisClient } from './redis.js';

/**
 * Everything veil keeps in Redis besides BullMQ's own keys. Ciphertexts are binary values
 * referenced by a job, never inside job data: BullMQ JSON-encodes job data (measured: 200 KB
 * payloads move at ~235 jobs/s inside job data vs thousands of binary GET/SET per second).
 *
 *   {p}:ctx:{tenant}:{contextId}     hash: bytes (public context), preset (content-addressed)
 *   {p}:job:{jobId}:in               hash: field i → input ciphertext i          (TTL retention)
 *   {p}:job:{jobId}:out              result msgpack                             (TTL retention)
 *   {p}:idem:{tenant}:{key}          job id of the first submission with this Idempotency-Key
 *   {p}:model:{tenant}:{modelId}     hash: meta (JSON), weights (f64 LE), variants (msgpack)
 *   {p}:models:{tenant}              set of model ids
 */
export class Store {
  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
    readonly retentionSeconds: number,
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  async putContext(tenant: string, contextId: string, bytes: Uint8Array, preset: string): Promise<void> {
    await this.redis.hset(this.key('ctx', tenant, contextId), 'bytes', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'preset', preset);
  }

  getContext(tenant: string, contextId: string): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.key('ctx', tenant, contextId), 'bytes');
  }

  /** The preset of a stored context, or null when this tenant has no such context. */
  getContextPreset(tenant: string, contextId: string): Promise<string | null> {
    return this.redis.hget(this.key('ctx', tenant, contextId), 'preset');
  }

  /** Store a job's input ciphertexts, in pipelined batches so a 100 MB job is not one command. */
  async putInputs(jobId: string, ciphertexts: Uint8Array[]): Promise<void> {
    const key = this.key('job', jobId, 'in');
    for (let from = 0; from < ciphertexts.length; from += 64) {
      const batch = this.redis.pipeline();
      ciphertexts.slice(from, from + 64).forEach((ct, j) => batch.hset(key, String(from + j), Buffer.from(ct.buffer, ct.byteOffset, ct.byteLength)));
      batch.expire(key, this.retentionSeconds);
      const results = await batch.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    }
  }

  getInput(jobId: string, index: number): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.key('job', jobId, 'in'), String(index));
  }

  async putResult(jobId: string, bytes: Uint8Array): Promise<void> {
    await this.redis
      .multi()
      .set(this.key('job', jobId, 'out'), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', this.retentionSeconds)
      .del(this.key('job', jobId, 'in'))
      .exec();
  }

  getResult(jobId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key('job', jobId, 'out'));
  }

  async deleteJobData(jobId: string): Promise<void> {
    await this.redis.del(this.key('job', jobId, 'in'), this.key('job', jobId, 'out'));
  }

  /** Claim an Idempotency-Key for `jobId`; returns the job id that holds it (ours or an earlier one). */
  async claimIdempotencyKey(tenant: string, key: string, jobId: string): Promise<string> {
    const k = this.key('idem', tenant, key);
    const set = await this.redis.set(k, jobId, 'EX', this.retentionSeconds, 'NX');
    return set === 'OK' ? jobId : ((await this.redis.get(k)) ?? jobId);
  }

  async releaseIdempotencyKey(tenant: string, key: string): Promise<void> {
    await this.redis.del(this.key('idem', tenant, key));
  }

  modelKey(tenant: string, modelId: string): string {
    return this.key('model', tenant, modelId);
  }

  modelsKey(tenant: string): string {
    return this.key('models', tenant);
  }
}
