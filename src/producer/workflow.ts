import { VeilError } from '../shared/errors.js';
import { vectorLayout, type Packing } from '../shared/layout.js';
import { applyLink } from '../shared/model.js';
import { WIRE_VERSION, type JobResult } from '../shared/wire.js';
import type { JobStatusBody, VeilClient } from './client.js';
import { HARD_CALL_SCALE_BITS, type Owner } from './crypto.js';
import { finishReport, type ReportOutcome } from './datasets.js';

/**
 * The data owner's jobs: encrypt → submit → wait → decrypt. No Node-only imports, so the CLI and
 * the browser page (web/) run this same code and send the same wire format.
 */

export interface GrsOutcome {
  jobId: string;
  modelId: string;
  score: number;
  probability?: number;
}

export interface MeanOutcome {
  jobId: string;
  mean: number;
  count: number;
}

export interface SubmitOptions {
  idempotencyKey?: string;
}

/**
 * Submit a GRS job: one dosage vector per sample, in the model's variant order. `hardCalls`
 * declares whole-number dosages (the source has nothing else): the weights then get 16 more bits.
 */
export async function submitGrs(
  client: VeilClient,
  owner: Owner,
  modelId: string,
  dosages: ArrayLike<number>[],
  opts: SubmitOptions & { hardCalls?: boolean; packing?: Packing } = {},
): Promise<string> {
  const model = await client.getModelInfo(modelId);
  for (const d of dosages) {
    if (d.length !== model.variants) {
      throw new VeilError('wrong_length', `model ${modelId} has ${model.variants} variants; got ${d.length} dosages (list them in the model's variant order)`);
    }
  }
  const packing = opts.packing ?? 'coeff';
  const enc = owner.encryptVectors(dosages, { purpose: 'dot', packing, ...(opts.hardCalls ? { scaleBits: HARD_CALL_SCALE_BITS } : {}) });
  const contextId = await client.uploadContext(owner.publicContext);
  return client.submit(
    {
      v: WIRE_VERSION,
      op: 'grs',
      contextId,
      modelId,
      samples: dosages.length,
      ...(packing !== 'coeff' ? { packing } : {}),
      scaleBits: enc.scaleBits,
      valueBits: enc.valueBits,
      ciphertexts: enc.ciphertexts,
    },
    opts.idempotencyKey,
  );
}

export async function submitMean(client: VeilClient, owner: Owner, values: number[], opts: SubmitOptions = {}): Promise<string> {
  if (values.length === 0) throw new VeilError('invalid_input', 'give at least one value');
  const enc = owner.encryptVectors([values], { purpose: 'sum' });
  const contextId = await client.uploadContext(owner.publicContext);
  return client.submit(
    { v: WIRE_VERSION, op: 'mean', contextId, count: values.length, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts },
    opts.idempotencyKey,
  );
}

/**
 * Decrypt a result and finish what only the owner can: BFV results are sums, so a mean is divided
 * by its count here; a logistic model's probability is sigmoid(score) (the result names the link).
 */
export async function finish(client: VeilClient, owner: Owner, result: JobResult): Promise<(GrsOutcome | MeanOutcome | ReportOutcome)[]> {
  if (result.op === 'report') return [await finishReport(client, owner, result)];
  const layout = vectorLayout(owner.preset, result.length, result.samples, result.packing ?? 'coeff');
  const values = owner.decryptResult(result, layout);
  if (result.op === 'mean') {
    const mean = owner.preset.encoding === 'coeff' ? (values[0] as number) / result.length : (values[0] as number);
    return [{ jobId: result.jobId, mean, count: result.length }];
  }
  const modelId = result.modelId as string;
  // The result names the link; only one from an older worker sends the owner back for the model.
  const link = result.link ?? (await client.getModelInfo(modelId)).link;
  return values.map((score) => ({ jobId: result.jobId, modelId, score, ...applyLink(link, score) }));
}

export async function waitAndFinish(client: VeilClient, owner: Owner, jobId: string, onProgress?: (s: JobStatusBody) => void) {
  return finish(client, owner, await client.result(jobId, { onProgress }));
}
