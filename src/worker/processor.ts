import type { SandboxedJob } from 'bullmq';
import { bullmq } from '../server/cjs.js';
import { config } from '../server/config.js';
import { loadPublicContext, type EvalContext } from '../shared/context.js';
import { InvalidInputError, isPermanentError, NotFoundError, VeilError } from '../shared/errors.js';
import { failureReason, type JobData, type JobReturn, type LinearJobData, type ReportJobData } from '../server/queue.js';
import { vectorLayout } from '../shared/layout.js';
import { connectRedis, keyPrefix } from '../server/redis.js';
import { freshSeal, type Seal } from '../shared/seal.js';
import { Store } from '../server/store.js';
import { pack, WIRE_VERSION } from '../shared/wire.js';
import { LruCache } from './cache.js';
import { evaluateLinear } from './evaluate.js';
import { ModelLoader } from './models.js';
import { warmPool } from './privacy.js';
import { throttledProgress } from './progress.js';
import { runReport } from './reports.js';

/**
 * BullMQ sandboxed processor: runs in a worker thread, so SEAL's CPU work never blocks the main
 * thread that renews job locks. Each thread keeps its own SEAL instance, Redis connection and
 * caches; they live as long as the thread.
 */
interface ThreadEnv {
  seal: Seal;
  store: Store;
  contexts: LruCache<EvalContext>;
  models: ModelLoader;
}

let env: Promise<ThreadEnv> | undefined;

const newContextCache = () =>
  new LruCache<EvalContext>(
    32,
    () => 1,
    (ec) => ec.dispose(),
  );

function threadEnv(): Promise<ThreadEnv> {
  env ??= (async () => {
    const cfg = config();
    if (!cfg.REDIS_URL) throw new Error('REDIS_URL is not set in the worker');
    const store = new Store(connectRedis(cfg.REDIS_URL, 'veil-worker'), keyPrefix(cfg.VEIL_PREFIX, cfg.REDIS_URL), cfg.RETENTION_SECONDS);
    return {
      seal: await freshSeal(),
      store,
      // Entries hold only an owner's keys (the SEAL context is shared per preset): CKKS Galois
      // keys are ~20 MB of WASM memory each, BFV entries a public key (and, in privacy.ts, a
      // small pool of encryptions of zero under it).
      contexts: newContextCache(),
      models: new ModelLoader(store),
    };
  })();
  return env;
}

async function evalContext(e: ThreadEnv, tenant: string, contextId: string): Promise<EvalContext> {
  const key = `${tenant}:${contextId}`;
  const cached = e.contexts.get(key);
  if (cached) return cached;
  const bytes = await e.store.getContext(tenant, contextId);
  if (!bytes) throw new NotFoundError('context', contextId);
  const ec = loadPublicContext(e.seal, bytes);
  e.contexts.set(key, ec);
  // Encryptions of zero for this owner's results are made between jobs from now on.
  warmPool(e.seal, ec);
  return ec;
}

/** Thrown inside an evaluation when the job's result is already stored: stop, nothing to redo. */
class FinishedElsewhere extends Error {}

async function run(job: SandboxedJob<LinearJobData, JobReturn>): Promise<JobReturn> {
  const e = await threadEnv();
  const data = job.data;
  const jobId = job.id;
  // A run that stored its result and died before BullMQ marked the job completed (a worker killed in between)
  // deleted the inputs with that write: the stored result is this job's answer, computed once.
  const earlier = await e.store.resultSize(jobId);
  if (earlier) return { resultBytes: earlier };
  const ec = await evalContext(e, data.tenant, data.contextId);
  const layout = vectorLayout(ec.preset, data.length, data.samples, data.packing ?? 'coeff');
  const model =
    data.op === 'grs' ? await e.models.load(data.tenant, data.modelId as string, data.modelDigest, 'job was submitted; submit it again') : undefined;
  const result = await evaluateLinear(e.seal, ec, {
    layout,
    weights: model?.weights,
    weightsKey: model?.key ?? 'ones',
    bias: model?.meta.bias ?? 0,
    factor: data.op === 'mean' ? 1 / data.length : undefined,
    scaleBits: data.scaleBits,
    valueBits: data.valueBits,
    async input(i) {
      const bytes = await e.store.getInput(jobId, i);
      if (!bytes && (await e.store.resultSize(jobId))) throw new FinishedElsewhere();
      if (!bytes) throw new InvalidInputError('inputs_gone', "the job's inputs were deleted or expired before it ran; submit it again");
      return bytes;
    },
    onProgress: throttledProgress(job),
  }).catch((err: unknown) => {
    if (err instanceof FinishedElsewhere) return undefined;
    throw err;
  });
  // Another run of this job (one whose lock had lapsed) stored the result meanwhile.
  if (!result) return { resultBytes: await e.store.resultSize(jobId) };
  const bytes = pack({
    v: WIRE_VERSION,
    jobId,
    op: data.op,
    preset: ec.preset.id,
    length: data.length,
    samples: data.samples,
    ...(data.packing && data.packing !== 'coeff' ? { packing: data.packing } : {}),
    ...(data.modelId ? { modelId: data.modelId } : {}),
    ...(model ? { link: model.meta.link } : {}),
    scaleBits: result.scaleBits,
    ciphertexts: result.ciphertexts,
  });
  await e.store.putResult(jobId, bytes);
  return { resultBytes: bytes.length };
}

export default async function process(job: SandboxedJob<JobData, JobReturn>): Promise<JobReturn> {
  try {
    if (job.data.op === 'report') {
      const e = await threadEnv();
      return await runReport(job as SandboxedJob<ReportJobData, JobReturn>, {
        seal: e.seal,
        store: e.store,
        models: e.models,
        context: (t, c) => evalContext(e, t, c),
      });
    }
    return await run(job as SandboxedJob<LinearJobData, JobReturn>);
  } catch (err) {
    if (sealRefused(err)) await renewSeal();
    // failedReason is "code: message" (queue.ts parseFailure splits it for the API). Bad input fails once, for good;
    // anything else (Redis hiccup, a bug) is retried with backoff.
    const code = err instanceof VeilError ? err.code : 'internal';
    const message = failureReason(code, err instanceof Error ? err.message : String(err));
    if (isPermanentError(err)) throw Object.assign(new bullmq.UnrecoverableError(message), { cause: err });
    throw new Error(message, { cause: err });
  }
}

/**
 * SEAL refused this job's bytes (with VALIDATE_CIPHERTEXTS=worker the worker is the first to load
 * them) or trapped: its heap may be corrupted without any sign, as the fuzzer found in the API's
 * threads. Later jobs in this thread get a new instance; what lived in the old heap (contexts,
 * cached weights: keyed by instance in evaluate.ts) is dropped, not deleted.
 */
function sealRefused(err: unknown): boolean {
  return (err instanceof VeilError && err.code === 'invalid_ciphertext') || (err instanceof Error && err.name === 'RuntimeError');
}

async function renewSeal(): Promise<void> {
  const e = await threadEnv();
  const old = e.contexts;
  e.contexts = newContextCache();
  // Marks them dead for a scheduled pool refill (privacy.ts), without calling into the old heap.
  for (const ec of old.values()) ec.publicKey = undefined;
  e.seal = await freshSeal();
}
