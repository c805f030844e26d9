import { VeilError } from '../shared/errors.js';
import type { RedisClient } from './redis.js';

export type ModelWriteMode = 'create' | 'replace';

/**
 * Write a model hash only if the id's current version is the one the caller read: create needs
 * "no model yet", replace needs "still version N". One script, so two uploads racing for one id
 * cannot both win, and a model is never overwritten by a plain upload.
 * KEYS: model hash, tenant's model set. ARGV: expected version (0 = none), meta, weights,
 * variants, model id, new version.
 */
const WRITE_MODEL = `
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or (redis.call('EXISTS', KEYS[1]) == 1 and '1' or '0'))
if current ~= tonumber(ARGV[1]) then return current end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'weights', ARGV[3], 'variants', ARGV[4], 'version', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[5])
return -1
`;

export class ModelConflictError extends VeilError {
  override readonly name = 'ModelConflictError';
}

export interface ModelWrite {
  modelKey: string;
  modelsKey: string;
  modelId: string;
  /** The version the caller saw: 0 when creating. */
  expectedVersion: number;
  meta: string;
  weights: Buffer;
  variants: Buffer;
}

/** Store version `expectedVersion + 1` of a model, or throw 409 `model_exists` / `model_changed`. */
export async function writeModelVersion(redis: RedisClient, w: ModelWrite, mode: ModelWriteMode): Promise<void> {
  const current = (await redis.eval(
    WRITE_MODEL,
    2,
    w.modelKey,
    w.modelsKey,
    w.expectedVersion,
    w.meta,
    w.weights,
    w.variants,
    w.modelId,
    w.expectedVersion + 1,
  )) as number;
  if (current === -1) return;
  if (mode === 'create') {
    throw new ModelConflictError(
      'model_exists',
      `model '${w.modelId}' already exists (version ${current}); replacing it is explicit: PUT /v1/models/${w.modelId} with a models-scope token`,
      409,
    );
  }
  throw new ModelConflictError(
    'model_changed',
    `model '${w.modelId}' changed while it was being replaced (now version ${current}); read it and try again`,
    409,
  );
}
