import { Transform } from 'node:stream';
import express, { Router } from 'express';
import { InvalidInputError, VeilError } from '../../shared/errors.js';
import { jsonModelSchema, type ModelDetail, type ModelInfo } from '../../shared/model.js';
import { parseWire } from '../../shared/wire.js';
import { addJsonModel, addPgsModel, modelDetail, modelList } from '../../server/services/models.js';
import { tenantOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';

const PGS_TYPES = ['text/tab-separated-values', 'text/plain', 'application/gzip', 'application/x-gzip', 'application/octet-stream'];

/** /v1/models: parse, call the model service (server/services/models.ts), respond. */
export function modelRoutes(deps: ApiDeps): Router {
  const router = Router();
  const limit = deps.config.MAX_BODY_MB * 2 ** 20;

  router.post('/', async (req, res) => {
    const tenant = tenantOf(res);
    const id = typeof req.query.id === 'string' ? req.query.id : undefined;
    let info: ModelInfo;
    if (req.is('application/json')) info = await addJsonModel(deps, tenant, parseWire(jsonModelSchema, await readJson(req, limit), 'model'), id);
    // Streamed line by line from the socket: a million-variant file is never one string.
    else if (req.is(PGS_TYPES)) info = await addPgsModel(deps, tenant, req.pipe(byteLimit(limit)), id);
    else throw new VeilError('unsupported_media_type', 'send a PGS Catalog scoring file as text/tab-separated-values (gzip allowed) or a JSON model as application/json', 415);
    res.status(201).location(`/v1/models/${info.modelId}`).json(info satisfies ModelInfo);
  });

  router.get('/', async (_req, res) => {
    res.json({ models: await modelList(deps, tenantOf(res)) });
  });

  // ?variants=false: the info alone (what a client needs to submit a job), not the variant list.
  router.get('/:id', async (req, res) => {
    res.json((await modelDetail(deps, tenantOf(res), req.params.id, req.query.variants !== 'false')) satisfies ModelDetail);
  });
  return router;
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
