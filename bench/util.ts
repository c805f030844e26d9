import { readFileSync } from 'node:fs';

/** Summary of repeated timings (ms unless said otherwise). */
export interface Stats {
  n: number;
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    median: round(quantile(s, 0.5)),
    p10: round(quantile(s, 0.1)),
    p90: round(quantile(s, 0.9)),
    min: round(s[0] ?? NaN),
    max: round(s[s.length - 1] ?? NaN),
  };
}

export const round = (x: number, digits = 3): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

export const now = (): number => performance.now();

/**
 * CPU time (user + system, ms) this process has used: on a shared machine a synchronous step's CPU
 * time is steadier than its wall time, which counts the time other processes held the core.
 */
export const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Time an async or sync function; returns its value and the elapsed milliseconds. */
export async function timed<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const t0 = now();
  const v = await fn();
  return [v, now() - t0];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resident set size (and peak) of a process, in bytes, from /proc/<pid>/status. */
export function procRss(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Run `total` tasks with at most `limit` in flight; `onDone` sees each completion in order of finishing. */
export async function pool<T>(
  total: number,
  limit: number,
  task: (i: number) => Promise<T>,
  onDone?: (done: number, value: T) => void | Promise<void>,
): Promise<T[]> {
  const out: T[] = new Array(total);
  let next = 0;
  let done = 0;
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      out[i] = await task(i);
      done++;
      await onDone?.(done, out[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, total) }, lane));
  return out;
}

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit mulberry). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const relErr = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);

export const mib = (bytes: number) => round(bytes / 2 ** 20, 1);

/** A line of progress on stderr, so stdout stays the table. */
export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
