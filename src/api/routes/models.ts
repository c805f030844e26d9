import { Transform } from 'node:stream';
import express, { Router } from 'express';
import { z } from 'zod';
import { InvalidInputError, VeilError } from '../../shared/errors.js';
import type { ModelDefinition } from '../../shared/model.js';
import { checkModelId, deleteModel, getModelMeta, getModelVariants, listModels, saveModel, type ModelMeta } from '../../server/models.js';
import { parsePgsScoringFile, tooManyVariants } from '../../shared/pgs.js';
import { parseWire } from '../../shared/wire.js';
import { tenantOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';

/** A model given as JSON: a weights list, optional variants, bias and logistic link. */
const jsonModelSchema = z
  .object({
    id: z.string().optional(),
    name: z.string().min(1).max(200),
    weights: z.array(z.number().finite()).min(1), // length bounded by MAX_MODEL_VARIANTS before parsing
    bias: z.number().finite().default(0),
    link: z.enum(['identity', 'logistic']).default('identity'),
    variants: z
      .array(z.object({ rsid: z.string().optional(), chr: z.string().optional(), pos: z.number().int().optional(), effectAllele: z.string(), otherAllele: z.string().optional() }).strict())
      .optional(),
    metadata: z.record(z.string(), z.string()).default({}),
    private: z.boolean().default(false),
  })
  .strict();

export function modelRoutes(deps: ApiDeps): Router {
  const router = Router();
  const limit = deps.config.MAX_BODY_MB * 2 ** 20;

  /** The model in the body (JSON or a PGS Catalog scoring file) and its id. */
  async function readModel(req: express.Request, id: string | undefined): Promise<{ modelId: string; def: ModelDefinition }> {
    if (req.is('application/json')) {
      const body = await readJson(req, limit);
      const weights = (body as { weights?: unknown } | null)?.weights;
      if (Array.isArray(weights) && weights.length > deps.config.MAX_MODEL_VARIANTS) throw tooManyVariants(deps.config.MAX_MODEL_VARIANTS);
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
      return { def, modelId: checkModelId(id ?? m.id ?? m.name.replace(/[^A-Za-z0-9_.-]+/g, '_')) };
    }
    if (req.is(['text/tab-separated-values', 'text/plain', 'application/gzip', 'application/x-gzip', 'application/octet-stream'])) {
      // Streamed line by line from the socket: a million-variant file is never one string.
      const { model: def } = await parsePgsScoringFile(req.pipe(byteLimit(limit)), id ?? 'model', {
        maxVariants: deps.config.MAX_MODEL_VARIANTS,
        maxTextBytes: deps.config.MAX_MODEL_TEXT_MB * 2 ** 20,
      });
      def.private = def.metadata.veil_private === 'true';
      return { def, modelId: checkModelId(id ?? def.metadata.pgs_id ?? def.name.replace(/[^A-Za-z0-9_.-]+/g, '_')) };
    }
    throw new VeilError('unsupported_media_type', 'send a PGS Catalog scoring file as text/tab-separated-values (gzip allowed) or a JSON model as application/json', 415);
  }

  // A new id only: an existing one is 409 model_exists (replacing is PUT, below).
  router.post('/', async (req, res) => {
    const { modelId, def } = await readModel(req, typeof req.query.id === 'string' ? req.query.id : undefined);
    const meta = await saveModel(deps.store, tenantOf(res), modelId, def);
    res.status(201).location(`/v1/models/${modelId}`).json(publicMeta(meta));
  });

  // Explicit replacement (models scope): a new version; queued jobs of the old one fail model_changed.
  router.put('/:id', async (req, res) => {
    const { modelId, def } = await readModel(req, req.params.id);
    const meta = await saveModel(deps.store, tenantOf(res), modelId, def, 'replace');
    res.status(200).location(`/v1/models/${modelId}`).json(publicMeta(meta));
  });

  router.delete('/:id', async (req, res) => {
    await deleteModel(deps.store, tenantOf(res), checkModelId(req.params.id));
    res.status(204).end();
  });

  router.get('/', async (_req, res) => {
    res.json({ models: (await listModels(deps.store, tenantOf(res))).map(publicMeta) });
  });

  router.get('/:id', async (req, res) => {
    const tenant = tenantOf(res);
    const meta = await getModelMeta(deps.store, tenant, req.params.id);
    const variantList = await getModelVariants(deps.store, tenant, req.params.id);
    res.json({ ...publicMeta(meta), variantList });
  });
  return router;
}

/** What anyone with a token may see of a model: a private model's bias is withheld like its weights. */
function publicMeta(meta: ModelMeta) {
  const { digest: _digest, bias, ...rest } = meta;
  if (!meta.private) return { ...rest, bias };
  const { veil_bias: _bias, ...metadata } = meta.metadata;
  return { ...rest, metadata };
}

/** A pass-through that fails with our 413 once more than `limit` bytes went through. */
function byteLimit(limit: number): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) done(Object.assign(new Error('too large'), { type: 'entity.too.large', limit }));
      else done(null, chunk);
    },
  });
}

/** The JSON body, read here so a bad one gets our code and a too-large one our 413. */
async function readJson(req: express.Request, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('too large'), { type: 'entity.too.large', limit });
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new InvalidInputError('malformed_json', 'the body is not valid JSON');
  }
}
