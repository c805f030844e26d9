import { choosePacking, vectorLayout, type Packing } from '../../shared/layout.js';
import type { VeilClient } from '../client.js';
import type { Owner } from '../crypto.js';
import { submitGrs, waitAndFinish, type GrsOutcome } from '../sdk.js';
import type { GenotypeMatch } from './match.js';

/** Ciphertexts per job when scoring many samples: ~27 MB requests, progress between them. */
const CIPHERTEXTS_PER_JOB = 128;

export interface SampleScore extends GrsOutcome {
  sample: string;
  variantsUsed: number;
  variantsMissing: number;
}

/**
 * Score every sample of a genotype match, in the packing `choosePacking` picks (or `packing`):
 * coefficient packing puts several samples per ciphertext (as many as the model's length allows)
 * in jobs of ≤ 128 ciphertexts; sample packing puts up to N samples per ciphertext, one ciphertext
 * per variant, one job per N samples. Decrypted here.
 */
export async function scoreSamples(
  client: VeilClient,
  owner: Owner,
  modelId: string,
  match: GenotypeMatch,
  onProgress?: (samplesDone: number, total: number) => void,
  opts: { packing?: Packing } = {},
): Promise<SampleScore[]> {
  const total = match.samples.length;
  const variants = (await client.getModelInfo(modelId)).variants;
  const packing = opts.packing ?? choosePacking(owner.preset, variants, total);
  const one = vectorLayout(owner.preset, variants, 1, packing);
  const batch = packing === 'sample' ? one.samplesPerCiphertext : Math.max(1, Math.floor(CIPHERTEXTS_PER_JOB / one.chunks) * one.samplesPerCiphertext);
  const jobs: { from: number; jobId: string }[] = [];
  for (let from = 0; from < total; from += batch) {
    const dosages = match.samples.slice(from, from + batch).map((_, k) => match.dosages(from + k));
    jobs.push({ from, jobId: await submitGrs(client, owner, modelId, dosages, { packing }) });
  }
  const out: SampleScore[] = [];
  for (const { from, jobId } of jobs) {
    const scores = (await waitAndFinish(client, owner, jobId)) as GrsOutcome[];
    scores.forEach((s, k) =>
      out.push({ sample: match.samples[from + k] as string, ...s, variantsUsed: match.variantsUsed, variantsMissing: match.variantsMissing }),
    );
    onProgress?.(out.length, total);
  }
  return out;
}
