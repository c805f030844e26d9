import { Agent } from 'node:http';
import { alive, percentile, rssMiB } from './procs.js';
import { send } from './http.js';

/** A process the harness watches: its name for reports, its pid, and its RSS bound. */
export interface Watched {
  name: string;
  pid: number;
  boundMiB: number;
}

/**
 * Samples every watched process's RSS and liveness, and /healthz latency, concurrently with the
 * hostile traffic, until `stop()`. `overHardCap` turns true when a process grows past `hardCapMiB`
 * (the run then stops early rather than take the machine down with it).
 */
export class Monitor {
  readonly rssMax = new Map<string, number>();
  readonly deaths = new Set<string>();
  readonly healthMs: number[] = [];
  overHardCap = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private healthLoop?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly watched: Watched[],
    private readonly apiUrl: string,
    private readonly hardCapMiB: number,
  ) {}

  start(): void {
    this.timers.push(setInterval(() => this.sample(), 200));
    this.healthLoop = (async () => {
      while (!this.stopped) {
        const r = await send(this.apiUrl, { method: 'GET', path: '/healthz' }, { agent: this.agent, timeoutMs: 10_000 });
        this.healthMs.push(r.status === 200 ? r.ms : Math.max(r.ms, 10_000));
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
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
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.healthLoop;
    this.sample();
    this.agent.destroy();
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
