import { afterAll, afterEach } from 'vitest';
import { observeResponses } from '../../tools/lib/http.js';
import type { SeenResponse } from './openapi.js';

/**
 * Vitest setup file: every /v1 response a test process receives through fetch (VeilClient, the
 * `call` helper, plain fetch) is checked against the OpenAPI document, and the test during which it
 * arrived fails on a mismatch — an undocumented status, content type or body shape. So the whole
 * suite's traffic keeps the document honest; the fuzz and chaos harnesses' node:http requests
 * (tools/lib/http.ts) too. Requests made by child processes (the CLI) and by Chromium are not seen.
 */

interface Recorder {
  /** Every /v1 response seen in this test file, in order (bodies are not kept). */
  seen: Omit<SeenResponse, 'body'>[];
  pending: Promise<string | undefined>[];
}

const KEY = Symbol.for('veil.openapi.recorder');
const global = globalThis as typeof globalThis & { [KEY]?: Recorder };

/** The responses recorded so far in this test file (after `settled()`, all of them). */
export function recorder(): Recorder {
  if (!global[KEY]) install();
  return global[KEY]!;
}

/** Wait until every recorded response has been read and checked; the problems found. */
export async function settled(): Promise<string[]> {
  const { pending } = recorder();
  const results = await Promise.all(pending.splice(0));
  return results.filter((p): p is string => p !== undefined);
}

function install(): void {
  const state: Recorder = { seen: [], pending: [] };
  global[KEY] = state;
  // Built at the first /v1 response: a file that makes no requests never loads the API's schemas or ajv.
  let checker: Promise<(seen: SeenResponse) => string | undefined> | undefined;
  const check = async (seen: SeenResponse) => {
    checker ??= Promise.all([import('../../src/api/openapi.js'), import('./openapi.js')]).then(([api, lib]) => lib.responseChecker(api.buildOpenApi()));
    return (await checker)(seen);
  };
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const res = await realFetch(input, init);
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    // Preflights are CORS's, not the API's.
    if ((url.pathname === '/v1' || url.pathname.startsWith('/v1/')) && method !== 'OPTIONS') {
      const copy = res.clone();
      state.pending.push(
        copy.arrayBuffer().then(
          (buf) => {
            const seen = { method, path: url.pathname, status: res.status, contentType: res.headers.get('content-type') ?? '' };
            state.seen.push(seen);
            return check({ ...seen, body: new Uint8Array(buf) });
          },
          // The body never arrived (the test or the server cut the connection): nothing to check.
          () => undefined,
        ),
      );
    }
    return res;
  };
  // The fuzz and chaos harnesses speak node:http (tools/lib/http.ts): their answers count too.
  observeResponses((req, res) => {
    const path = req.path.split('?')[0]!;
    if ((path === '/v1' || path.startsWith('/v1/')) && req.method.toUpperCase() !== 'OPTIONS') {
      const seen = { method: req.method.toUpperCase(), path, status: res.status, contentType: res.contentType };
      state.seen.push(seen);
      state.pending.push(check({ ...seen, body: new Uint8Array(res.body) }));
    }
  });
}

async function failOnMismatch(): Promise<void> {
  const problems = await settled();
  if (problems.length) throw new Error(`responses that do not match GET /v1/openapi.json (src/api/openapi-routes.ts):\n  ${problems.join('\n  ')}`);
}

recorder();
afterEach(failOnMismatch);
// Responses from beforeAll/afterAll hooks are checked once the file is done.
afterAll(failOnMismatch);
