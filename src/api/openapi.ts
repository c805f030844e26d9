import type { RequestHandler } from 'express';
import { z } from 'zod';
import { errorBodySchema } from '../shared/api.js';
import { bin } from '../shared/wire.js';
import { IDEMPOTENCY_PARAMETER, ROUTES, type Body, type Named, type Reply, type RouteDoc } from './openapi-routes.js';
import { requiredScope } from './scopes.js';

/**
 * The OpenAPI 3.1 description of /v1, built from the route table (openapi-routes.ts) and the zod
 * schemas the routes validate with: JSON Schema 2020-12, as OpenAPI 3.1 uses, so nothing is
 * written twice. Served at GET /v1/openapi.json without a token.
 */

type Json = Record<string, unknown>;

const ERROR_SCHEMA: Named = { name: 'Error', schema: errorBodySchema };

/** What each error status means here; the body's `code` says which case it is. */
const ERRORS: Record<number, string> = {
  400: 'Bad input (invalid_body, malformed_json, malformed_msgpack, invalid_* …).',
  401: 'No or unknown bearer token (the server runs with VEIL_TOKENS).',
  403: "The token's scope does not cover this route (forbidden_scope).",
  404: 'Not found, or not this tenant’s.',
  409: 'Conflicts with the current state (exists, changed, not ready, failed, duplicate record id).',
  410: 'The result was deleted or has expired.',
  413: 'The body exceeds a limit (MAX_BODY_MB, MAX_MODEL_VARIANTS, MAX_MODEL_TEXT_MB).',
  415: 'Unsupported Content-Type, or a Content-Encoding on the body (bodies are read as sent, never decoded).',
  422: 'Well-formed but unusable (keys, parameters, model, retention, noise budget …).',
  429: "A tenant quota or a private model's limit; retry after Retry-After.",
  500: 'A bug; details go to the server log only.',
  503: 'Redis unreachable or full, or the API shutting down; retry after Retry-After.',
};

const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } } };
const LOCATION = { Location: { description: 'The resource this response names.', schema: { type: 'string' } } };

/** The statuses every route may answer with the error body, besides its own. */
export function commonErrors(route: Pick<RouteDoc, 'method' | 'path' | 'public'>): number[] {
  if (route.public) return [500];
  const scoped = requiredScope(route.method.toUpperCase(), route.path.replace(/^\/v1/, '')) !== 'any';
  // A path parameter that is not valid percent-encoding (`%zz`) is refused by the router: 400.
  const params = route.path.includes('{') ? [400] : [];
  return [...params, 401, ...(scoped ? [403] : []), 500, 503];
}

/** Node's HTTP server refuses oversized headers itself, on any path, before Express runs. */
const HEADERS_TOO_LARGE = { description: 'Request headers too large (Node.js HTTP server limit); no body.' };

/** msgpack `bin` is the one zod type JSON Schema lacks: binary data, as OpenAPI 3.1 writes it. */
const BINARY = { type: 'string' as const, contentMediaType: 'application/octet-stream', description: 'msgpack bin' };
const toJsonOptions = {
  target: 'draft-2020-12' as const,
  uri: (id: string) => `#/components/schemas/${id}`,
  unrepresentable: (ctx: { zodSchema: unknown }) => (ctx.zodSchema === bin ? BINARY : undefined),
};

function plain(schema: z.ZodType): Json {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { ...toJsonOptions, io: 'input' }) as Json;
  return rest;
}

