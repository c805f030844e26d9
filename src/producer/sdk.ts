import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VeilError } from '../shared/errors.js';
import { vectorLayout } from '../shared/layout.js';
import { DEFAULT_PRESET, type PresetId } from '../shared/params.js';
import { WIRE_VERSION, type JobResult } from '../shared/wire.js';
import { applyLink } from '../shared/model.js';
import type { JobStatusBody, VeilClient } from './client.js';
import { generateKeys, Owner } from './crypto.js';
import { finishReport, type ReportOutcome } from './datasets.js';

/**
 * The data owner's workflow: keys on disk, encrypt → submit → wait → decrypt. The secret key is
 * read from `DIR/secret.key` into this process only; what is sent is ciphertext and public.ctx.
 */
export const SECRET_KEY_FILE = 'secret.key';
export const PUBLIC_CONTEXT_FILE = 'public.ctx';

export async function writeKeys(dir: string, preset: PresetId = DEFAULT_PRESET): Promise<{ contextId: string }> {
  const keys = await generateKeys(preset);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const secretPath = join(dir, SECRET_KEY_FILE);
  await writeFile(secretPath, keys.secretKeyFile, { mode: 0o600 });
  await chmod(secretPath, 0o600); // an existing file keeps its old mode through writeFile
  await writeFile(join(dir, PUBLIC_CONTEXT_FILE), keys.publicContext, { mode: 0o644 });
  return { contextId: keys.contextId };
}

export async function loadOwner(dir: string): Promise<Owner> {
  let pub: Buffer;
  let sec: Buffer;
  try {
    [pub, sec] = await Promise.all([readFile(join(dir, PUBLIC_CONTEXT_FILE)), readFile(join(dir, SECRET_KEY_FILE))]);
  } catch {
    throw new VeilError('keys_not_found', `no key pair in ${dir}; create one with: veil keygen --out ${dir}`);
  }
  return Owner.fromBytes(pub, sec);
}

/** Run `fn` with the owner's keys loaded, and free their WASM memory however it ends. */
export async function withOwner<T>(dir: string, fn: (owner: Owner) => Promise<T>): Promise<T> {
  const owner = await loadOwner(dir);
  try {
    return await fn(owner);
  } finally {
    owner.dispose();
  }
}

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

/** Submit a GRS job: one dosage vector per sample, in the model's variant order. */
export async function submitGrs(client: VeilClient, owner: Owner, modelId: string, dosages: ArrayLike<number>[], opts: SubmitOptions = {}): Promise<string> {
  const model = await client.getModelInfo(modelId);
  for (const d of dosages) {
    if (d.length !== model.variants) {
      throw new VeilError('wrong_length', `model ${modelId} has ${model.variants} variants; got ${d.length} dosages (list them in the model's variant order)`);
    }
  }
  const enc = owner.encryptVectors(dosages, { purpose: 'dot' });
  const contextId = await client.uploadContext(owner.publicContext);
  return client.submit({ v: WIRE_VERSION, op: 'grs', contextId, modelId, samples: dosages.length, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts }, opts.idempotencyKey);
}

export async function submitMean(client: VeilClient, owner: Owner, values: number[], opts: SubmitOptions = {}): Promise<string> {
  if (values.length === 0) throw new VeilError('invalid_input', 'give at least one value');
  const enc = owner.encryptVectors([values], { purpose: 'sum' });
  const contextId = await client.uploadContext(owner.publicContext);
  return client.submit({ v: WIRE_VERSION, op: 'mean', contextId, count: values.length, scaleBits: enc.scaleBits, valueBits: enc.valueBits, ciphertexts: enc.ciphertexts }, opts.idempotencyKey);
}

/**
 * Decrypt a result and finish what only the owner can: BFV results are sums, so a mean is divided
 * by its count here; a logistic model's probability is sigmoid(score) (the result names the link).
 */
export async function finish(client: VeilClient, owner: Owner, result: JobResult): Promise<(GrsOutcome | MeanOutcome | ReportOutcome)[]> {
  if (result.op === 'report') return [await finishReport(client, owner, result)];
  const layout = vectorLayout(owner.preset, result.length, result.samples);
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
