import { createHash } from 'node:crypto';
import { InvalidInputError, NotFoundError } from '../shared/errors.js';
import { MODEL_ID, type ModelDefinition, type ModelInfo, type ModelVariant } from '../shared/model.js';
import { writeModelVersion, type ModelWriteMode } from './model-write.js';
import type { Store } from './store.js';
import { pack, unpack } from '../shared/wire.js';

/** A model's stored metadata: what the API shows, and the content digest. */
export interface ModelMeta extends ModelInfo {
  bias: number;
  /** Content digest: caches key on it, so a re-upload under the same id is never served stale. */
  digest: string;
}

/**
 * What anyone with a token may see of a model: everything but the digest (an implementation
 * detail); a private model's bias is withheld like its weights (src/server/private-models.ts).
 */
export function modelInfo(meta: ModelMeta): ModelInfo {
  const { digest: _digest, bias, ...info } = meta;
  if (!meta.private) return { ...info, bias };
  const { veil_bias: _bias, ...metadata } = meta.metadata;
  return { ...info, metadata };
}

export function checkModelId(id: string): string {
  if (!MODEL_ID.test(id)) throw new InvalidInputError('invalid_model_id', `model id '${id}' must match ${MODEL_ID.source}`);
  return id;
}

/** Variants column by column: one array per field is far smaller than a million objects. */
interface VariantColumns {
  rsid: (string | null)[];
  chr: (string | null)[];
  pos: (number | null)[];
  effectAllele: string[];
  otherAllele: (string | null)[];
}

function toColumns(variants: ModelVariant[]): VariantColumns {
  return {
    rsid: variants.map((v) => v.rsid ?? null),
    chr: variants.map((v) => v.chr ?? null),
    pos: variants.map((v) => v.pos ?? null),
    effectAllele: variants.map((v) => v.effectAllele),
    otherAllele: variants.map((v) => v.otherAllele ?? null),
  };
}

function fromColumns(c: VariantColumns): ModelVariant[] {
  return c.effectAllele.map((effectAllele, i) => {
    const v: ModelVariant = { effectAllele };
    if (c.rsid[i]) v.rsid = c.rsid[i];
    if (c.chr[i]) v.chr = c.chr[i];
    if (c.pos[i] != null) v.pos = c.pos[i];
    if (c.otherAllele[i]) v.otherAllele = c.otherAllele[i];
    return v;
  });
}

function weightsBuffer(w: Float64Array): Buffer {
  const out = Buffer.alloc(w.length * 8);
  for (let i = 0; i < w.length; i++) out.writeDoubleLE(w[i] as number, i * 8);
  return out;
}

/** A checked model in its stored form: computed in a validation thread, written by storeModel. */
export interface PreparedModel {
  meta: Omit<ModelMeta, 'createdAt' | 'version'>;
  /** Float64 little-endian, one per variant. */
  weights: Uint8Array;
  /** The variant columns, msgpack'd. */
  variants: Uint8Array;
}

/** Check a model and serialize it for storage (CPU only: no Redis). */
export function prepareModel(modelId: string, def: ModelDefinition): PreparedModel {
  if (def.weights.length === 0) throw new InvalidInputError('invalid_model', 'the model has no variants with weights');
  if (def.variants.length !== def.weights.length) throw new InvalidInputError('invalid_model', 'variants and weights differ in length');
  for (let i = 0; i < def.weights.length; i++) {
    if (!Number.isFinite(def.weights[i])) throw new InvalidInputError('invalid_model', `weight ${i} is not a finite number`);
  }
  if (!Number.isFinite(def.bias)) throw new InvalidInputError('invalid_model', 'bias is not a finite number');
  const weights = weightsBuffer(def.weights);
  // Its own buffer (msgpackr's can be shared), so a thread can transfer it.
  const variants = new Uint8Array(pack(toColumns(def.variants)));
  const digest = createHash('sha256').update(weights).update(variants).update(`${def.bias}:${def.link}`).digest('hex').slice(0, 32);
  const meta = {
    modelId: checkModelId(modelId),
    name: def.name,
    variants: def.weights.length,
    bias: def.bias,
    link: def.link,
    metadata: def.metadata,
    digest,
    private: def.private ?? false,
  };
  return { meta, weights: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength), variants };
}

