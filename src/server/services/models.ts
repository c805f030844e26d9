import type { ModelInfo } from '../../shared/model.js';
import type { ServiceDeps } from '../deps.js';
import type { ModelUpload } from '../model-upload.js';
import type { ModelWriteMode } from '../model-write.js';
import { checkModelId, deleteModel, getModelMeta, getPackedVariants, listModels, modelInfo, storeModel } from '../models.js';

/**
 * Store an uploaded model (JSON or a PGS Catalog scoring file): parsed and serialized in a
 * validation thread (model-upload.ts), written here. `create` (POST) refuses an existing id with
 * 409 model_exists; `replace` (PUT) adds a version.
 */
export async function addModel(deps: ServiceDeps, tenant: string, upload: ModelUpload, mode: ModelWriteMode = 'create'): Promise<ModelInfo> {
  const prepared = await deps.validation.prepareModel(upload);
  return modelInfo(await storeModel(deps.store, tenant, prepared, mode));
}

/** Remove a model; jobs already queued against it fail with `model_not_found`. */
export async function removeModel(deps: ServiceDeps, tenant: string, modelId: string): Promise<void> {
  await deleteModel(deps.store, tenant, checkModelId(modelId));
}

export async function modelList(deps: ServiceDeps, tenant: string): Promise<ModelInfo[]> {
  return (await listModels(deps.store, tenant)).map(modelInfo);
}

/**
 * A model's info and, when asked for, its variant list as JSON text (it can be millions of
 * entries: turned into JSON in a validation thread, so the event loop only copies bytes).
 */
export async function modelDetail(
  deps: ServiceDeps,
  tenant: string,
  modelId: string,
  withVariants: boolean,
): Promise<{ info: ModelInfo; variantListJson?: Uint8Array }> {
  const info = modelInfo(await getModelMeta(deps.store, tenant, modelId));
  if (!withVariants) return { info };
  return { info, variantListJson: await deps.validation.variantListJson(await getPackedVariants(deps.store, tenant, modelId)) };
}
