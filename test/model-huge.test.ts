import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Monitor } from '../tools/lib/monitor.js';
import { call, testStack, type TestStack } from './helpers/stack.js';

const JSON_TYPE = 'application/json';

/**
 * Millions of variants are parsed and serialized in the API's validation threads, not on its event
 * loop. The API runs in its own process, timed from a thread of this one (tools/lib/monitor.ts):
 * this process's own work on the 60 MB answer (the OpenAPI check) must not count as the API's.
 */
describe('a 2,000,000-variant model', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ workers: 0 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is stored and listed while /healthz answers within a second', async () => {
    const n = 2_000_000;
    const weights = Array.from({ length: n }, (_, i) => (i % 7) / 100);
    const body = { type: JSON_TYPE, data: JSON.stringify({ id: 'huge', name: 'huge', weights }) };
    const monitor = new Monitor([], stack.apiUrl, Infinity, 0);
    monitor.start();
    const stored = await call(stack.apiUrl, 'POST', '/v1/models', body);
    const listed = await fetch(`${stack.apiUrl}/v1/models/huge`);
    const text = await listed.text();
    await monitor.stop();
    expect(stored.json).toMatchObject({ modelId: 'huge', variants: n });
    const detail = JSON.parse(text) as { variants: number; variantList: { rsid: string; effectAllele: string }[] };
    expect(detail.variants).toBe(n);
    expect(detail.variantList).toHaveLength(n);
    expect(detail.variantList[n - 1]).toEqual({ rsid: `v${n}`, effectAllele: '?' });
    const worst = monitor.healthMax();
    console.log(`2M-variant model: /healthz ${monitor.healthMs.length} probes during upload and list, worst ${worst.toFixed(0)} ms`);
    expect(monitor.healthMs.length).toBeGreaterThan(5);
    expect(worst).toBeLessThan(1000);
  });
});