/** Create a model (409 `model_exists` if the id is taken) or replace it with a new version. */
export async function storeModel(store: Store, tenant: string, model: PreparedModel, mode: ModelWriteMode = 'create'): Promise<ModelMeta> {
  const { modelId } = model.meta;
  const previous = mode === 'replace' ? await getModelMeta(store, tenant, modelId) : undefined;
  const meta: ModelMeta = { ...model.meta, createdAt: new Date().toISOString(), version: (previous?.version ?? 0) + 1 };
  const expectedVersion = previous?.version ?? 0;
  try {
    await writeModelVersion(
      store.redis,
      {
        modelKey: store.keys.model(tenant, modelId),
        modelsKey: store.keys.models(tenant),
        modelId,
        expectedVersion,
        meta: JSON.stringify(meta),
        weights: Buffer.from(model.weights.buffer, model.weights.byteOffset, model.weights.byteLength),
        variants: Buffer.from(model.variants.buffer, model.variants.byteOffset, model.variants.byteLength),
      },
      mode,
    );
  } catch (err) {
    // Uploading the very same model again (a retried request, a second demo run) is no overwrite.
    const existing = mode === 'create' ? await getModelMeta(store, tenant, modelId).catch(() => undefined) : undefined;
    if (existing && existing.digest === meta.digest && existing.private === meta.private) return existing;
    throw err;
  }
  return meta;
}

export async function getModelMeta(store: Store, tenant: string, modelId: string): Promise<ModelMeta> {
  const raw = MODEL_ID.test(modelId) ? await store.redis.hget(store.keys.model(tenant, modelId), 'meta') : null;
  if (!raw) throw new NotFoundError('model', modelId);
  // Models stored before versioning: version 1, public.
  return { version: 1, private: false, ...(JSON.parse(raw) as Partial<ModelMeta>) } as ModelMeta;
}

export async function getModelWeights(store: Store, tenant: string, modelId: string): Promise<Float64Array> {
  const buf = await store.redis.hgetBuffer(store.keys.model(tenant, modelId), 'weights');
  if (!buf) throw new NotFoundError('model', modelId);
  const out = new Float64Array(buf.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}

/** A model's variant columns as stored (msgpack); variantListJson turns them into the API's list. */
export async function getPackedVariants(store: Store, tenant: string, modelId: string): Promise<Uint8Array> {
  const buf = await store.redis.hgetBuffer(store.keys.model(tenant, modelId), 'variants');
  if (!buf) throw new NotFoundError('model', modelId);
  return buf;
}

/** The JSON text of a model's variant list, in model order (~0.7 s of CPU per million variants). */
export function variantListJson(packed: Uint8Array): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(fromColumns(unpack(packed) as VariantColumns)));
}

export async function listModels(store: Store, tenant: string): Promise<ModelMeta[]> {
  const ids = (await store.redis.smembers(store.keys.models(tenant))).sort();
  if (ids.length === 0) return [];
  const metas = await Promise.all(ids.map((id) => store.redis.hget(store.keys.model(tenant, id), 'meta')));
  return metas.filter((m): m is string => m !== null).map((m) => ({ version: 1, private: false, ...(JSON.parse(m) as Partial<ModelMeta>) }) as ModelMeta);
}

/** Remove a model; jobs already queued against it fail with `model_not_found`. */
export async function deleteModel(store: Store, tenant: string, modelId: string): Promise<void> {
  const [[, removed] = []] = (await store.redis.multi().del(store.keys.model(tenant, modelId)).srem(store.keys.models(tenant), modelId).exec()) ?? [];
  if (!removed) throw new NotFoundError('model', modelId);
}
