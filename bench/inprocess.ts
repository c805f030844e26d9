import { generateKeys, Owner } from '../src/producer/crypto.js';
import { loadPublicContext } from '../src/shared/context.js';
import type { PresetId } from '../src/shared/params.js';
import { getSeal } from '../src/shared/seal.js';
import { SEED_GENOTYPE, SEED_MODEL } from '../src/stack/demo.js';
import { pack, WIRE_VERSION } from '../src/shared/wire.js';
import { evaluateLinear } from '../src/worker/evaluate.js';
import { SEED_SCORE } from './seed.js';
import { cpuNow, log, now, procRss, round, stats, type Stats } from './util.js';

export interface InProcessResult {
  evaluations: number;
  jobsPerSecond: number;
  evaluateMs: Stats;
  /**
   * Worker compute per job as processor.ts does it, minus Redis: load the input, evaluate,
   * re-randomize + flood + serialize (finishResult), pack the result message.
   */
  serverMs: Stats;
  /** The same in CPU time of this process (steadier on a shared machine). */
  serverCpuMs: Stats;
  /** CPU between jobs: privacy.ts preparing the next re-randomization mask (Enc_pk(0) + uniform U). */
  maskCpuMs: Stats;
  /** Process RSS (bytes) after a warm-up, half-way and at the end of the timed evaluations. */
  rss: { before: number; half: number; after: number; growthPerThousand: number };
  maxAbsError: number;
}

/**
 * The worker's evaluation of the seed GRS without HTTP, Redis or a worker thread: one core, the
 * same evaluateLinear call processor.ts makes (weights cached under a key, as there).
 */
export async function inProcess(preset: PresetId, evaluations: number): Promise<InProcessResult> {
  const seal = await getSeal();
  const keys = await generateKeys(preset);
  const owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
  const ec = loadPublicContext(seal, keys.publicContext);
  try {
    // A pool of distinct encryptions, cycled: the evaluator never sees the same bytes twice in a row.
    const inputs = Array.from({ length: 16 }, () => owner.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' }));
    const weights = Float64Array.from(SEED_MODEL.weights);
    let maxAbsError = 0;
    const once = async (i: number) => {
      const enc = inputs[i % inputs.length]!;
      const te = now();
      const res = await evaluateLinear(seal, ec, {
        layout: enc.layout,
        weights,
        weightsKey: `bench:${SEED_MODEL.id}`,
        bias: SEED_MODEL.bias,
        scaleBits: enc.scaleBits,
        valueBits: enc.valueBits,
        input: async (j) => enc.ciphertexts[j]!,
      });
      const packStart = now();
      // The result message, as the worker stores it.
      const bytes = pack({
        v: WIRE_VERSION,
        jobId: `bench-${i}`,
        op: 'grs',
        preset,
        length: enc.layout.length,
        samples: 1,
        modelId: SEED_MODEL.id,
        link: SEED_MODEL.link,
        scaleBits: res.scaleBits,
        ciphertexts: res.ciphertexts,
      });
      return { res, enc, bytes, evaluated: packStart - te };
    };
    const check = (r: Awaited<ReturnType<typeof once>>) => {
      const [score] = owner.decryptResult(
        { v: 1, jobId: 'bench', op: 'grs', preset, length: r.enc.layout.length, samples: 1, scaleBits: r.res.scaleBits, ciphertexts: r.res.ciphertexts },
        r.enc.layout,
      );
      maxAbsError = Math.max(maxAbsError, Math.abs((score ?? NaN) - SEED_SCORE));
    };
    const warm = Math.min(50, Math.max(5, Math.floor(evaluations / 20)));
    for (let i = 0; i < warm; i++) {
      await new Promise<void>((r) => setImmediate(r));
      check(await once(i));
    }
    const rssNow = () => procRss(process.pid)?.rss ?? process.memoryUsage().rss;
    const before = rssNow();
    let half = before;
    const times: number[] = [];
    const evals: number[] = [];
    const cpu: number[] = [];
    const t0 = now();
    // One macrotask between jobs, as a worker thread has while it fetches the next job from Redis:
    // privacy.ts makes the next re-randomization mask there (counted in jobsPerSecond, not serverMs).
    const idle = () => new Promise<void>((r) => setImmediate(r));
    const masks: number[] = [];
    for (let i = 0; i < evaluations; i++) {
      const m = cpuNow();
      await idle();
      masks.push(cpuNow() - m);
      const c = cpuNow();
      const t = now();
      const r = await once(i);
      times.push(now() - t);
      cpu.push(cpuNow() - c);
      evals.push(r.evaluated);
      if (i % 250 === 0 || i === evaluations - 1) check(r);
      if (i === Math.floor(evaluations / 2)) half = rssNow();
    }
    const total = now() - t0;
    const after = rssNow();
    const result: InProcessResult = {
      evaluations,
      jobsPerSecond: round(evaluations / (total / 1000), 1),
      evaluateMs: stats(evals),
      serverMs: stats(times),
      serverCpuMs: stats(cpu),
      maskCpuMs: stats(masks),
      rss: { before, half, after, growthPerThousand: Math.round(((after - before) / evaluations) * 1000) },
      maxAbsError: round(maxAbsError, 12),
    };
    log(`${preset}: in-process ${result.jobsPerSecond} jobs/s, RSS ${(before / 2 ** 20).toFixed(0)} → ${(after / 2 ** 20).toFixed(0)} MiB`);
    return result;
  } finally {
    ec.dispose();
    owner.dispose();
  }
}
