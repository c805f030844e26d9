import type { Readable } from 'node:stream';
import { InvalidInputError } from '../../shared/errors.js';
import type { ModelDefinition, ModelDetail, ModelInfo, jsonModelSchema } from '../../shared/model.js';
import { parsePgsScoringFile } from '../../shared/pgs.js';
import type { z } from 'zod';
import type { ServiceDeps } from '../deps.js';
import type { ModelWriteMode } from '../model-write.js';
import { checkModelId, deleteModel, getModelMeta, getModelVariants, listModels, modelInfo, saveModel } from '../models.js';

const idFromName = (name: string) => name.replace(/[^A-Za-z0-9_.-]+/g, '_');

/** Limits on a model upload, from the config (checked before and while parsing). */
export interface ModelLimits {
  maxVariants: number;
  maxTextBytes: number;
}

/**
 * Store a model given as JSON (see jsonModelSchema); its id: `id`, else the body's id, else its
 * name. `create` (POST) refuses an existing id with 409 model_exists; `replace` (PUT) adds a version.
 */
export async function addJsonModel(
  deps: ServiceDeps,
  tenant: string,
  m: z.output<typeof jsonModelSchema>,
  id?: string,
  mode: ModelWriteMode = 'create',
): Promise<ModelInfo> {
  if (m.variants && m.variants.length !== m.weights.length) {
    throw new InvalidInputError('invalid_model', `variants has ${m.variants.length} entries but weights has ${m.weights.length}`);
  }
  const def: ModelDefinition = {
    name: m.name,
    metadata: m.metadata,
    weights: Float64Array.from(m.weights),
    variants: m.variants ?? m.weights.map((_, i) => ({ rsid: `v${i + 1}`, effectAllele: '?' })),
    bias: m.bias,
    link: m.link,
    private: m.private,
  };
  const modelId = checkModelId(id ?? m.id ?? idFromName(m.name));
  return modelInfo(await saveModel(deps.store, tenant, modelId, def, mode));
}

/** Store a PGS Catalog scoring file, parsed line by line as it streams in; `#veil_private=true` makes it private. */
export async function addPgsModel(
  deps: ServiceDeps,
  tenant: string,
  input: Readable,
  limits: ModelLimits,
  id?: string,
  mode: ModelWriteMode = 'create',
): Promise<ModelInfo> {
  const { model } = await parsePgsScoringFile(input, id ?? 'model', limits);
  model.private = model.metadata.veil_private === 'true';
  const modelId = checkModelId(id ?? model.metadata.pgs_id ?? idFromName(model.name));
  return modelInfo(await saveModel(deps.store, tenant, modelId, model, mode));
}

/** Remove a model; jobs already queued against it fail with `model_not_found`. */
export async function removeModel(deps: ServiceDeps, tenant: string, modelId: string): Promise<void> {
  await deleteModel(deps.store, tenant, checkModelId(modelId));
}

export async function modelList(deps: ServiceDeps, tenant: string): Promise<ModelInfo[]> {
  return (await listModels(deps.store, tenant)).map(modelInfo);
}

/** A model's info and, when asked for, its variant list (it can be a million entries). */
export async function modelDetail(deps: ServiceDeps, tenant: string, modelId: string, withVariants: boolean): Promise<ModelDetail> {
  const info = modelInfo(await getModelMeta(deps.store, tenant, modelId));
  return withVariants ? { ...info, variantList: await getModelVariants(deps.store, tenant, modelId) } : info;
}
