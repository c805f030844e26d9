import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/** Prometheus metrics of one API process. Queue depth is read from Redis at scrape time. */
export function createMetrics(queue: Queue) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: 'veil_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'veil_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const jobsSubmitted = new Counter({
    name: 'veil_jobs_submitted_total',
    help: 'Jobs accepted by this API process',
    labelNames: ['op'] as const,
    registers: [registry],
  });
  const bytesReceived = new Counter({
    name: 'veil_ciphertext_bytes_received_total',
    help: 'Ciphertext bytes accepted in job submissions',
    registers: [registry],
  });
  new Gauge({
    name: 'veil_queue_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  return { registry, httpRequests, httpDuration, jobsSubmitted, bytesReceived };
}
