import { CronExpressionParser } from 'cron-parser';
import type { Config } from './config.js';
import type { DatasetStore } from './datasets.js';
import type { ScheduleDef } from './schedules.js';
import { InvalidInputError } from '../shared/errors.js';
import type { Store } from './store.js';
import { RateLimitError } from './private-models.js';

/**
 * Per-tenant limits, so one tenant cannot fill Redis (which, under noeviction, then refuses
 * everyone's writes) or the queue. Limits are checked where a request adds something; hitting
 * one is `429` with Retry-After.
 */
export type QuotaConfig = Pick<Config, 'QUOTA_JOBS_IN_FLIGHT' | 'QUOTA_JOB_BYTES' | 'QUOTA_DATASETS' | 'QUOTA_SCHEDULES' | 'MIN_SCHEDULE_INTERVAL_S'>;

const IN_FLIGHT_RETRY_S = 5;
const COUNT_RETRY_S = 3600;

/**
 * Admit one more unfinished job of `bytes` input bytes for `tenant`, or 429 `quota_jobs_in_flight` /
 * `quota_job_bytes`. The tenant's unfinished jobs sit in a sorted set scored by their input bytes;
 * members whose BullMQ record has finished (or is gone) are pruned when a limit is near. Adding
 * before counting keeps concurrent submissions from overshooting a limit together.
 */
export async function admitJob(store: Store, quotas: QuotaConfig, tenant: string, jobId: string, bytes: number): Promise<void> {
  const key = store.keys.jobsInFlight(tenant);
  let usage = totals(await store.redis.zrange(key, '0', '-1', 'WITHSCORES'));
  if (usage.jobs >= quotas.QUOTA_JOBS_IN_FLIGHT || usage.bytes + bytes > quotas.QUOTA_JOB_BYTES) await pruneFinished(store, key, usage.members);
  const [, [, after] = []] =
    (await store.redis
      .multi()
      .zadd(key, bytes, jobId)
      .zrange(key, '0', '-1', 'WITHSCORES')
      .expire(key, 7 * 24 * 3600)
      .exec()) ?? [];
  usage = totals(after as string[]);
  const over =
    usage.jobs > quotas.QUOTA_JOBS_IN_FLIGHT
      ? `at most ${quotas.QUOTA_JOBS_IN_FLIGHT} unfinished jobs per tenant`
      : usage.bytes > quotas.QUOTA_JOB_BYTES
        ? `at most ${quotas.QUOTA_JOB_BYTES} bytes of unfinished jobs' inputs per tenant`
        : undefined;
  if (over) {
    await store.redis.zrem(key, jobId);
    throw new RateLimitError(
      usage.jobs > quotas.QUOTA_JOBS_IN_FLIGHT ? 'quota_jobs_in_flight' : 'quota_job_bytes',
      `${over}; wait for some to finish`,
      IN_FLIGHT_RETRY_S,
    );
  }
}

function totals(withScores: string[]): { members: string[]; jobs: number; bytes: number } {
  const members = withScores.filter((_, i) => i % 2 === 0);
  const bytes = withScores.filter((_, i) => i % 2 === 1).reduce((sum, b) => sum + Number(b), 0);
  return { members, jobs: members.length, bytes };
}

async function pruneFinished(store: Store, key: string, members: string[]): Promise<void> {
  const check = store.redis.pipeline();
  for (const id of members) check.hget(`${store.prefix}:bull:jobs:${id}`, 'finishedOn').exists(`${store.prefix}:bull:jobs:${id}`);
  const replies = (await check.exec()) ?? [];
  const finished = members.filter((_, i) => replies[2 * i]?.[1] !== null || replies[2 * i + 1]?.[1] === 0);
  if (finished.length) await store.redis.zrem(key, ...finished);
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
  const tenantSchedules = [...(await ds.schedules.all()).values()].filter((d) => d.tenant === def.tenant);
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
    throw new InvalidInputError(
      'schedule_too_frequent',
      `cron '${cron}' fires every ${gap} s at times; schedules may fire at most every ${minSeconds} s (MIN_SCHEDULE_INTERVAL_S)`,
      422,
    );
  }
}
