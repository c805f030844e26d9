import { createHash } from 'node:crypto';
import { InvalidInputError, NotFoundError, VeilError } from './errors.js';
import type { ReadingsEncoding } from './readings.js';
import type { Store } from './store.js';

/**
 * Datasets: named, per tenant, bound to one public context; encrypted records appended over time;
 * reports computed over a time window. Redis layout (all under the Store prefix p):
 *
 *   {p}:ds:{tenant}:{name}               hash: meta (JSON DatasetMeta), seq (record-group counter)
 *   {p}:ds:{tenant}:{name}:idx           zset: record-group seq, score = reading time (ms)
 *   {p}:ds:{tenant}:{name}:rec:{seq}     hash: meta (JSON GroupMeta), "0","1",… ciphertexts
 *                                        (TTL: the group's time + the dataset's retention)
 *   {p}:ds:{tenant}:{name}:sched         hash: schedule name → JSON ScheduleDef
 *   {p}:ds:{tenant}:{name}:reports       zset: report job id, score = scheduledFor (ms)
 *   {p}:datasets:{tenant}                set of dataset names
 *   {p}:schedules                        hash: schedulerId → JSON ScheduleDef (what the scheduler
 *                                        role reconciles BullMQ's job schedulers against)
 *
 * A record group is what one append stored: one ciphertext of ≤ blockSize readings, or a packed
 * group of genotype records (vectorLayout). Ciphertexts are stored once, seeded and zstd-packed
 * as the owner sent them, and never travel inside BullMQ job data.
 */
export type DatasetKind = 'readings' | 'genotypes';
export const READING_OPS = ['mean', 'variance', 'trend'] as const;
export const GENOTYPE_OPS = ['grs'] as const;
export const REPORT_OPS = [...READING_OPS, ...GENOTYPE_OPS] as const;
export type ReportOp = (typeof REPORT_OPS)[number];

export interface DatasetMeta {
  dataset: string;
  kind: DatasetKind;
  contextId: string;
  preset: string;
  retentionDays: number;
  createdAt: string;
  /** readings: how values sit in coefficients. */
  encoding?: ReadingsEncoding;
  /** genotypes: dosages per record (the models it is scored against must have as many variants). */
  variants?: number;
}

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

export interface ScheduleDef {
  tenant: string;
  dataset: string;
  schedule: string;
  contextId: string;
  op: ReportOp;
  cron: string;
  tz: string;
  /** Window: the `windowDays` days before the scheduled time; unset = every record before it. */
  windowDays?: number;
  modelId?: string;
  createdAt: number;
}

/** What BullMQ carries for a report job: which dataset and window, never data. */
export interface ReportJobData {
  tenant: string;
  op: 'report';
  contextId: string;
  dataset: string;
  report: { op: ReportOp; since?: number; until?: number; windowDays?: number; modelId?: string; modelDigest?: string };
  /** Set for scheduled runs; the slot time itself comes from the job id (see scheduledForOf). */
  schedule?: string;
  /** Set for on-demand runs: the request time (the window ends here unless `until` is given). */
  scheduledFor?: number;
  createdAt: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const SCHEDULE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

export function checkDatasetName(name: string): string {
  if (!NAME.test(name)) throw new InvalidInputError('invalid_dataset_name', `dataset name '${name}' must match ${NAME.source}`);
  return name;
}

export function checkScheduleName(name: string): string {
  if (!SCHEDULE.test(name)) throw new InvalidInputError('invalid_schedule_name', `schedule name '${name}' must match ${SCHEDULE.source}`);
  return name;
}

/**
 * BullMQ job-scheduler id of a schedule: readable, and unique per tenant/dataset/schedule through
 * the hash (names may not contain ':' so BullMQ's `repeat:<id>:<millis>` job ids stay parseable).
 */
export function schedulerIdOf(tenant: string, dataset: string, schedule: string): string {
  const h = createHash('sha256').update(`${tenant}\0${dataset}\0${schedule}`).digest('hex').slice(0, 12);
  return `rpt-${dataset}-${schedule}-${h}`;
}

export const SCHEDULER_ID_PREFIX = 'rpt-';

/** The slot a scheduled report job stands for: BullMQ names them `repeat:<schedulerId>:<millis>`. */
export function scheduledForOf(jobId: string, data: ReportJobData, fallback: number): number {
  const m = /^repeat:.+:(\d+)$/.exec(jobId);
  return m ? Number(m[1]) : (data.scheduledFor ?? fallback);
}

/** The window [since, until) a report covers, in ms. */
export function reportWindow(data: ReportJobData, scheduledFor: number): { since: number; until: number } {
  const until = data.report.until ?? scheduledFor;
  const since = data.report.since ?? (data.report.windowDays ? until - data.report.windowDays * 86_400_000 : 0);
  return { since, until };
}

/** Redis keys and access for datasets, on the Store's connection and prefix. */
export class DatasetStore {
  constructor(readonly store: Store) {}

