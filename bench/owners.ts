import { generateKeys, type Owner } from '../src/producer/crypto.js';
import type { PresetId } from '../src/shared/params.js';
import { WIRE_VERSION, type JobRequest } from '../src/shared/wire.js';
import { SEED_GENOTYPE, SEED_MODEL } from '../src/stack/demo.js';
import { type BenchStack, jobTimes, ownerFor } from './stack.js';
import { log, now, pool, round, stats, type Stats } from './util.js';

export interface OwnersResult {
  owners: number;
  rounds: number;
  jobs: number;
  jobsPerSecond: number;
  evaluate: Stats;
  latency: Stats;
  /** POST /v1/contexts per owner (ms). */
  uploadContext: Stats;
}

/**
 * Many data owners, one job each per round, round-robin: a service's usual traffic. With more
 * owners than a worker's context cache holds, every job may run under a context the worker has
 * to load again.
 */
export async function manyOwners(s: BenchStack, preset: PresetId, owners: number, rounds: number, inflight: number): Promise<OwnersResult> {
  const list: Owner[] = [];
  const uploads: number[] = [];
  try {
    for (let i = 0; i < owners; i++) {
      const keys = await generateKeys(preset);
      const t0 = now();
      list.push(await ownerFor(s.client, keys));
      uploads.push(now() - t0);
    }
    await s.client.addModelJson(SEED_MODEL);
    const requests: JobRequest[] = list.map((o) => {
      const enc = o.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' });
      return {
        v: WIRE_VERSION,
        op: 'grs',
        contextId: o.contextId,
        modelId: SEED_MODEL.id,
        samples: 1,
        scaleBits: enc.scaleBits,
        valueBits: enc.valueBits,
        ciphertexts: enc.ciphertexts,
      };
    });
    const jobs = owners * rounds;
    const latencies: number[] = [];
    const t0 = now();
    const ids = await pool(jobs, inflight, async (i) => {
      const ts = now();
      const id = await s.client.submit(requests[i % owners]!);
      await s.client.result(id);
      latencies.push(now() - ts);
      return id;
    });
    const wall = now() - t0;
    const times = await Promise.all(ids.map((id) => jobTimes(s.queue, id)));
    const result: OwnersResult = {
      owners,
      rounds,
      jobs,
      jobsPerSecond: round(jobs / (wall / 1000), 2),
      evaluate: stats(times.map((t) => t.finishedOn - t.processedOn)),
      latency: stats(latencies),
      uploadContext: stats(uploads),
    };
    log(`${preset}: ${owners} owners × ${rounds} rounds: ${result.jobsPerSecond} jobs/s, evaluate median ${result.evaluate.median} ms`);
    return result;
  } finally {
    for (const o of list) o.dispose();
  }
}
