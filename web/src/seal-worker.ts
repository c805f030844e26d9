/**
 * The page's Web Worker: keys, genotype files, encryption, HTTP and decryption, so the page never
 * freezes and the secret key never enters the page's own context. It runs the CLI's code
 * (src/producer: crypto.ts, client.ts, workflow.ts, genomics/match.ts), so what it sends is the
 * CLI's wire format byte for byte; web/build.mjs swaps in browser versions of node:crypto,
 * node-seal's loader and shared/lines.ts.
 */
import { z } from 'zod';
import { VeilClient, type JobStatusBody } from '../../src/producer/client.js';
import { generateKeys, Owner } from '../../src/producer/crypto.js';
import { match23andMe, matchVcf, type GenotypeMatch, type Progress } from '../../src/producer/genomics/match.js';
import { submitGrs, submitMean, waitAndFinish, type GrsOutcome, type MeanOutcome } from '../../src/producer/workflow.js';
import { VeilError } from '../../src/shared/errors.js';
import { readLines } from '../../src/shared/lines.js';
import { packBackup, unpackKeyFiles } from './backup.js';
import { loadKeys, loadToken, saveKeys, saveToken, type StoredKeys } from './keystore.js';
import type { FromWorker, GrsResult, Reply, Request, Stage, ToWorker } from './protocol.js';

// The page's CSP has no 'unsafe-eval': tell zod up front instead of letting it probe with new Function.
z.config({ jitless: true });

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  location: Location;
}
const scope = self as unknown as WorkerScope;
const clientFor = (token: string | undefined) => new VeilClient({ server: scope.location.origin, token: token || undefined });
let client = clientFor(undefined);
// The access code is read before the first request (models and keys are asked for together).
const tokenLoaded = loadToken().then((token) => {
  client = clientFor(token);
});

let keys: StoredKeys | undefined;
let owner: Owner | undefined;

async function useKeys(next: StoredKeys): Promise<Owner> {
  const loaded = await Owner.fromBytes(next.publicContext, next.secretKeyFile);
  owner?.dispose(); // WASM memory is not garbage-collected
  owner = loaded;
  keys = next;
  return loaded;
}

async function makeKeys(): Promise<Reply> {
  const made = await generateKeys();
  const next = { publicContext: made.publicContext, secretKeyFile: made.secretKeyFile };
  await useKeys(next);
  await saveKeys(next);
  return { type: 'keys', contextId: made.contextId, made: true };
}

function currentOwner(): Owner {
  if (!owner) throw new VeilError('no_keys', 'the keys are not ready yet');
  return owner;
}

/** The job's progress as the page shows it: queued, then computing with the worker's fraction. */
const reportStatus = (progress: (stage: Stage, fraction?: number) => void) => (s: JobStatusBody) =>
  s.status === 'queued' ? progress('queued') : progress('computing', Math.min(1, Math.max(0, s.progress / 100)));

/** `hardCalls`: whole-number dosages only (a 23andMe file), as veil grs --23andme declares them. */
async function scoreDosages(
  modelId: string,
  dosages: ArrayLike<number>,
  progress: (stage: Stage, fraction?: number) => void,
  hardCalls = false,
): Promise<GrsOutcome> {
  const o = currentOwner();
  progress('encrypting');
  const jobId = await submitGrs(client, o, modelId, [dosages], { hardCalls });
  progress('queued');
  const [outcome] = (await waitAndFinish(client, o, jobId, reportStatus(progress))) as GrsOutcome[];
  progress('decrypting');
  return outcome as GrsOutcome;
}

/** 23andMe or VCF, told apart by the first line (either may be gzip-compressed). */
async function sniff(bytes: Uint8Array): Promise<'vcf' | '23andme'> {
  const lines = readLines(bytes, 'file_not_recognised');
  const first = (await lines.next()).value as string | undefined;
  await lines.return(undefined);
  if (first?.startsWith('##fileformat=VCF')) return 'vcf';
  if (first !== undefined && (first.startsWith('#') || /^(rs|i)\d+\t/.test(first))) return '23andme';
  throw new VeilError('file_not_recognised', 'the file is neither a 23andMe raw data file nor a VCF');
}

