import { generateKeys, Owner } from '../src/producer/crypto.js';
import { loadPublicContext } from '../src/shared/context.js';
import type { PresetId } from '../src/shared/params.js';
import { getSeal } from '../src/shared/seal.js';
import { SEED_GENOTYPE, SEED_MODEL } from '../src/stack/demo.js';
import { evaluateLinear } from '../src/worker/evaluate.js';
import { SEED_SCORE } from './seed.js';
import { log, now, procRss, round, stats, type Stats } from './util.js';

export interface InProcessResult {
  evaluations: number;
  jobsPerSecond: number;
  evaluateMs: Stats;
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
      const res = await evaluateLinear(seal, ec, {
        layout: enc.layout,
        weights,
        weightsKey: `bench:${SEED_MODEL.id}`,
        bias: SEED_MODEL.bias,
        scaleBits: enc.scaleBits,
        valueBits: enc.valueBits,
        input: async (j) => enc.ciphertexts[j]!,
      });
      return { res, enc };
    };
    const check = (r: Awaited<ReturnType<typeof once>>) => {
      const [score] = owner.decryptResult({ v: 1, jobId: 'bench', op: 'grs', preset, length: r.enc.layout.length, samples: 1, scaleBits: r.res.scaleBits, ciphertexts: r.res.ciphertexts }, r.enc.layout);
      maxAbsError = Math.max(maxAbsError, Math.abs((score ?? NaN) - SEED_SCORE));
    };
    const warm = Math.min(50, Math.max(5, Math.floor(evaluations / 20)));
    for (let i = 0; i < warm; i++) check(await once(i));
    const rssNow = () => procRss(process.pid)?.rss ?? process.memoryUsage().rss;
    const before = rssNow();
    let half = before;
    const times: number[] = [];
    const t0 = now();
    for (let i = 0; i < evaluations; i++) {
      const t = now();
      const r = await once(i);
      times.push(now() - t);
      if (i % 250 === 0 || i === evaluations - 1) check(r);
      if (i === Math.floor(evaluations / 2)) half = rssNow();
    }
    const total = now() - t0;
    const after = rssNow();
    const result: InProcessResult = {
      evaluations,
      jobsPerSecond: round(evaluations / (total / 1000), 1),
      evaluateMs: stats(times),
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
