import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { config } from '../server/config.js';
import { loadPublicContext, type EvalContext } from '../shared/context.js';
import { InvalidInputError, isPermanentError, NotFoundError, VeilError } from '../shared/errors.js';
import { failureReason, type JobData, type JobReturn, type LinearJobData, type ReportJobData } from '../server/queue.js';
import { vectorLayout } from '../shared/layout.js';
import type { Link } from '../shared/model.js';
import { getModelMeta, getModelWeights } from '../server/models.js';
import { connectRedis, keyPrefix } from '../server/redis.js';
import { getSeal, type Seal } from '../shared/seal.js';
import { Store } from '../server/store.js';
import { pack, WIRE_VERSION } from '../shared/wire.js';
import { LruCache } from './cache.js';
import { evaluateLinear } from './evaluate.js';
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
  weights: LruCache<Float64Array>;
}

let env: Promise<ThreadEnv> | undefined;

function threadEnv(): Promise<ThreadEnv> {
  env ??= (async () => {
    const cfg = config();
    if (!cfg.REDIS_URL) throw new Error('REDIS_URL is not set in the worker');
    return {
      seal: await getSeal(),
      store: new Store(connectRedis(cfg.REDIS_URL, 'veil-worker'), keyPrefix(cfg.VEIL_PREFIX, cfg.REDIS_URL), cfg.RETENTION_SECONDS),
      // Entries hold only an owner's keys (the SEAL context is shared per preset): CKKS Galois
      // keys are ~20 MB of WASM memory each, BFV entries a public key.
      contexts: new LruCache<EvalContext>(32, () => 1, (ec) => ec.dispose()),
      weights: new LruCache<Float64Array>(512 * 2 ** 20, (w) => w.byteLength),
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
  return ec;
}

async function modelWeights(e: ThreadEnv, data: LinearJobData): Promise<{ weights: Float64Array; bias: number; link: Link }> {
  const modelId = data.modelId as string;
  const meta = await getModelMeta(e.store, data.tenant, modelId);
  if (meta.digest !== data.modelDigest) {
    throw new InvalidInputError('model_changed', `model '${modelId}' was replaced after this job was submitted; submit it again`);
  }
  const key = `${data.tenant}:${modelId}:${meta.digest}`;
  let weights = e.weights.get(key);
  if (!weights) {
    weights = await getModelWeights(e.store, data.tenant, modelId);
    e.weights.set(key, weights);
  }
  return { weights, bias: meta.bias, link: meta.link };
}

async function run(job: SandboxedJob<LinearJobData, JobReturn>): Promise<JobReturn> {
  const e = await threadEnv();
  const data = job.data;
  const jobId = job.id;
  const ec = await evalContext(e, data.tenant, data.contextId);
  const layout = vectorLayout(ec.preset, data.length, data.samples);
  const model = data.op === 'grs' ? await modelWeights(e, data) : undefined;
  let lastReport = 0;
  const result = await evaluateLinear(e.seal, ec, {
    layout,
    weights: model?.weights,
    weightsKey: model ? `${data.tenant}:${data.modelId}:${data.modelDigest}` : 'ones',
    bias: model?.bias ?? 0,
    factor: data.op === 'mean' ? 1 / data.length : undefined,
    scaleBits: data.scaleBits,
    valueBits: data.valueBits,
    async input(i) {
      const bytes = await e.store.getInput(jobId, i);
      if (!bytes) throw new InvalidInputError('inputs_gone', 'the job\'s inputs were deleted or expired before it ran; submit it again');
      return bytes;
    },
    async onProgress(done, total) {
      const pct = Math.floor((100 * done) / total);
      if (pct - lastReport >= 5 || done === total) {
        lastReport = pct;
        await job.updateProgress(pct);
      }
    },
  });
  const bytes = pack({
    v: WIRE_VERSION,
    jobId,
    op: data.op,
    preset: ec.preset.id,
    length: data.length,
    samples: data.samples,
    ...(data.modelId ? { modelId: data.modelId } : {}),
    ...(model ? { link: model.link } : {}),
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
      return await runReport(job as SandboxedJob<ReportJobData, JobReturn>, { seal: e.seal, store: e.store, context: (t, c) => evalContext(e, t, c) });
    }
    return await run(job as SandboxedJob<LinearJobData, JobReturn>);
  } catch (err) {
    // failedReason is "code: message" (queue.ts parseFailure splits it for the API). Bad input fails once, for good;
    // anything else (Redis hiccup, a bug) is retried with backoff.
    const code = err instanceof VeilError ? err.code : 'internal';
    const message = failureReason(code, err instanceof Error ? err.message : String(err));
    if (isPermanentError(err)) throw Object.assign(new UnrecoverableError(message), { cause: err });
    throw new Error(message, { cause: err });
  }
}