/** Named schemas, requests in their input form (defaults optional), responses in their output form. */
function components(routes: RouteDoc[]): Record<string, Json> {
  const requests = z.registry<{ id: string }>();
  const responses = z.registry<{ id: string }>();
  const ids = new Map<string, z.ZodType>();
  const add = (registry: typeof requests, named: Named | undefined) => {
    if (!named) return;
    const other = ids.get(named.name);
    if (other && other !== named.schema) throw new Error(`openapi: two schemas named ${named.name}`);
    ids.set(named.name, named.schema);
    registry.add(named.schema, { id: named.name });
  };
  add(responses, ERROR_SCHEMA);
  for (const r of routes) {
    for (const b of r.body ?? []) add(requests, b.schema);
    for (const reply of Object.values(r.replies)) add(responses, reply.body?.schema);
  }
  const out: Record<string, Json> = {};
  for (const [registry, io] of [
    [requests, 'input'],
    [responses, 'output'],
  ] as const) {
    const { schemas } = z.toJSONSchema(registry, { ...toJsonOptions, io });
    for (const [id, s] of Object.entries(schemas)) {
      // Each is a component, not a document: no $schema, and no fragment-only $id.
      const { $schema: _s, $id: _i, ...rest } = s as Json;
      if (out[id]) throw new Error(`openapi: ${id} is both a request and a response schema`);
      out[id] = rest;
    }
  }
  return out;
}

function content(body: Body): Json {
  const schema = body.schema ? { schema: { $ref: `#/components/schemas/${body.schema.name}` } } : {};
  return Object.fromEntries(body.types.map((t) => [t, schema]));
}

function responses(route: RouteDoc): Json {
  const out: Record<string, Json> = {};
  for (const [status, reply] of Object.entries<Reply>(route.replies)) {
    out[status] = { description: reply.description, ...(reply.location ? { headers: LOCATION } : {}), ...(reply.body ? { content: content(reply.body) } : {}) };
  }
  for (const status of new Set([...route.errors, ...commonErrors(route)])) {
    const retry = status === 429 || status === 503 ? { headers: RETRY_AFTER } : {};
    if (out[status]) throw new Error(`openapi: ${route.method} ${route.path}: ${status} is both a reply and an error`);
    out[status] = {
      description: ERRORS[status] ?? 'Error.',
      ...retry,
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA.name}` } } },
    };
  }
  out[431] = HEADERS_TOO_LARGE;
  return out;
}

function operation(route: RouteDoc): Json {
  const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: route.params?.[name!] ? plain(route.params[name!]!) : { type: 'string' },
  }));
  const query = Object.entries(route.query ?? {}).map(([name, q]) => ({
    name,
    in: 'query',
    required: false,
    description: q.description,
    schema: plain(q.schema),
  }));
  const parameters = [...pathParams, ...query, ...(route.idempotent ? [IDEMPOTENCY_PARAMETER] : [])];
  const scope = route.public ? undefined : requiredScope(route.method.toUpperCase(), route.path.replace(/^\/v1/, ''));
  return {
    operationId: route.method + route.path.replace(/[^A-Za-z0-9]+(\w)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase()),
    summary: route.summary,
    description: scope ? `Token scope: ${scope === 'any' ? 'any' : `${scope} (or admin)`}.` : 'Public: no token.',
    ...(scope ? { 'x-veil-scope': scope } : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(route.body ? { requestBody: { required: true, content: Object.assign({}, ...route.body.map(content)) } } : {}),
    responses: responses(route),
  };
}

export function buildOpenApi(routes: RouteDoc[] = ROUTES): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    paths[r.path] ??= {};
    if (paths[r.path]![r.method]) throw new Error(`openapi: ${r.method} ${r.path} twice`);
    paths[r.path]![r.method] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'veil',
      version: '1',
      summary: 'Genetic risk scores and health statistics on homomorphically encrypted data.',
      description:
        'Owners upload a public context, submit msgpack ciphertext jobs and fetch encrypted results only they can decrypt. Binary bodies are MessagePack; their schemas describe the decoded map, with SEAL objects as msgpack bin. Every error is `{"error":{"code","message"}}` with a stable code.',
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: components(routes),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from VEIL_TOKENS (none needed when the API runs without tokens, on loopback).' },
      },
    },
  };
}

let cached: string | undefined;

/** GET /v1/openapi.json: built once, on first request. */
export const openApiHandler: RequestHandler = (_req, res) => {
  cached ??= JSON.stringify(buildOpenApi());
  res.type('application/json').send(cached);
};
