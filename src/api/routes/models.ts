import { Transform } from 'node:stream';
import express, { Router } from 'express';
import { z } from 'zod';
import { InvalidInputError, VeilError } from '../../shared/errors.js';
import type { ModelDefinition } from '../../shared/model.js';
import { checkModelId, getModelMeta, getModelVariants, listModels, saveModel } from '../../server/models.js';
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
  })
  .strict();

export function modelRoutes(deps: ApiDeps): Router {
  const router = Router();
  const limit = deps.config.MAX_BODY_MB * 2 ** 20;

  router.post('/', async (req, res) => {
    const tenant = tenantOf(res);
    const id = typeof req.query.id === 'string' ? req.query.id : undefined;
    let def: ModelDefinition;
    let modelId: string;
    if (req.is('application/json')) {
      const body = await readJson(req, limit);
      const weights = (body as { weights?: unknown } | null)?.weights;
      if (Array.isArray(weights) && weights.length > deps.config.MAX_MODEL_VARIANTS) throw tooManyVariants(deps.config.MAX_MODEL_VARIANTS);
      const m = parseWire(jsonModelSchema, body, 'model');
      if (m.variants && m.variants.length !== m.weights.length) {
        throw new InvalidInputError('invalid_model', `variants has ${m.variants.length} entries but weights has ${m.weights.length}`);
      }
      def = {
        name: m.name,
        metadata: m.metadata,
        weights: Float64Array.from(m.weights),
        variants: m.variants ?? m.weights.map((_, i) => ({ rsid: `v${i + 1}`, effectAllele: '?' })),
        bias: m.bias,
        link: m.link,
      };
      modelId = checkModelId(id ?? m.id ?? m.name.replace(/[^A-Za-z0-9_.-]+/g, '_'));
    } else if (req.is(['text/tab-separated-values', 'text/plain', 'application/gzip', 'application/x-gzip', 'application/octet-stream'])) {
      // Streamed line by line from the socket: a million-variant file is never one string.
      const parsed = await parsePgsScoringFile(req.pipe(byteLimit(limit)), id ?? 'model', {
        maxVariants: deps.config.MAX_MODEL_VARIANTS,
        maxTextBytes: deps.config.MAX_MODEL_TEXT_MB * 2 ** 20,
      });
      def = parsed.model;
      modelId = checkModelId(id ?? def.metadata.pgs_id ?? def.name.replace(/[^A-Za-z0-9_.-]+/g, '_'));
    } else {
      throw new VeilError('unsupported_media_type', 'send a PGS Catalog scoring file as text/tab-separated-values (gzip allowed) or a JSON model as application/json', 415);
    }
    const meta = await saveModel(deps.store, tenant, modelId, def);
    res.status(201).location(`/v1/models/${modelId}`).json(publicMeta(meta));
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

function publicMeta(meta: Awaited<ReturnType<typeof getModelMeta>>) {
  const { digest: _digest, ...rest } = meta;
  return rest;
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
