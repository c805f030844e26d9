import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { startLocalStack, type LocalStack, type StackOptions } from '../../src/stack/local.js';

/**
 * A real stack for a test file: its own redis-server on a free port (or REDIS_URL with a unique
 * key prefix), the API, worker processes and the scheduler, all from dist/ as in production.
 */
export type TestStack = LocalStack & { prefix: string };

export async function testStack(opts: StackOptions = {}): Promise<TestStack> {
  if (!existsSync(new URL('../../dist/producer/cli.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm test` (it builds first) or `npm run build`');
  }
  const prefix = `veiltest-${randomUUID().slice(0, 8)}`;
  const stack = await startLocalStack({
    workers: 2,
    ...opts,
    env: { VEIL_PREFIX: prefix, LOG_LEVEL: 'warn', JOB_LOCK_MS: '2000', ...opts.env },
  });
  return Object.assign(stack, { prefix });
}

/** fetch against the stack with a msgpack or JSON body; returns status and parsed JSON (if any). */
export async function call(base: string, method: string, path: string, body?: { type: string; data: Uint8Array | string }, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': body.type } : {}) },
    body: body?.data as RequestInit['body'],
  });
  const text = await res.text();
  let json: { error?: { code: string; message: string } } & Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // binary or empty body
  }
  return { status: res.status, json };
}

export const relErr = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);
