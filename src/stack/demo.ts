import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { config } from '../server/config.js';
import { VeilClient } from '../producer/client.js';
import { loadOwner, submitGrs, submitMean, waitAndFinish, writeKeys, type GrsOutcome, type MeanOutcome } from '../producer/sdk.js';
import { startLocalStack } from './local.js';

/** The seed tutorials' numbers (seeds/): a 5-SNP logistic GRS and the mean of 7 heart rates. */
export const SEED_MODEL = {
  id: 'seed-grs',
  name: 'Seed tutorial GRS (5 SNPs, logistic)',
  weights: [0.15, -0.02, 0.45, 0.12, -0.05],
  bias: -1.2,
  link: 'logistic' as const,
};
export const SEED_GENOTYPE = [1, 0, 2, 1, 0];
export const SEED_HEART_RATES = [72.5, 71.0, 73.2, 69.8, 70.5, 74.1, 71.7];

/** `npm run demo`: both seed scenarios through HTTP, the queue and worker processes. */
export async function demo(opts: { json: boolean }): Promise<void> {
  const stack = await startLocalStack({ workers: config().WORKERS });
  const keyDir = await mkdtemp(join(tmpdir(), 'veil-demo-keys-'));
  try {
    const client = new VeilClient({ server: stack.apiUrl });
    await writeKeys(keyDir);
    const owner = await loadOwner(keyDir);
    try {
      await client.addModelJson(SEED_MODEL);
      const [grsJob, meanJob] = await Promise.all([submitGrs(client, owner, SEED_MODEL.id, [SEED_GENOTYPE]), submitMean(client, owner, SEED_HEART_RATES)]);
      const grs = (await waitAndFinish(client, owner, grsJob))[0] as GrsOutcome;
      const mean = (await waitAndFinish(client, owner, meanJob))[0] as MeanOutcome;
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ grs: { jobId: grs.jobId, score: grs.score, probability: grs.probability }, mean: { jobId: mean.jobId, mean: mean.mean, count: mean.count } })}\n`,
        );
      } else {
        process.stdout.write(
          [
            `veil demo — local stack at ${stack.apiUrl} (2 worker processes), preset ${owner.preset.id}`,
            `GRS   job ${grs.jobId}: genotype [${SEED_GENOTYPE.join(',')}] · weights + bias ${SEED_MODEL.bias}`,
            `      score ${grs.score.toFixed(6)}  probability sigmoid(score) ${grs.probability?.toFixed(5)}`,
            `Mean  job ${mean.jobId}: ${mean.count} heart rates → ${mean.mean.toFixed(5)} bpm`,
            '',
          ].join('\n'),
        );
      }
    } finally {
      owner.dispose();
    }
  } finally {
    await rm(keyDir, { recursive: true, force: true });
    await stack.close();
  }
}