  get redis() {
    return this.store.redis;
  }

  key(tenant: string, dataset: string, ...rest: string[]): string {
    return [this.store.prefix, 'ds', tenant, dataset, ...rest].join(':');
  }

  listKey(tenant: string): string {
    return `${this.store.prefix}:datasets:${tenant}`;
  }

  schedulesKey(): string {
    return `${this.store.prefix}:schedules`;
  }

  async create(tenant: string, meta: DatasetMeta): Promise<void> {
    const created = await this.redis.hsetnx(this.key(tenant, meta.dataset), 'meta', JSON.stringify(meta));
    if (!created) throw new VeilError('dataset_exists', `dataset '${meta.dataset}' already exists; pick another name or delete it first`, 409);
    await this.redis.sadd(this.listKey(tenant), meta.dataset);
  }

  async get(tenant: string, dataset: string): Promise<DatasetMeta> {
    const raw = NAME.test(dataset) ? await this.redis.hget(this.key(tenant, dataset), 'meta') : null;
    if (!raw) throw new NotFoundError('dataset', dataset);
    return JSON.parse(raw) as DatasetMeta;
  }

  async list(tenant: string): Promise<DatasetMeta[]> {
    const names = (await this.redis.smembers(this.listKey(tenant))).sort();
    const metas = await Promise.all(names.map((n) => this.redis.hget(this.key(tenant, n), 'meta')));
    return metas.filter((m): m is string => m !== null).map((m) => JSON.parse(m) as DatasetMeta);
  }

  /** Store one record group with its TTL; returns its sequence number. */
  async appendGroup(tenant: string, meta: DatasetMeta, group: Omit<GroupMeta, 'seq'>, ciphertexts: Uint8Array[], nowMs = Date.now()): Promise<number> {
    const ttl = Math.ceil((group.at + meta.retentionDays * 86_400_000 - nowMs) / 1000);
    if (ttl <= 0) throw new InvalidInputError('outside_retention', `a record at ${new Date(group.at).toISOString()} is older than the dataset's retention (${meta.retentionDays} days)`, 422);
    const seq = await this.redis.hincrby(this.key(tenant, meta.dataset), 'seq', 1);
    const recKey = this.key(tenant, meta.dataset, 'rec', String(seq));
    const m = this.redis.multi();
    m.hset(recKey, 'meta', JSON.stringify({ ...group, seq }));
    ciphertexts.forEach((ct, i) => m.hset(recKey, String(i), Buffer.from(ct.buffer, ct.byteOffset, ct.byteLength)));
    m.expire(recKey, ttl);
    // Indexed last: a report never sees a group whose ciphertexts are not all stored.
    m.zadd(this.key(tenant, meta.dataset, 'idx'), group.at, String(seq));
    const results = await m.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
    return seq;
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

  groupCiphertext(tenant: string, dataset: string, seq: number, index: number): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.key(tenant, dataset, 'rec', String(seq)), String(index));
  }

  async putSchedule(schedulerId: string, def: ScheduleDef): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key(def.tenant, def.dataset, 'sched'), def.schedule, JSON.stringify(def))
      .hset(this.schedulesKey(), schedulerId, JSON.stringify(def))
      .exec();
  }

  async deleteSchedule(tenant: string, dataset: string, schedule: string): Promise<boolean> {
    const removed = await this.redis.hdel(this.key(tenant, dataset, 'sched'), schedule);
    await this.redis.hdel(this.schedulesKey(), schedulerIdOf(tenant, dataset, schedule));
    return removed > 0;
  }

  async schedules(tenant: string, dataset: string): Promise<ScheduleDef[]> {
    const all = await this.redis.hgetall(this.key(tenant, dataset, 'sched'));
    return Object.values(all).map((v) => JSON.parse(v) as ScheduleDef).sort((a, b) => a.schedule.localeCompare(b.schedule));
  }

  async allSchedules(): Promise<Map<string, ScheduleDef>> {
    const all = await this.redis.hgetall(this.schedulesKey());
    return new Map(Object.entries(all).map(([id, v]) => [id, JSON.parse(v) as ScheduleDef]));
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
    const defs = await this.schedules(tenant, dataset);
    const seqs = await this.redis.zrange(this.key(tenant, dataset, 'idx'), '0', '-1');
    for (let from = 0; from < seqs.length; from += 500) {
      await this.redis.del(...seqs.slice(from, from + 500).map((s) => this.key(tenant, dataset, 'rec', s)));
    }
    const m = this.redis.multi();
    m.del(this.key(tenant, dataset), this.key(tenant, dataset, 'idx'), this.key(tenant, dataset, 'sched'), this.key(tenant, dataset, 'reports'));
    m.srem(this.listKey(tenant), dataset);
    for (const d of defs) m.hdel(this.schedulesKey(), schedulerIdOf(tenant, dataset, d.schedule));
    await m.exec();
    return defs;
  }
}
