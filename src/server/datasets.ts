import { DATASET_NAME } from '../shared/dataset.js';
import type { DatasetMeta } from '../shared/api-datasets.js';
import { NotFoundError, VeilError } from '../shared/errors.js';
import { ScheduleStore, schedulerIdOf, type ScheduleDef } from './schedules.js';
import type { Store } from './store.js';

/**
 * Datasets: encrypted records appended over time (append.ts), reports computed over a time window
 * (the worker's reports.ts), schedules (schedules.ts). A record group is one record of an append:
 * one ciphertext of ≤ blockSize readings, or a packed group of genotype records (vectorLayout).
 * Ciphertexts are stored once, seeded and zstd-packed as the owner sent them, and never travel
 * inside BullMQ job data.
 */
export interface GroupMeta {
  seq: number;
  at: number;
  /** Readings in the record, or genotype records in the group. */
  count: number;
  ciphertexts: number;
  /** genotypes: record ids in order, and the fixed-point metadata the owner declared. */
  ids?: string[];
  scaleBits?: number;
  valueBits?: number;
}

/** Datasets in Redis (key layout: keys.ts), on the Store's connection and prefix. */
export class DatasetStore {
  readonly schedules: ScheduleStore;
  constructor(readonly store: Store) {
    this.schedules = new ScheduleStore(store);
  }

  get redis() {
    return this.store.redis;
  }

  get keys() {
    return this.store.keys;
  }

  key(tenant: string, dataset: string, ...rest: string[]): string {
    return this.keys.dataset(tenant, dataset, ...rest);
  }

  async create(tenant: string, meta: DatasetMeta): Promise<void> {
    const created = await this.redis.hsetnx(this.key(tenant, meta.dataset), 'meta', JSON.stringify(meta));
    if (!created) throw new VeilError('dataset_exists', `dataset '${meta.dataset}' already exists; pick another name or delete it first`, 409);
    await this.redis.sadd(this.keys.datasets(tenant), meta.dataset);
    await this.redis.sadd(this.keys.datasetRegistry(), JSON.stringify([tenant, meta.dataset]));
  }

  async get(tenant: string, dataset: string): Promise<DatasetMeta> {
    const raw = DATASET_NAME.test(dataset) ? await this.redis.hget(this.key(tenant, dataset), 'meta') : null;
    if (!raw) throw new NotFoundError('dataset', dataset);
    return JSON.parse(raw) as DatasetMeta;
  }

  async list(tenant: string): Promise<DatasetMeta[]> {
    const names = (await this.redis.smembers(this.keys.datasets(tenant))).sort();
    const metas = await Promise.all(names.map((n) => this.redis.hget(this.key(tenant, n), 'meta')));
    return metas.filter((m): m is string => m !== null).map((m) => JSON.parse(m) as DatasetMeta);
  }

  /**
   * Remove groups past the dataset's retention from its index and delete them (their keys expire
   * on their own TTL; the index and the record-id zset do not). Idempotent and safe to run in any
   * number of scheduler replicas at once: every step is a ZREM/DEL of what may already be gone.
   */
  async prune(tenant: string, meta: DatasetMeta, nowMs = Date.now()): Promise<number> {
    const idx = this.key(tenant, meta.dataset, 'idx');
    // A group expires at at + retention (its TTL), so at ≤ cutoff is gone or about to be.
    const cutoff = nowMs - meta.retentionDays * 86_400_000;
    let pruned = 0;
    for (;;) {
      const seqs = await this.redis.zrangebyscore(idx, '-inf', cutoff, 'LIMIT', 0, 500);
      if (seqs.length === 0) break;
      // Unindexed first: from here on no report lists them, whatever happens next.
      await this.redis.zrem(idx, ...seqs);
      await this.redis.del(...seqs.map((s) => this.key(tenant, meta.dataset, 'rec', s)));
      pruned += seqs.length;
    }
    await this.redis.zremrangebyscore(this.key(tenant, meta.dataset, 'ids'), '-inf', nowMs);
    return pruned;
  }

