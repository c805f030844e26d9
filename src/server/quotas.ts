import { CronExpressionParser } from 'cron-parser';
import type { Config } from '../shared/config.js';
import type { DatasetStore, ScheduleDef } from '../shared/datasets.js';
import { InvalidInputError } from '../shared/errors.js';
import type { Store } from '../shared/store.js';
import { RateLimitError } from './private-models.js';

/**
 * Per-tenant limits, so one tenant cannot fill Redis (which, under noeviction, then refuses
 * everyone's writes) or the queue. Limits are checked where a request adds something; hitting
 * one is `429` with Retry-After.
 */
export type QuotaConfig = Pick<Config, 'QUOTA_JOBS_IN_FLIGHT' | 'QUOTA_DATASETS' | 'QUOTA_SCHEDULES' | 'MIN_SCHEDULE_INTERVAL_S'>;

const IN_FLIGHT_RETRY_S = 5;
const COUNT_RETRY_S = 3600;

/**
 * Admit one more unfinished job for `tenant`, or 429 `quota_jobs_in_flight`. The tenant's jobs sit
 * in a sorted set; members whose BullMQ record has finished (or is gone) are pruned first. Adding
 * before counting keeps concurrent submissions from overshooting the limit together.
 */
export async function admitJob(store: Store, quotas: QuotaConfig, tenant: string, jobId: string): Promise<void> {
  const key = `${store.prefix}:quota:${tenant}:in-flight`;
  const members = await store.redis.zrange(key, '0', '-1');
  if (members.length >= quotas.QUOTA_JOBS_IN_FLIGHT) {
    const check = store.redis.pipeline();
    for (const id of members) check.hget(`${store.prefix}:bull:jobs:${id}`, 'finishedOn').exists(`${store.prefix}:bull:jobs:${id}`);
    const replies = (await check.exec()) ?? [];
    const finished = members.filter((_, i) => replies[2 * i]?.[1] !== null || replies[2 * i + 1]?.[1] === 0);
    if (finished.length) await store.redis.zrem(key, ...finished);
  }
  const [, [, count] = []] = (await store.redis.multi().zadd(key, Date.now(), jobId).zcard(key).expire(key, 7 * 24 * 3600).exec()) ?? [];
  if (Number(count) > quotas.QUOTA_JOBS_IN_FLIGHT) {
    await store.redis.zrem(key, jobId);
    throw new RateLimitError('quota_jobs_in_flight', `at most ${quotas.QUOTA_JOBS_IN_FLIGHT} unfinished jobs per tenant; wait for some to finish`, IN_FLIGHT_RETRY_S);
  }
}

/** 429 `quota_<what>` when the tenant already has `limit` of them. */
function admitCount(what: 'datasets' | 'schedules', have: number, limit: number): void {
  if (have >= limit) throw new RateLimitError(`quota_${what}`, `at most ${limit} ${what} per tenant; delete one first`, COUNT_RETRY_S);
}

export async function admitDataset(ds: DatasetStore, quotas: QuotaConfig, tenant: string): Promise<void> {
  admitCount('datasets', (await ds.list(tenant)).length, quotas.QUOTA_DATASETS);
}

/** A schedule's interval, and for a new one the tenant's schedule count. */
export async function admitSchedule(ds: DatasetStore, quotas: QuotaConfig, def: ScheduleDef, isNew: boolean): Promise<void> {
  checkScheduleInterval(def.cron, def.tz, quotas.MIN_SCHEDULE_INTERVAL_S);
  if (!isNew) return;
  const tenantSchedules = [...(await ds.allSchedules()).values()].filter((d) => d.tenant === def.tenant);
  admitCount('schedules', tenantSchedules.length, quotas.QUOTA_SCHEDULES);
}

/**
 * 422 `schedule_too_frequent` for a cron that fires more often than MIN_SCHEDULE_INTERVAL_S,
 * judged on its next 100 firings (an invalid pattern is left to BullMQ's own error).
 */
export function checkScheduleInterval(cron: string, tz: string, minSeconds: number): void {
  let times: number[];
  try {
    const it = CronExpressionParser.parse(cron, { tz });
    times = Array.from({ length: 100 }, () => it.next().getTime());
  } catch {
    return;
  }
  const gap = Math.min(...times.slice(1).map((t, i) => t - (times[i] as number))) / 1000;
  if (gap < minSeconds) {
    throw new InvalidInputError('schedule_too_frequent', `cron '${cron}' fires every ${gap} s at times; schedules may fire at most every ${minSeconds} s (MIN_SCHEDULE_INTERVAL_S)`, 422);
  }
}
