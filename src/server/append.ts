import type { DatasetMeta } from '../shared/api-datasets.js';
import { InvalidInputError, VeilError } from '../shared/errors.js';
import type { DatasetStore, GroupMeta } from './datasets.js';

/**
 * Appending records to a dataset. An append is all or nothing: every group is first written
 * unindexed with a short TTL, then one script publishes them all (index, record ids, real TTL,
 * Idempotency-Key) or none. A request that dies before publishing leaves only staged keys that
 * expire; its retry stores each group once.
 */
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
  if (failed?.[0]) throw failed[0];
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

/**
 * Append record groups atomically (see the module comment). With an Idempotency-Key, a retry of
 * an append that was published returns what it stored (`duplicate`); one that was not is
 * stored now. Genotype record ids must be new in the dataset (an id whose group has expired
 * is free again): `409 duplicate_record_id`, and nothing is stored.
 */
export async function appendGroups(
  ds: DatasetStore,
  tenant: string,
  meta: DatasetMeta,
  groups: PendingGroup[],
  opts: { idempotencyKey?: string; nowMs?: number } = {},
): Promise<AppendOutcome> {
  const nowMs = opts.nowMs ?? Date.now();
  const retentionMs = meta.retentionDays * 86_400_000;
  // Every check before the first write: a refused append leaves nothing behind.
  for (const g of groups) {
    if (g.group.at + retentionMs - nowMs <= 0)
      throw new InvalidInputError(
        'outside_retention',
        `a record at ${new Date(g.group.at).toISOString()} is older than the dataset's retention (${meta.retentionDays} days)`,
        422,
      );
  }
  const records = groups.reduce((n, g) => n + g.group.count, 0);
  const ids = groups.flatMap((g) => g.group.ids ?? []);
  const idsKey = ds.key(tenant, meta.dataset, 'ids');
  // Fail fast, before megabytes of ciphertexts go to Redis; the publish script re-checks atomically.
  for (let from = 0; from < ids.length; from += 1000) {
    const batch = ids.slice(from, from + 1000);
    const p = ds.redis.pipeline();
    batch.forEach((id) => p.zscore(idsKey, id));
    const taken = ((await p.exec()) ?? []).findIndex(([, score]) => score !== null && Number(score) > nowMs);
    if (taken >= 0) throw duplicateId(meta.dataset, batch[taken] as string);
  }
  const last = await ds.redis.hincrby(ds.key(tenant, meta.dataset), 'seq', groups.length);
  const staged = groups.map((g, i) => ({ ...g, seq: last - groups.length + 1 + i }));
  const recKeys = staged.map((g) => ds.key(tenant, meta.dataset, 'rec', String(g.seq)));
  try {
    for (const [i, g] of staged.entries()) {
      const m = ds.redis.multi();
      m.hset(recKeys[i] as string, 'meta', JSON.stringify({ ...g.group, seq: g.seq }));
      g.ciphertexts.forEach((ct, j) => m.hset(recKeys[i] as string, String(j), Buffer.from(ct.buffer, ct.byteOffset, ct.byteLength)));
      m.expire(recKeys[i] as string, STAGE_SECONDS);
      execOrThrow(await m.exec());
    }
  } catch (err) {
    await ds.redis.del(...recKeys).catch(() => {}); // else they expire after STAGE_SECONDS
    throw err;
  }
  const marker = { createdAt: meta.createdAt, records, groups: groups.length };
  const idemKey = opts.idempotencyKey ? ds.key(tenant, meta.dataset, 'idem', opts.idempotencyKey) : ds.key(tenant, meta.dataset, 'idem');
  const plan = staged.map((g) => ({
    seq: String(g.seq),
    at: String(g.group.at),
    ttl: String(Math.ceil((g.group.at + retentionMs - nowMs) / 1000)),
    expires: String(g.group.at + retentionMs),
    ...(g.group.ids?.length ? { ids: g.group.ids } : {}),
  }));
  const res = (await ds.redis.eval(
    PUBLISH_SCRIPT,
    3 + recKeys.length,
    ds.key(tenant, meta.dataset, 'idx'),
    idsKey,
    idemKey,
    ...recKeys,
    opts.idempotencyKey ? '1' : '0',
    JSON.stringify(marker),
    String(ds.store.retentionSeconds),
    JSON.stringify(plan),
    meta.createdAt,
    String(nowMs),
  )) as [string, string?];
  if (res[0] === 'duplicate') {
    const prev = JSON.parse(res[1] as string) as typeof marker;
    return { duplicate: true, records: prev.records, groups: prev.groups, seqs: [] };
  }
  if (res[0] === 'conflict') throw duplicateId(meta.dataset, res[1] as string);
  if (res[0] !== 'ok')
    throw new VeilError('append_interrupted', `the append took longer than ${STAGE_SECONDS} s to store; retry it (with the same Idempotency-Key)`, 503);
  return { duplicate: false, records, groups: groups.length, seqs: staged.map((g) => g.seq) };
}
