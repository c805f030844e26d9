import { createHash } from 'node:crypto';
import { InvalidInputError, NotFoundError, VeilError } from '../shared/errors.js';
import type { ReadingsEncoding } from '../shared/readings.js';
import type { Store } from './store.js';

/**
 * Datasets: named, per tenant, bound to one public context; encrypted records appended over time;
 * reports computed over a time window. Redis layout (all under the Store prefix p):
 *
 *   {p}:ds:{tenant}:{name}               hash: meta (JSON DatasetMeta), seq (record-group counter)
 *   {p}:ds:{tenant}:{name}:idx           zset: record-group seq, score = reading time (ms)
 *   {p}:ds:{tenant}:{name}:rec:{seq}     hash: meta (JSON GroupMeta), "0","1",… ciphertexts
 *                                        (TTL: the group's time + the dataset's retention; a
 *                                        staged group not yet published: STAGE_SECONDS)
 *   {p}:ds:{tenant}:{name}:ids           zset: genotype record id, score = its group's expiry (ms)
 *   {p}:ds:{tenant}:{name}:idem:{key}    JSON: what an append with this Idempotency-Key stored
 *   {p}:ds-registry                      set of JSON [tenant, name]: what the scheduler prunes
 *   {p}:ds:{tenant}:{name}:sched         hash: schedule name → JSON ScheduleDef
 *   {p}:ds:{tenant}:{name}:reports       zset: report job id, score = scheduledFor (ms)
 *   {p}:datasets:{tenant}                set of dataset names
 *   {p}:schedules                        hash: schedulerId → JSON ScheduleDef (what the scheduler
 *                                        role reconciles BullMQ's job schedulers against)
 *
 * A record group is one record of an append: one ciphertext of ≤ blockSize readings, or a packed
 * group of genotype records (vectorLayout). Ciphertexts are stored once, seeded and zstd-packed
 * as the owner sent them, and never travel inside BullMQ job data.
 *
 * An append is all or nothing: every group is first written unindexed with a short TTL, then one
 * script publishes them all (index, record ids, real TTL, Idempotency-Key) or none. A request that
 * dies before publishing leaves only staged keys that expire; its retry stores each group once.
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

/** One record group of an append, before it has a sequence number. */
export interface PendingGroup {
  group: Omit<GroupMeta, 'seq'>;
  ciphertexts: Uint8Array[];
}

export interface AppendOutcome {
  duplicate: boolean;
  records: number;
  groups: number;
  seqs: number[];
}

/** How long a staged (written, not yet published) group lives if its append never finishes. */
export const STAGE_SECONDS = 3600;

function duplicateId(dataset: string, id: string): VeilError {
  return new VeilError('duplicate_record_id', `record id '${id}' is already in dataset '${dataset}'; record ids are unique per dataset`, 409);
}

function execOrThrow(results: [Error | null, unknown][] | null): void {
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}

/**
 * Publish staged groups, all or none, in one script (one atomic step, also on Redis Cluster:
 * every key shares the `{prefix}` hash tag there).
 *   KEYS: idx, ids, idempotency marker, staged group keys…
 *   ARGV: [1] '1' if an Idempotency-Key was given, [2] marker JSON, [3] marker TTL (s),
 *         [4] JSON [{seq, at, ttl, expires, ids?}] in KEYS order, [5] dataset createdAt, [6] now (ms)
 * Returns {'ok'}, {'duplicate', marker} (staged keys dropped), {'conflict', id} (dropped) or
 * {'lost'} (a staged key expired before publishing; dropped).
 */