  /** Every dataset of every tenant, for the scheduler's sweep. */
  async *allDatasets(): AsyncGenerator<{ tenant: string; dataset: string }> {
    let cursor = '0';
    do {
      const [next, members] = await this.redis.sscan(this.keys.datasetRegistry(), cursor, 'COUNT', 200);
      cursor = next;
      for (const m of members) {
        const [tenant, dataset] = JSON.parse(m) as [string, string];
        yield { tenant, dataset };
      }
    } while (cursor !== '0');
  }

  /** Prune every dataset; returns how many groups were removed. A deleted dataset leaves the registry. */
  async pruneAll(nowMs = Date.now()): Promise<number> {
    let pruned = 0;
    for await (const { tenant, dataset } of this.allDatasets()) {
      const raw = await this.redis.hget(this.key(tenant, dataset), 'meta');
      if (!raw) await this.redis.srem(this.keys.datasetRegistry(), JSON.stringify([tenant, dataset]));
      else pruned += await this.prune(tenant, JSON.parse(raw) as DatasetMeta, nowMs);
    }
    return pruned;
  }

  /** Groups with since ≤ at < until, oldest first; drops index entries whose group has expired. */
  async groups(tenant: string, dataset: string, since: number, until: number): Promise<GroupMeta[]> {
    const idx = this.key(tenant, dataset, 'idx');
    const seqs = await this.redis.zrangebyscore(idx, since, `(${until}`);
    const out: GroupMeta[] = [];
    for (let from = 0; from < seqs.length; from += 500) {
      const batch = seqs.slice(from, from + 500);
      const p = this.redis.pipeline();
      batch.forEach((s) => p.hget(this.key(tenant, dataset, 'rec', s), 'meta'));
      const res = (await p.exec()) ?? [];
      const gone: string[] = [];
      res.forEach(([err, raw], i) => {
        if (err) throw err;
        if (typeof raw === 'string') out.push(JSON.parse(raw) as GroupMeta);
        else gone.push(batch[i] as string);
      });
      if (gone.length) await this.redis.zrem(idx, ...gone);
    }
    // Equal times sort by append order (the zset would order them as strings).
    return out.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }

  /** How many record groups a dataset indexes. */
  groupCount(tenant: string, dataset: string): Promise<number> {
    return this.redis.zcard(this.key(tenant, dataset, 'idx'));
  }

  groupCiphertext(tenant: string, dataset: string, seq: number, index: number): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.key(tenant, dataset, 'rec', String(seq)), String(index));
  }

  async indexReport(tenant: string, dataset: string, jobId: string, scheduledFor: number): Promise<void> {
    await this.redis.zadd(this.key(tenant, dataset, 'reports'), scheduledFor, jobId);
  }

  /** The newest `limit` report job ids, newest first. */
  reportIds(tenant: string, dataset: string, limit: number): Promise<string[]> {
    return this.redis.zrevrange(this.key(tenant, dataset, 'reports'), 0, limit - 1);
  }

  async unindexReports(tenant: string, dataset: string, jobIds: string[]): Promise<void> {
    if (jobIds.length) await this.redis.zrem(this.key(tenant, dataset, 'reports'), ...jobIds);
  }

  /** Delete a dataset, its records and its schedule definitions (the caller removes BullMQ's). */
  async delete(tenant: string, dataset: string): Promise<ScheduleDef[]> {
    const defs = await this.schedules.forDataset(tenant, dataset);
    const seqs = await this.redis.zrange(this.key(tenant, dataset, 'idx'), '0', '-1');
    for (let from = 0; from < seqs.length; from += 500) {
      await this.redis.del(...seqs.slice(from, from + 500).map((s) => this.key(tenant, dataset, 'rec', s)));
    }
    const m = this.redis.multi();
    // Idempotency markers are left to their TTL: they name the dataset's createdAt, so a dataset
    // created again under this name does not mistake an old append for its own.
    m.del(
      this.key(tenant, dataset),
      this.key(tenant, dataset, 'idx'),
      this.key(tenant, dataset, 'ids'),
      this.key(tenant, dataset, 'sched'),
      this.key(tenant, dataset, 'reports'),
    );
    m.srem(this.keys.datasets(tenant), dataset);
    m.srem(this.keys.datasetRegistry(), JSON.stringify([tenant, dataset]));
    for (const d of defs) m.hdel(this.keys.schedules(), schedulerIdOf(tenant, dataset, d.schedule));
    await m.exec();
    return defs;
  }
}
