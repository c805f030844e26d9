import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import helmet from 'helmet';
import type { TokenTable } from '../server/tokens.js';
import { VeilError } from '../shared/errors.js';

/** Where the dashboard lives; bull-board writes it into the page's `<base href>`. */
export const DASHBOARD_PATH = '/admin/queues';

/**
 * `Authorization: Bearer <token>` checked against `secret` (hash compare, constant time), else 401.
 * The presented token is never echoed: it may be someone's real token, mistyped.
 */
export function requireBearer(secret: TokenTable, variable: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const presented = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (presented !== undefined && secret.match(presented) !== undefined) return next();
    res.set('WWW-Authenticate', 'Bearer');
    next(new VeilError('unauthorized', `send Authorization: Bearer <token> with the token from ${variable}`, 401));
  };
}

/**
 * bull-board's UI: its own scripts and stylesheet ('self'), inline `style` attributes and one
 * `<style>` block (hence 'unsafe-inline' for styles only), and a `<base href>` ('self'). Scoped to
 * the dashboard: the patient's page keeps its stricter policy (page.ts). Google Fonts, which the
 * UI links, stays blocked: the system font is fine and an admin page calls no third party.
 */
const dashboardHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      manifestSrc: ["'self'"],
      baseUri: ["'self'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
  referrerPolicy: { policy: 'no-referrer' },
});

/**
 * Read-only twice over: every queue is registered in bull-board's readOnlyMode (its UI shows no
 * retry/clean/promote/remove buttons and its handlers answer 405), and every request that is not
 * GET/HEAD is refused here before it reaches bull-board, so no route of a future bull-board
 * version can change a queue either.
 */
function refuseWrites(req: Request, _res: Response, next: NextFunction) {
  if (req.method === 'GET' || req.method === 'HEAD') return next();
  next(new VeilError('read_only', `the queue dashboard is read-only; ${req.method} is not allowed`, 405));
}

/** The bull-board dashboard for `queues`, behind VEIL_ADMIN_TOKEN. Mount at DASHBOARD_PATH. */
export function adminRoutes(secret: TokenTable, queues: Queue[]): Router {
  const board = new ExpressAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true, allowRetries: false })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'veil queues' } },
  });
  const router = express.Router();
  router.use(requireBearer(secret, 'VEIL_ADMIN_TOKEN'), refuseWrites, dashboardHeaders, board.getRouter() as Router);
  return router;
}