const PUBLISH_SCRIPT = `
local plan = cjson.decode(ARGV[4])
local function discard() for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end end
if ARGV[1] == '1' then
  local prev = redis.call('GET', KEYS[3])
  if prev and cjson.decode(prev).createdAt == ARGV[5] then discard() return {'duplicate', prev} end
end
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then discard() return {'lost'} end
end
local now = tonumber(ARGV[6])
local seen = {}
for _, g in ipairs(plan) do
  if g.ids then
    for _, id in ipairs(g.ids) do
      local expires = redis.call('ZSCORE', KEYS[2], id)
      if seen[id] or (expires and tonumber(expires) > now) then discard() return {'conflict', id} end
      seen[id] = true
    end
  end
end
for i, g in ipairs(plan) do
  redis.call('EXPIRE', KEYS[i + 3], g.ttl)
  redis.call('ZADD', KEYS[1], g.at, g.seq)
  if g.ids then for _, id in ipairs(g.ids) do redis.call('ZADD', KEYS[2], g.expires, id) end end
end
if ARGV[1] == '1' then redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3]) end
return {'ok'}
`;

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
    await this.redis.sadd(this.registryKey(), JSON.stringify([tenant, meta.dataset]));
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

  registryKey(): string {
    return `${this.store.prefix}:ds-registry`;
  }

  /**
   * Append record groups atomically (see the class comment). With an Idempotency-Key, a retry of
   * an append that was published returns what it stored (`duplicate`); one that was not is
   * stored now. Genotype record ids must be new in the dataset (an id whose group has expired
   * is free again): `409 duplicate_record_id`, and nothing is stored.
   */
  async appendGroups(tenant: string, meta: DatasetMeta, groups: PendingGroup[], opts: { idempotencyKey?: string; nowMs?: number } = {}): Promise<AppendOutcome> {
    const nowMs = opts.nowMs ?? Date.now();
    const retentionMs = meta.retentionDays * 86_400_000;
    // Every check before the first write: a refused append leaves nothing behind.
    for (const g of groups) {
      if (g.group.at + retentionMs - nowMs <= 0) throw new InvalidInputError('outside_retention', `a record at ${new Date(g.group.at).toISOString()} is older than the dataset's retention (${meta.retentionDays} days)`, 422);
    }
    const records = groups.reduce((n, g) => n + g.group.count, 0);
    const ids = groups.flatMap((g) => g.group.ids ?? []);
    const idsKey = this.key(tenant, meta.dataset, 'ids');
    // Fail fast, before megabytes of ciphertexts go to Redis; the publish script re-checks atomically.
    for (let from = 0; from < ids.length; from += 1000) {
      const batch = ids.slice(from, from + 1000);
      const p = this.redis.pipeline();
      batch.forEach((id) => p.zscore(idsKey, id));
      const taken = ((await p.exec()) ?? []).findIndex(([, score]) => score !== null && Number(score) > nowMs);
      if (taken >= 0) throw duplicateId(meta.dataset, batch[taken] as string);
    }
    const last = await this.redis.hincrby(this.key(tenant, meta.dataset), 'seq', groups.length);
    const staged = groups.map((g, i) => ({ ...g, seq: last - groups.length + 1 + i }));
    const recKeys = staged.map((g) => this.key(tenant, meta.dataset, 'rec', String(g.seq)));
    try {
      for (const [i, g] of staged.entries()) {
        const m = this.redis.multi();
        m.hset(recKeys[i] as string, 'meta', JSON.stringify({ ...g.group, seq: g.seq }));
        g.ciphertexts.forEach((ct, j) => m.hset(recKeys[i] as string, String(j), Buffer.from(ct.buffer, ct.byteOffset, ct.byteLength)));
        m.expire(recKeys[i] as string, STAGE_SECONDS);
        execOrThrow(await m.exec());
      }
    } catch (err) {
      await this.redis.del(...recKeys).catch(() => {}); // else they expire after STAGE_SECONDS
      throw err;
    }
    const marker = { createdAt: meta.createdAt, records, groups: groups.length };
    const idemKey = opts.idempotencyKey ? this.key(tenant, meta.dataset, 'idem', opts.idempotencyKey) : this.key(tenant, meta.dataset, 'idem');
    const plan = staged.map((g) => ({
      seq: String(g.seq),
      at: String(g.group.at),
      ttl: String(Math.ceil((g.group.at + retentionMs - nowMs) / 1000)),
      expires: String(g.group.at + retentionMs),
      ...(g.group.ids?.length ? { ids: g.group.ids } : {}),
    }));
    const res = (await this.redis.eval(
      PUBLISH_SCRIPT,
      3 + recKeys.length,
      this.key(tenant, meta.dataset, 'idx'), idsKey, idemKey, ...recKeys,
      opts.idempotencyKey ? '1' : '0', JSON.stringify(marker), String(this.store.retentionSeconds), JSON.stringify(plan), meta.createdAt, String(nowMs),
    )) as [string, string?];
    if (res[0] === 'duplicate') {
      const prev = JSON.parse(res[1] as string) as typeof marker;
      return { duplicate: true, records: prev.records, groups: prev.groups, seqs: [] };
    }
    if (res[0] === 'conflict') throw duplicateId(meta.dataset, res[1] as string);
    if (res[0] !== 'ok') throw new VeilError('append_interrupted', `the append took longer than ${STAGE_SECONDS} s to store; retry it (with the same Idempotency-Key)`, 503);
    return { duplicate: false, records, groups: groups.length, seqs: staged.map((g) => g.seq) };
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
      const [next, members] = await this.redis.sscan(this.registryKey(), cursor, 'COUNT', 200);
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
      if (!raw) await this.redis.srem(this.registryKey(), JSON.stringify([tenant, dataset]));
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
    // Idempotency markers are left to their TTL: they name the dataset's createdAt, so a dataset
    // created again under this name does not mistake an old append for its own.
    m.del(this.key(tenant, dataset), this.key(tenant, dataset, 'idx'), this.key(tenant, dataset, 'ids'), this.key(tenant, dataset, 'sched'), this.key(tenant, dataset, 'reports'));
    m.srem(this.listKey(tenant), dataset);
    m.srem(this.registryKey(), JSON.stringify([tenant, dataset]));
    for (const d of defs) m.hdel(this.schedulesKey(), schedulerIdOf(tenant, dataset, d.schedule));
    await m.exec();
    return defs;
  }
}
