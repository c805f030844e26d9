import type { Readable } from 'node:stream';
import { InvalidInputError } from '../../shared/errors.js';
import type { ModelDefinition, ModelDetail, ModelInfo, jsonModelSchema } from '../../shared/model.js';
import { parsePgsScoringFile } from '../../shared/pgs.js';
import type { z } from 'zod';
import type { ServiceDeps } from '../deps.js';
import { checkModelId, getModelMeta, getModelVariants, listModels, modelInfo, saveModel } from '../models.js';

const idFromName = (name: string) => name.replace(/[^A-Za-z0-9_.-]+/g, '_');

/** Store a model given as JSON (see jsonModelSchema); its id: `id`, else the body's id, else its name. */
export async function addJsonModel(deps: ServiceDeps, tenant: string, m: z.output<typeof jsonModelSchema>, id?: string): Promise<ModelInfo> {
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
  };
  const modelId = checkModelId(id ?? m.id ?? idFromName(m.name));
  return modelInfo(await saveModel(deps.store, tenant, modelId, def));
}

/** Store a PGS Catalog scoring file, parsed line by line as it streams in. */
export async function addPgsModel(deps: ServiceDeps, tenant: string, input: Readable, id?: string): Promise<ModelInfo> {
  const { model } = await parsePgsScoringFile(input, id ?? 'model');
  const modelId = checkModelId(id ?? model.metadata.pgs_id ?? idFromName(model.name));
  return modelInfo(await saveModel(deps.store, tenant, modelId, model));
}

export async function modelList(deps: ServiceDeps, tenant: string): Promise<ModelInfo[]> {
  return (await listModels(deps.store, tenant)).map(modelInfo);
}

/** A model's info and, when asked for, its variant list (it can be a million entries). */
export async function modelDetail(deps: ServiceDeps, tenant: string, modelId: string, withVariants: boolean): Promise<ModelDetail> {
  const info = modelInfo(await getModelMeta(deps.store, tenant, modelId));
  return withVariants ? { ...info, variantList: await getModelVariants(deps.store, tenant, modelId) } : info;
}
