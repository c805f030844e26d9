import { Router } from 'express';
import { contextIdOf, loadPublicContext } from '../../shared/context.js';
import type { ApiDeps } from '../deps.js';
import { tenantOf } from '../auth.js';
import { bodyBytes, MSGPACK_TYPES, rawBody } from '../http.js';

/** POST /v1/contexts: store an owner's public evaluation context, content-addressed. */
export function contextRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.post('/', rawBody(MSGPACK_TYPES, deps.config.MAX_BODY_MB * 2 ** 20), async (req, res) => {
    const bytes = bodyBytes(req);
    const tenant = tenantOf(res);
    // Content-addressed: the same bytes were validated when first stored.
    const known = await deps.store.getContextPreset(tenant, contextIdOf(bytes));
    if (known) return res.status(201).location(`/v1/contexts/${contextIdOf(bytes)}`).json({ contextId: contextIdOf(bytes), preset: known });
    // Full validation, keys included, once at upload: workers can then trust what they load.
    const ec = loadPublicContext(deps.seal, bytes);
    const { contextId, preset } = ec;
    ec.dispose();
    await deps.store.putContext(tenant, contextId, bytes, preset.id);
    res.status(201).location(`/v1/contexts/${contextId}`).json({ contextId, preset: preset.id });
  });
  return router;
}
