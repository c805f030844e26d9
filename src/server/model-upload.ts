import { InvalidInputError } from '../shared/errors.js';
import { jsonModelSchema, type ModelDefinition } from '../shared/model.js';
import { parsePgsScoringFile, tooManyVariants, type PgsLimits } from '../shared/pgs.js';
import { parseWire } from '../shared/wire.js';
import { prepareModel, type PreparedModel } from './models.js';

/** An uploaded model's body, as the API read it (bounded by MAX_BODY_MB), and where it goes. */
export interface ModelUpload {
  /** `json`: a JSON model (jsonModelSchema); `pgs`: a PGS Catalog scoring file, plain or gzip. */
  format: 'json' | 'pgs';
  bytes: Uint8Array;
  /** The id asked for (`?id=` or the PUT path); else the body's id, pgs_id or name. */
  id?: string;
  limits: Required<PgsLimits>;
}

const idFromName = (name: string) => name.replace(/[^A-Za-z0-9_.-]+/g, '_');

/**
 * Parse an upload and compute what is stored for it. It runs in the API's validation threads
 * (validation-thread.ts): a 1M-variant model takes ~1.5 s of CPU, which on the event loop held
 * /healthz and every other request that long (the fuzzer's JSON models).
 */
export async function prepareUpload(upload: ModelUpload): Promise<PreparedModel> {
  const { modelId, def } = upload.format === 'json' ? jsonModel(upload) : await pgsModel(upload);
  return prepareModel(modelId, def);
}

function jsonModel(upload: ModelUpload): { modelId: string; def: ModelDefinition } {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(upload.bytes.buffer, upload.bytes.byteOffset, upload.bytes.byteLength).toString('utf8'));
  } catch {
    throw new InvalidInputError('malformed_json', 'the body is not valid JSON');
  }
  // Bounded before zod walks a huge array.
  const weights = (body as { weights?: unknown } | null)?.weights;
  if (Array.isArray(weights) && weights.length > upload.limits.maxVariants) throw tooManyVariants(upload.limits.maxVariants);
  const m = parseWire(jsonModelSchema, body, 'model');
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
  return { modelId: upload.id ?? m.id ?? idFromName(m.name), def };
}

/** A scoring file; `#veil_private=true` in its header makes the model private. */
async function pgsModel(upload: ModelUpload): Promise<{ modelId: string; def: ModelDefinition }> {
  const { model } = await parsePgsScoringFile(
    Buffer.from(upload.bytes.buffer, upload.bytes.byteOffset, upload.bytes.byteLength),
    upload.id ?? 'model',
    upload.limits,
  );
  model.private = model.metadata.veil_private === 'true';
  return { modelId: upload.id ?? model.metadata.pgs_id ?? idFromName(model.name), def: model };
}
