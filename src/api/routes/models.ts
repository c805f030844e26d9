import express, { Router } from 'express';
import { VeilError } from '../../shared/errors.js';
import type { ModelDetail, ModelInfo } from '../../shared/model.js';
import type { ModelWriteMode } from '../../server/model-write.js';
import { RateLimitError } from '../../server/private-models.js';
import { addModel, modelDetail, modelList, removeModel } from '../../server/services/models.js';
import { tenantOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { PGS_TYPES, refuseContentEncoding } from '../http.js';

/** /v1/models: parse, call the model service (server/services/models.ts), respond. */
export function modelRoutes(deps: ApiDeps): Router {
  const router = Router();
  const limit = deps.config.MAX_BODY_MB * 2 ** 20;
  // Scoring files inflate ~3× (PGS Catalog); a 1.5 MB gzip of 30M rows, ~400×.
  const limits = { maxVariants: deps.config.MAX_MODEL_VARIANTS, maxTextBytes: deps.config.MAX_MODEL_TEXT_MB * 2 ** 20, maxInflation: 64 };

  const gate = uploadGate();

  /** Store the model in the body (JSON or a PGS Catalog scoring file), one upload at a time. */
  async function upload(req: express.Request, tenant: string, id: string | undefined, mode: ModelWriteMode): Promise<ModelInfo> {
    refuseContentEncoding(req);
    return gate(() => parseAndAdd(req, tenant, id, mode));
  }

  async function parseAndAdd(req: express.Request, tenant: string, id: string | undefined, mode: ModelWriteMode): Promise<ModelInfo> {
    const format = req.is('application/json') ? 'json' : req.is(PGS_TYPES) ? 'pgs' : undefined;
    if (!format) {
      throw new VeilError(
        'unsupported_media_type',
        'send a PGS Catalog scoring file as text/tab-separated-values (gzip allowed) or a JSON model as application/json',
        415,
      );
    }
    // Read here (bounded by MAX_BODY_MB); parsed in a validation thread, off the event loop.
    return addModel(deps, tenant, { format, bytes: await readBody(req, limit), id, limits }, mode);
  }

  // A new id only: an existing one is 409 model_exists (replacing is PUT, below).
  router.post('/', async (req, res) => {
    const info = await upload(req, tenantOf(res), typeof req.query.id === 'string' ? req.query.id : undefined, 'create');
    res
      .status(201)
      .location(`/v1/models/${info.modelId}`)
      .json(info satisfies ModelInfo);
  });

  // Explicit replacement (models scope): a new version; queued jobs of the old one fail model_changed.
  router.put('/:id', async (req, res) => {
    const info = await upload(req, tenantOf(res), req.params.id, 'replace');
    res
      .status(200)
      .location(`/v1/models/${info.modelId}`)
      .json(info satisfies ModelInfo);
  });

  router.delete('/:id', async (req, res) => {
    await removeModel(deps, tenantOf(res), req.params.id);
    res.status(204).end();
  });

  router.get('/', async (_req, res) => {
    res.json({ models: await modelList(deps, tenantOf(res)) });
  });

  // ?variants=false: the info alone (what a client needs to submit a job), not the variant list.
  router.get('/:id', async (req, res) => {
    const { info, variantListJson } = await modelDetail(deps, tenantOf(res), req.params.id, req.query.variants !== 'false');
    if (!variantListJson) return void res.json(info satisfies ModelDetail);
    // {...info, "variantList": [...]}, the list spliced in as the thread serialized it.
    const head = JSON.stringify(info satisfies ModelDetail);
    res.type('json').send(Buffer.concat([Buffer.from(`${head.slice(0, -1)},"variantList":`), variantListJson, Buffer.from('}')]));
  });
  return router;
}

/**
 * One model upload parses at a time in an API process: a file at MAX_MODEL_VARIANTS holds ~170 B
 * of JS heap per variant until it is stored or refused (~700 MiB at the default 4M), so concurrent
 * uploads would multiply it. Another upload meanwhile gets 429 with Retry-After at once (waiting
 * behind a long parse would run into clients' timeouts).
 */
function uploadGate() {
  let busy = false;
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (busy) throw new RateLimitError('uploads_busy', 'another model upload is being processed; retry shortly', 5);
    busy = true;
    try {
      return await fn();
    } finally {
      busy = false;
    }
  };
}

/** The body, read here so a too-large one gets our 413 before it is all in memory. */
async function readBody(req: express.Request, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw Object.assign(new Error('too large'), { type: 'entity.too.large', limit });
      chunks.push(chunk);
    }
  } catch (err) {
    // The client went away mid-body: its fault (400, as body-parser says it), not a server error.
    if (req.readableAborted || (err as { code?: string }).code === 'ECONNRESET') {
      throw Object.assign(new Error('request aborted'), { status: 400, type: 'request.aborted' });
    }
    throw err;
  }
  return Buffer.concat(chunks, size);
}
