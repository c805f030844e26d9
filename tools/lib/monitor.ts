import { Worker } from 'node:worker_threads';
import { alive, percentile, rssMiB } from './procs.js';

/** A process the harness watches: its name for reports, its pid, and its RSS bound. */
export interface Watched {
  name: string;
  pid: number;
  boundMiB: number;
}

/**
 * Samples every watched process's RSS and liveness, and /healthz latency, concurrently with the
 * hostile traffic, until `stop()`. /healthz is timed from a thread of its own: the harness's event
 * loop builds and packs large hostile bodies, and a probe on it would time those as the API's.
 * `overHardCap` turns true when a process grows past `hardCapMiB` (the run then stops early rather
 * than take the machine down with it).
 */
export class Monitor {
  readonly rssMax = new Map<string, number>();
  readonly deaths = new Set<string>();
  readonly healthMs: number[] = [];
  overHardCap = false;
  private timers: NodeJS.Timeout[] = [];
  /** Wall-clock times (ms since epoch) and latencies of /healthz answers over `slowMs`. */
  readonly slowHealth: { at: number; ms: number }[] = [];
  private probe?: Worker;

  constructor(
    private readonly watched: Watched[],
    private readonly apiUrl: string,
    private readonly hardCapMiB: number,
    private readonly slowMs = 500,
  ) {}

  start(): void {
    this.timers.push(setInterval(() => this.sample(), 200));
    this.probe = new Worker(HEALTH_PROBE, { eval: true, workerData: { url: `${this.apiUrl}/healthz` } });
    this.probe.on('message', ({ ms, at }: { ms: number; at: number }) => {
      this.healthMs.push(ms);
      if (ms > this.slowMs) this.slowHealth.push({ at, ms });
    });
  }

  sample(): void {
    for (const w of this.watched) {
      if (!alive(w.pid)) {
        this.deaths.add(w.name);
        continue;
      }
      const rss = rssMiB(w.pid) ?? 0;
      this.rssMax.set(w.name, Math.max(this.rssMax.get(w.name) ?? 0, rss));
      if (rss > this.hardCapMiB) this.overHardCap = true;
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    if (this.probe) {
      const probe = this.probe;
      const exited = new Promise((res) => probe.once('exit', res));
      probe.postMessage('stop');
      await exited;
    }
    this.sample();
  }

  /** Largest RSS seen among processes whose name starts with `prefix`. */
  maxRss(prefix: string): number {
    return Math.max(0, ...[...this.rssMax].filter(([n]) => n.startsWith(prefix)).map(([, v]) => v));
  }

  overBound(): Watched[] {
    return this.watched.filter((w) => (this.rssMax.get(w.name) ?? 0) > w.boundMiB);
  }

  healthP99(): number {
    return percentile(this.healthMs, 99);
  }

  healthMax(): number {
    return Math.max(0, ...this.healthMs);
  }
}

/**
 * The /healthz probe thread (plain JS, so it runs under node and tsx alike): one request at a
 * time, 100 ms apart, each timed; no answer within 10 s counts as 10 s.
 */
const HEALTH_PROBE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let stopped = false;
parentPort.on('message', () => { stopped = true; });
const once = () => new Promise((resolve) => {
  const t0 = performance.now();
  const finish = (ok) => resolve({ ms: ok ? performance.now() - t0 : Math.max(performance.now() - t0, 10000), at: Date.now() });
  const req = http.get(workerData.url, { agent, timeout: 10000 }, (res) => {
    res.resume();
    res.on('end', () => finish(res.statusCode === 200));
    res.on('error', () => finish(false));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => finish(false));
});
(async () => {
  while (!stopped) {
    parentPort.postMessage(await once());
    await new Promise((r) => setTimeout(r, 100));
  }
  agent.destroy();
  parentPort.close();
})();
`;
