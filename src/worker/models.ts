import { InvalidInputError } from '../shared/errors.js';
import { getModelMeta, getModelWeights, type ModelMeta } from '../server/models.js';
import type { Store } from '../server/store.js';
import { LruCache } from './cache.js';

export interface LoadedModel {
  meta: ModelMeta;
  weights: Float64Array;
  /** Identifies this version's weights across jobs (see evaluate.ts's weight-plaintext cache). */
  key: string;
}

/**
 * A model's weights for one job, checked against the version the job was submitted with (when it
 * says): a job never runs against weights its owner did not ask for. Weights are cached per thread
 * by model version.
 */
export class ModelLoader {
  private readonly weights = new LruCache<Float64Array>(512 * 2 ** 20, (w) => w.byteLength);

  constructor(private readonly store: Store) {}

  async load(tenant: string, modelId: string, digest: string | undefined, again: string): Promise<LoadedModel> {
    const meta = await getModelMeta(this.store, tenant, modelId);
    if (digest && meta.digest !== digest) {
      throw new InvalidInputError('model_changed', `model '${modelId}' was replaced after this ${again}`);
    }
    const key = `${tenant}:${modelId}:${meta.digest}`;
    let weights = this.weights.get(key);
    if (!weights) {
      weights = await getModelWeights(this.store, tenant, modelId);
      this.weights.set(key, weights);
    }
    return { meta, weights, key };
  }
}