async function scoreFile(modelId: string, bytes: Uint8Array, progress: (stage: Stage, fraction?: number) => void): Promise<GrsResult> {
  currentOwner();
  progress('reading', 0);
  const model = await client.getModel(modelId);
  const variants = { variants: model.variantList, metadata: model.metadata };
  const onProgress = (p: Progress) => progress('reading', p.bytes / bytes.length);
  const format = await sniff(bytes);
  const match: GenotypeMatch = format === 'vcf' ? await matchVcf(variants, bytes, { onProgress }) : await match23andMe(variants, bytes, { onProgress });
  if (match.samples.length === 0) throw new VeilError('invalid_vcf', 'the VCF has no samples');
  if (match.variantsUsed === 0) throw new VeilError('no_variants_matched', `none of the model's ${model.variants} variants were found in the file`);
  const outcome = await scoreDosages(modelId, match.dosages(0), progress, format === '23andme');
  return {
    ...scoreOf(outcome),
    variantsUsed: match.variantsUsed,
    variantsMissing: match.variantsMissing,
    skipped: match.reasons,
    ...(match.samples.length > 1 ? { sample: match.samples[0] } : {}),
  };
}

const scoreOf = (o: GrsOutcome) => ({ score: o.score, ...(o.probability !== undefined ? { probability: o.probability } : {}) });

async function listModels(): Promise<Reply> {
  return { type: 'models', models: (await client.listModels()).map(({ modelId, name, variants, link }) => ({ modelId, name, variants, link })) };
}

async function handle(request: Request, progress: (stage: Stage, fraction?: number) => void): Promise<Reply> {
  await tokenLoaded;
  switch (request.type) {
    case 'start': {
      progress('keys');
      const stored = await loadKeys();
      if (!stored) return makeKeys();
      return { type: 'keys', contextId: (await useKeys(stored)).contextId, made: false };
    }
    case 'keygen':
      progress('keys');
      return makeKeys();
    case 'export-keys':
      if (!keys) throw new VeilError('no_keys', 'the keys are not ready yet');
      return { type: 'key-backup', bytes: packBackup(keys) };
    case 'import-keys': {
      const next = unpackKeyFiles(request.files);
      const o = await useKeys(next);
      await saveKeys(next);
      return { type: 'keys', contextId: o.contextId, made: false };
    }
    case 'token':
      await saveToken(request.token.trim());
      client = clientFor(request.token.trim());
      return listModels();
    case 'models':
      return listModels();
    case 'grs': {
      const outcome = await scoreDosages(request.modelId, request.dosages, progress);
      return { type: 'grs', result: { ...scoreOf(outcome), variantsUsed: request.dosages.length, variantsMissing: 0, skipped: {} } };
    }
    case 'grs-file':
      return { type: 'grs', result: await scoreFile(request.modelId, request.bytes, progress) };
    case 'mean': {
      const o = currentOwner();
      progress('encrypting');
      const jobId = await submitMean(client, o, request.values);
      progress('queued');
      const [outcome] = (await waitAndFinish(client, o, jobId, reportStatus(progress))) as MeanOutcome[];
      return { type: 'mean', mean: (outcome as MeanOutcome).mean, count: (outcome as MeanOutcome).count };
    }
  }
}

scope.onmessage = async ({ data: { id, request } }) => {
  const progress = (stage: Stage, fraction?: number) => scope.postMessage({ id, kind: 'progress', stage, fraction });
  try {
    scope.postMessage({ id, kind: 'done', reply: await handle(request, progress) });
  } catch (err) {
    // Codes and messages only: they name what went wrong, never the data (the readers' and the
    // server's messages are written that way too).
    const code = err instanceof VeilError ? err.code : 'internal';
    scope.postMessage({ id, kind: 'error', code, message: err instanceof Error ? err.message : String(err) });
  }
};
