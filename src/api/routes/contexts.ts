import { Router } from 'express';
import { contextIdOf } from '../../shared/context.js';
import type { ApiDeps } from '../deps.js';
import { tenantOf } from '../auth.js';
import { bodyBytes, MSGPACK_TYPES, rawBody } from '../http.js';

/** POST /v1/contexts: store an owner's public evaluation context, content-addressed. */
export function contextRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.post('/', rawBody(MSGPACK_TYPES, deps.config.MAX_BODY_MB * 2 ** 20), async (req, res) => {
    const bytes = bodyBytes(req);
    const tenant = tenantOf(res);
    // Content-addressed, and stored in canonical form: canonical bytes already stored were
    // validated then (veil keygen writes the canonical form, so this is the common case).
    const sentId = contextIdOf(bytes);
    const known = await deps.store.getContextPreset(tenant, sentId);
    if (known) return res.status(201).location(`/v1/contexts/${sentId}`).json({ contextId: sentId, preset: known });
    // Full validation, keys included, once at upload and off the event loop: what is stored is
    // re-serialized from SEAL's loaded keys, so nothing else the body carried is ever kept.
    const { contextId, preset, bytes: canonical } = await deps.validation.canonicalContext(bytes);
    await deps.store.putContext(tenant, contextId, canonical, preset);
    res.status(201).location(`/v1/contexts/${contextId}`).json({ contextId, preset });
  });
  return router;
}
