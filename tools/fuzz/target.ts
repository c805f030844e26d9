import type { WireRequest } from '../lib/http.js';
import type { Rng } from '../lib/rng.js';
import type { Materials } from './materials.js';

/** What the fuzzer's tenant owns on the stack under test: ids the hostile cases aim at. */
export interface Target {
  token: string;
  /** Another tenant's token: its resources must stay invisible (404), never 5xx. */
  otherToken: string;
  contextId: string;
  modelId: string;
  jobId: string;
  dataset: string;
  m: Materials;
}

/**
 * One hostile request. `mustReject`: a 2xx is a violation too (secret-key material or a forged
 * ciphertext accepted); otherwise any status below 500 is a correct answer.
 */
export interface FuzzCase {
  family: string;
  req: WireRequest;
  mustReject?: boolean;
}

export interface Family {
  name: string;
  /** Relative frequency in the request mix. */
  weight: number;
  make(rng: Rng, t: Target): FuzzCase;
}

export const MSGPACK = 'application/msgpack';

export function authed(t: Target, headers: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${t.token}`, ...headers };
}

/** A POST of `body` with the fuzzer's token and the given content type. */
export function post(path: string, t: Target, type: string, body: Uint8Array, extra: Record<string, string> = {}): WireRequest {
  return { method: 'POST', path, headers: authed(t, { 'content-type': type, ...extra }), body };
}

/** Flip `n` random bits of a copy of `bytes`, within bytes [from, to]. */
export function flipBits(rng: Rng, bytes: Uint8Array, n: number, from = 0, to = bytes.length - 1): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < n; i++) {
    const at = rng.int(from, to);
    out[at] = (out[at] as number) ^ (1 << rng.int(0, 7));
  }
  return out;
}

/** A random contiguous slice of a copy of `bytes` replaced with random bytes, or the copy cut short. */
export function mutate(rng: Rng, bytes: Uint8Array): Buffer {
  switch (rng.int(0, 3)) {
    case 0:
      return flipBits(rng, bytes, rng.int(1, 16));
    case 1:
      return Buffer.from(bytes.subarray(0, rng.int(0, bytes.length - 1)));
    case 2: {
      const out = Buffer.from(bytes);
      const at = rng.int(0, out.length - 1);
      rng.bytes(Math.min(rng.int(1, 64), out.length - at)).copy(out, at);
      return out;
    }
    default:
      return Buffer.concat([bytes, rng.bytes(rng.int(1, 128))]);
  }
}
