import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { ReportOp } from '../shared/dataset.js';
import { InvalidInputError } from '../shared/errors.js';
import { jobOptions, type ReportJobData } from './queue.js';
import type { Store } from './store.js';

/**
 * Report schedules on BullMQ job schedulers. A scheduler's jobs get deterministic ids,
 * `repeat:<schedulerId>:<slot millis>`, and BullMQ keeps exactly one pending job per scheduler (the
 * next slot; the worker that starts it adds the following one). So however many API or scheduler
 * replicas upsert the same definition, a slot can only ever have one report job; and a slot that
 * passed while no worker ran is still waiting when one comes back, and runs once (BullMQ then
 * continues from the next slot after "now", it does not replay every missed one).
 *
 * Our own hash of definitions ({p}:schedules) is the source of truth; the scheduler role
 * reconciles BullMQ's schedulers against it, so a lost or half-made change heals.
 */
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

export const SCHEDULER_ID_PREFIX = 'rpt-';

/**
 * BullMQ job-scheduler id of a schedule: readable, and unique per tenant/dataset/schedule through
 * the hash (names may not contain ':' so BullMQ's `repeat:<id>:<millis>` job ids stay parseable).
 */
export function schedulerIdOf(tenant: string, dataset: string, schedule: string): string {
  const h = createHash('sha256').update(`${tenant}\0${dataset}\0${schedule}`).digest('hex').slice(0, 12);
  return `${SCHEDULER_ID_PREFIX}${dataset}-${schedule}-${h}`;
}

/** Schedule definitions in Redis: per dataset, and all of them by scheduler id (keys.ts). */
export class ScheduleStore {
  constructor(readonly store: Store) {}

  private get redis() {
    return this.store.redis;
  }

  private datasetKey(tenant: string, dataset: string): string {
    return this.store.keys.dataset(tenant, dataset, 'sched');
  }

  async put(schedulerId: string, def: ScheduleDef): Promise<void> {
    await this.redis
      .multi()
      .hset(this.datasetKey(def.tenant, def.dataset), def.schedule, JSON.stringify(def))
      .hset(this.store.keys.schedules(), schedulerId, JSON.stringify(def))
      .exec();
  }

  async delete(tenant: string, dataset: string, schedule: string): Promise<boolean> {
    const removed = await this.redis.hdel(this.datasetKey(tenant, dataset), schedule);
    await this.redis.hdel(this.store.keys.schedules(), schedulerIdOf(tenant, dataset, schedule));
    return removed > 0;
  }

  async forDataset(tenant: string, dataset: string): Promise<ScheduleDef[]> {
    const all = await this.redis.hgetall(this.datasetKey(tenant, dataset));
    return Object.values(all)
      .map((v) => JSON.parse(v) as ScheduleDef)
      .sort((a, b) => a.schedule.localeCompare(b.schedule));
  }

  async all(): Promise<Map<string, ScheduleDef>> {
    const all = await this.redis.hgetall(this.store.keys.schedules());
    return new Map(Object.entries(all).map(([id, v]) => [id, JSON.parse(v) as ScheduleDef]));
  }

  /** Whether a definition exists for this scheduler id right now. */
  async exists(schedulerId: string): Promise<boolean> {
    return (await this.redis.hexists(this.store.keys.schedules(), schedulerId)) === 1;
  }
}

export interface ScheduleQueue {
  queue: Queue;
  retentionSeconds: number;
  attempts: number;
}

export function reportTemplate(def: ScheduleDef): ReportJobData {
  return {
    tenant: def.tenant,
    op: 'report',
    contextId: def.contextId,
    dataset: def.dataset,
    report: { op: def.op, ...(def.windowDays ? { windowDays: def.windowDays } : {}), ...(def.modelId ? { modelId: def.modelId } : {}) },
    schedule: def.schedule,
    createdAt: def.createdAt,
  };
}

export function checkTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    throw new InvalidInputError('invalid_timezone', `'${tz}' is not an IANA time zone (e.g. Europe/Berlin, UTC)`);
  }
}

/**
 * Create or replace BullMQ's scheduler for a definition; returns the next run (ms). Upserting an
 * unchanged definition before its next slot is a no-op in effect: the same slot, the same job id.
 */
export async function applySchedule(q: ScheduleQueue, schedulerId: string, def: ScheduleDef): Promise<number | null> {
  try {
    await q.queue.upsertJobScheduler(
      schedulerId,
      { pattern: def.cron, tz: def.tz },
      { name: 'report', data: reportTemplate(def), opts: jobOptions(q.retentionSeconds, q.attempts) },
    );
  } catch (err) {
    throw new InvalidInputError('invalid_cron', `cron '${def.cron}' (tz ${def.tz}) is not a valid pattern: ${(err as Error).message}`);
  }
  return (await q.queue.getJobScheduler(schedulerId))?.next ?? null;
}

/** Whether BullMQ's scheduler already runs exactly this definition. */
async function inSync(q: ScheduleQueue, schedulerId: string, def: ScheduleDef): Promise<boolean> {
  const s = await q.queue.getJobScheduler(schedulerId);
  return !!s && s.pattern === def.cron && s.tz === def.tz && JSON.stringify(s.template?.data) === JSON.stringify(reportTemplate(def));
}

/**
 * One reconciliation pass, under a short lock so replicas take turns: add or fix missing or stale
 * schedulers, remove ours that have no definition. In-sync schedulers are left alone — upserting
 * would replace a pending (possibly overdue) slot job with the next slot and lose that run.
 */
export async function reconcileSchedules(q: ScheduleQueue, schedules: ScheduleStore, holder: string): Promise<{ applied: number; removed: number } | null> {
  const { redis, keys } = schedules.store;
  const lock = keys.scheduleLock();
  if ((await redis.set(lock, holder, 'PX', 10_000, 'NX')) !== 'OK') return null;
  try {
    const defs = await schedules.all();
    let applied = 0;
    let removed = 0;
    for (const [id, def] of defs) {
      if (!(await inSync(q, id, def))) {
        await applySchedule(q, id, def);
        applied++;
      }
    }
    for (const s of await q.queue.getJobSchedulers()) {
      // Re-check right before removing: a definition written since we read them is not an orphan.
      if (s.key.startsWith(SCHEDULER_ID_PREFIX) && !defs.has(s.key) && !(await schedules.exists(s.key))) {
        await q.queue.removeJobScheduler(s.key);
        removed++;
      }
    }
    return { applied, removed };
  } finally {
    if ((await redis.get(lock)) === holder) await redis.del(lock);
  }
}
