import express, { type Express } from 'express';
import { VeilError } from '../shared/errors.js';
import { adminRoutes, DASHBOARD_PATH } from './admin.js';
import { authenticate } from './auth.js';
import { corsFor } from './cors.js';
import type { ApiDeps } from './deps.js';
import type { Drain } from './drain.js';
import { errorHandler } from './http.js';
import { contextRoutes } from './routes/contexts.js';
import { datasetRoutes } from './routes/datasets.js';
import { jobRoutes } from './routes/jobs.js';
import { modelRoutes } from './routes/models.js';
import { openApiHandler } from './openapi.js';
import { pageRoutes } from './page.js';
import { authorize, requireAdmin } from './scopes.js';
import { redisFailureHandler, requireRedis } from './unavailable.js';

/** The intake API as an Express app; server.ts gives it a socket and a lifecycle. */
export function createApp(deps: ApiDeps, drain: Drain): Express {
  const app = express();
  app.use(drain.middleware);
  app.disable('x-powered-by');
  // Express would SHA-1 every response body for an ETag: ~0.45 ms per 262 KB result, profiled under
  // load. Results never change under their job id, and nothing here answers conditional GETs.
  app.set('etag', false);
  app.set('trust proxy', false);

  app.use((req, res, next) => {
    const end = deps.metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      // The route pattern, not the path: ids must not become label values.
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      end({ route });
      deps.metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      // Method, route and status only: bodies (ciphertexts) and tokens never reach the log.
      deps.logger.debug({ method: req.method, route, status: res.statusCode }, 'request');
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Public and static: served without a token, and while Redis is down.
  app.get('/v1/openapi.json', openApiHandler);
  // Everything below needs Redis: refuse with 503 at once while it is down (a command sent now
  // would wait for the reconnect).
  app.use(requireRedis(deps.store.redis));
  app.get('/readyz', async (_req, res) => {
    try {
      await deps.store.redis.ping();
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ error: { code: 'redis_unavailable', message: 'Redis is not reachable; check REDIS_URL' } });
    }
  });
  app.get('/metrics', requireAdmin(deps.config), async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // Without VEIL_ADMIN_TOKEN nothing is mounted: the path is a plain 404.
  if (deps.config.VEIL_ADMIN_TOKEN) app.use(DASHBOARD_PATH, adminRoutes(deps.config.VEIL_ADMIN_TOKEN, [deps.queue]));
  app.use(pageRoutes());

  const v1 = express.Router();
  v1.use(corsFor(deps.config.VEIL_CORS_ORIGINS)); // before auth: a preflight carries no token
  v1.use(authenticate(deps.config.VEIL_TOKENS));
  v1.use(authorize);
  v1.use('/contexts', contextRoutes(deps));
  v1.use('/jobs', jobRoutes(deps));
  v1.use('/models', modelRoutes(deps));
  v1.use('/datasets', datasetRoutes(deps));
  app.use('/v1', v1);

  app.use((req, _res, next) => next(new VeilError('not_found', `no route ${req.method} ${req.path}; see the README's API table`, 404)));
  app.use(redisFailureHandler(deps.logger));
  app.use(errorHandler(deps.logger));
  return app;
}
