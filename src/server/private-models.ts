import type { Config } from './config.js';
import { VeilError } from '../shared/errors.js';
import type { ModelMeta } from './models.js';
import type { Preset } from '../shared/params.js';
import type { Store } from './store.js';

/**
 * Limits on jobs against a private model. Any score API leaks its weights to chosen inputs: m
 * one-hot queries reveal m weights. Circuit privacy hides everything *but* the answer, so what
 * bounds the leak is how many answers a token gets: samples per job and jobs per token per day.
 */
export type PrivateModelLimits = Pick<Config, 'PRIVATE_MODEL_MAX_SAMPLES' | 'PRIVATE_MODEL_JOBS_PER_DAY'>;

const DAY_SECONDS = 24 * 3600;

export class RateLimitError extends VeilError {
  override readonly name = 'RateLimitError';
  constructor(
    code: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(code, message, 429);
  }
}

/** Check (and count) one job of `samples` samples by `tokenId` against `meta`; throws 422/429. */
export async function admitPrivateModelJob(
  store: Store,
  limits: PrivateModelLimits,
  tokenId: string,
  meta: ModelMeta,
  preset: Preset,
  samples: number,
): Promise<void> {
  if (!meta.private) return;
  if (preset.scheme !== 'bfv') {
    // CKKS results cannot be noise-flooded without losing their precision, so its noise would
    // carry information about the weights.
    throw new VeilError(
      'private_model_needs_bfv',
      `model '${meta.modelId}' is private; private models run only on the BFV preset (circuit privacy); make keys with the default preset`,
      422,
    );
  }
  if (samples > limits.PRIVATE_MODEL_MAX_SAMPLES) {
    throw new VeilError(
      'private_model_sample_limit',
      `model '${meta.modelId}' is private: at most ${limits.PRIVATE_MODEL_MAX_SAMPLES} sample(s) per job, got ${samples}`,
      422,
    );
  }
  const day = Math.floor(Date.now() / 1000 / DAY_SECONDS);
  const key = store.keys.privateModelJobs(meta.modelId, tokenId, day);
  const [[, used] = []] =
    (await store.redis
      .multi()
      .incr(key)
      .expire(key, 2 * DAY_SECONDS)
      .exec()) ?? [];
  if (Number(used) > limits.PRIVATE_MODEL_JOBS_PER_DAY) {
    const untilTomorrow = (day + 1) * DAY_SECONDS - Math.floor(Date.now() / 1000);
    throw new RateLimitError(
      'private_model_daily_limit',
      `model '${meta.modelId}' is private: at most ${limits.PRIVATE_MODEL_JOBS_PER_DAY} jobs per token per day (UTC); retry after the Retry-After delay`,
      untilTomorrow,
    );
  }
}
