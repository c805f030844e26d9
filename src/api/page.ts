import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';
import helmet from 'helmet';
import { VeilError } from '../shared/errors.js';

/**
 * The patient's page (`GET /`, `/assets/*`): the files web/build.mjs wrote to dist/page, served
 * from memory in the precompressed encoding the browser accepts, under a strict CSP. Found from
 * src/api and dist/api alike (both are two levels below the package root).
 */
const PAGE_DIR = fileURLToPath(new URL('../../dist/page/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  type: string;
  identity: Buffer;
  br?: Buffer;
  gzip?: Buffer;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  const read = (rel: string) => {
    const file = join(dir, rel);
    const type = TYPES[extname(file)];
    if (!type) return;
    const variant = (ext: string) => (existsSync(file + ext) ? readFileSync(file + ext) : undefined);
    assets.set(`/${rel}`, { type, identity: readFileSync(file), br: variant('.br'), gzip: variant('.gz') });
  };
  read('index.html');
  for (const name of readdirSync(join(dir, 'assets'))) read(`assets/${name}`);
  return assets;
}

/**
 * No inline script or style, no eval (WASM compilation only), no network but this origin, no
 * framing. The SEAL worker is a same-origin module worker.
 */
const securityHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
      workerSrc: ["'self'"],
      connectSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
  // The page is a same-origin app; nothing else may embed or open it with a handle on its window.
  crossOriginEmbedderPolicy: false,
  referrerPolicy: { policy: 'no-referrer' },
});

function send(asset: Asset, req: Request, res: Response, cache: string): void {
  const encoding = req.acceptsEncodings(...[asset.br && 'br', asset.gzip && 'gzip', 'identity'].filter((e): e is string => !!e));
  const body = encoding === 'br' ? asset.br : encoding === 'gzip' ? asset.gzip : asset.identity;
  if (encoding === 'br' || encoding === 'gzip') res.set('Content-Encoding', encoding);
  res.set({ 'Content-Type': asset.type, 'Cache-Control': cache, Vary: 'Accept-Encoding' });
  res.send(body);
}

export function pageRoutes(dir = PAGE_DIR): Router {
  const assets = loadAssets(dir);
  const router = express.Router();
  router.get('/', securityHeaders, (req, res) => {
    const page = assets.get('/index.html');
    if (!page) throw new VeilError('page_not_built', 'the page is not built; run npm run build', 404);
    // Always revalidated: it names the current hashed assets.
    send(page, req, res, 'no-cache');
  });
  router.get('/assets/:file', securityHeaders, (req, res, next) => {
    const asset = assets.get(`/assets/${req.params.file}`);
    if (!asset) return next();
    // Content-hashed names: a changed file has a new name, so a cached one never goes stale.
    send(asset, req, res, 'public, max-age=31536000, immutable');
  });
  return router;
}
