import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Express } from 'express';
import { unpack } from '../../src/shared/wire.js';

/**
 * Checks HTTP responses against the OpenAPI document: the operation exists, the status is listed,
 * the content type is one documented for it, and the body matches the documented schema (ajv,
 * JSON Schema 2020-12). A msgpack body is checked as its decoded map, bin fields as strings.
 */

type Json = Record<string, unknown>;
type Operation = { responses: Record<string, { content?: Record<string, { schema?: Json }> }> };

export interface SeenResponse {
  method: string;
  /** The URL path, without the query. */
  path: string;
  status: number;
  contentType: string;
  body: Uint8Array;
}

/**
 * Where an unknown route or method may end up: the catch-all 404, refused before routing (401, 503), or 400
 * when the router meets a malformed percent-encoding while matching a path parameter (e.g. PROPFIND /v1/jobs/%E0%A4%A).
 */
const UNROUTED = new Set([400, 401, 404, 503]);

export function responseChecker(doc: Json): (seen: SeenResponse) => string | undefined {
  // Refs point at '#/components/…' of the document: give it an id so ajv resolves them there.
  const rooted = JSON.parse(JSON.stringify(doc).replaceAll('"#/components/', '"veil-openapi#/components/')) as Json & {
    paths: Record<string, Record<string, Operation>>;
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'veil-openapi', components: rooted.components });
  const templates = Object.keys(rooted.paths).map((p) => ({ path: p, re: new RegExp(`^${p.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}/?$`) }));
  const compiled = new Map<Json, ValidateFunction>();
  const errorSchema = ajv.compile({ $ref: 'veil-openapi#/components/schemas/Error' });

  return (seen) => {
    const what = `${seen.method} ${seen.path} → ${seen.status}`;
    const type = seen.contentType.split(';')[0]!.trim().toLowerCase();
    const template = templates.find((t) => t.re.test(seen.path))?.path;
    const op = template ? rooted.paths[template]![seen.method === 'HEAD' ? 'get' : seen.method.toLowerCase()] : undefined;
    if (!op) {
      if (UNROUTED.has(seen.status) && type === 'application/json' && errorSchema(parse(seen.body))) return undefined;
      return `${what}: no such operation in the OpenAPI document, and not an error answer`;
    }
    const reply = op.responses[String(seen.status)];
    if (!reply) return `${what}: status ${seen.status} is not documented for ${seen.method} ${template} (documented: ${Object.keys(op.responses).join(', ')})`;
    if (!reply.content) return seen.body.length === 0 ? undefined : `${what}: documented without a body, got ${seen.body.length} bytes`;
    const media = reply.content[type];
    if (!media) return `${what}: content type '${type}' is not documented (documented: ${Object.keys(reply.content).join(', ')})`;
    if (seen.method === 'HEAD') return undefined;
    let value: unknown;
    try {
      value = type.includes('msgpack') ? binToString(unpack(seen.body)) : JSON.parse(new TextDecoder().decode(seen.body));
    } catch {
      return `${what}: the body is not valid ${type}`;
    }
    if (!media.schema) return undefined;
    let validate = compiled.get(media.schema);
    if (!validate) compiled.set(media.schema, (validate = ajv.compile(media.schema)));
    return validate(value) ? undefined : `${what}: the body does not match the documented schema: ${ajv.errorsText(validate.errors)}; body: ${preview(value)}`;
  };
}

function parse(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
}

/**
 * msgpack bin is documented as a binary string with no length bound, so any string stands for it:
 * its size, not its base64 (a cohort's results are ~100 MB).
 */
function binToString(v: unknown): unknown {
  if (v instanceof Uint8Array) return `<${v.byteLength} bytes>`;
  if (Array.isArray(v)) return v.map(binToString);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, binToString(x)]));
  return v;
}

function preview(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
}

/** Every `METHOD /path` (OpenAPI path syntax) the Express app routes, mounted routers included. */
export function expressRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = `${prefix}${layer.route.path === '/' && prefix ? '' : layer.route.path}`.replace(/:(\w+)/g, '{$1}');
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push(`${method.toUpperCase()} ${path}`);
      } else if (layer.handle?.stack) {
        if (typeof layer.rawPath !== 'string')
          throw new Error(`a router mounted at a non-string path (${String(layer.rawPath)}): teach expressRoutes about it`);
        walk(layer.handle.stack, layer.rawPath === '/' ? prefix : `${prefix}${layer.rawPath}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out.sort();
}

/** Every `METHOD /path` the document describes. */
export function documentedRoutes(doc: Json): string[] {
  const paths = doc.paths as Record<string, Record<string, unknown>>;
  return Object.entries(paths)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}
