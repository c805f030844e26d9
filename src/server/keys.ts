/**
 * Every Redis key veil writes besides BullMQ's own, in one place. `p` is the deployment prefix
 * (a `{hash tag}` on a Cluster, so every key shares one slot: see redis.ts).
 *
 *   {p}:ctx:{tenant}:{contextId}         hash: bytes (public context), preset (content-addressed)
 *   {p}:job:{jobId}:in                   hash: field i → input ciphertext i      (TTL retention)
 *   {p}:job:{jobId}:out                  result msgpack                         (TTL retention)
 *   {p}:idem:{tenant}:{key}              job id of the first submission with this Idempotency-Key
 *   {p}:model:{tenant}:{modelId}         hash: meta (JSON), weights (f64 LE), variants (msgpack)
 *   {p}:models:{tenant}                  set of model ids
 *   {p}:ds:{tenant}:{name}               hash: meta (JSON DatasetMeta), seq (record-group counter)
 *   {p}:ds:{tenant}:{name}:idx           zset: record-group seq, score = reading time (ms)
 *   {p}:ds:{tenant}:{name}:rec:{seq}     hash: meta (JSON GroupMeta), "0","1",… ciphertexts
 *                                        (TTL: the group's time + the dataset's retention; a
 *                                        staged group not yet published: STAGE_SECONDS)
 *   {p}:ds:{tenant}:{name}:ids           zset: genotype record id, score = its group's expiry (ms)
 *   {p}:ds:{tenant}:{name}:idem:{key}    JSON: what an append with this Idempotency-Key stored
 *   {p}:ds:{tenant}:{name}:sched         hash: schedule name → JSON ScheduleDef
 *   {p}:ds:{tenant}:{name}:reports       zset: report job id, score = scheduledFor (ms)
 *   {p}:datasets:{tenant}                set of dataset names
 *   {p}:ds-registry                      set of JSON [tenant, name]: what the scheduler prunes
 *   {p}:schedules                        hash: schedulerId → JSON ScheduleDef (what the scheduler
 *                                        role reconciles BullMQ's job schedulers against)
 *   {p}:lock:schedules                   the reconciliation lock (PX 10 s)
 *   {p}:quota:{tenant}:in-flight         zset: unfinished job id, score = input bytes (quotas.ts)
 *   {p}:quota:private-jobs:{modelId}:{tokenId}:{day}
 *                                        a token's jobs on a private model that day (private-models.ts)
 */
export class Keys {
  constructor(readonly prefix: string) {}

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  context(tenant: string, contextId: string): string {
    return this.key('ctx', tenant, contextId);
  }
  jobInputs(jobId: string): string {
    return this.key('job', jobId, 'in');
  }
  jobResult(jobId: string): string {
    return this.key('job', jobId, 'out');
  }
  idempotency(tenant: string, key: string): string {
    return this.key('idem', tenant, key);
  }
  model(tenant: string, modelId: string): string {
    return this.key('model', tenant, modelId);
  }
  models(tenant: string): string {
    return this.key('models', tenant);
  }
  /** A dataset's hash, or (with `rest`) one of its sub-keys: idx, ids, sched, reports, rec:{seq}, idem:{key}. */
  dataset(tenant: string, dataset: string, ...rest: string[]): string {
    return this.key('ds', tenant, dataset, ...rest);
  }
  datasets(tenant: string): string {
    return this.key('datasets', tenant);
  }
  datasetRegistry(): string {
    return this.key('ds-registry');
  }
  schedules(): string {
    return this.key('schedules');
  }
  scheduleLock(): string {
    return this.key('lock', 'schedules');
  }
  jobsInFlight(tenant: string): string {
    return this.key('quota', tenant, 'in-flight');
  }
  privateModelJobs(modelId: string, tokenId: string, day: number): string {
    return this.key('quota', 'private-jobs', modelId, tokenId, String(day));
  }
}
