/**
 * The three `node:crypto` functions src/ uses, for the browser bundle (web/build.mjs maps
 * `node:crypto` here). createHash must stay synchronous, as contextIdOf is, so SHA-256 comes
 * from @noble/hashes rather than WebCrypto's async digest.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export function createHash(algorithm: string) {
  if (algorithm !== 'sha256') throw new Error(`the page has only sha256, not ${algorithm}`);
  const hash = sha256.create();
  const api = {
    update(data: Uint8Array) {
      hash.update(data);
      return api;
    },
    digest(encoding: 'hex') {
      if (encoding !== 'hex') throw new Error('the page digests to hex only');
      return bytesToHex(hash.digest());
    },
  };
  return api;
}

/** getRandomValues fills at most 65536 bytes per call. */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(size, at + 65536)));
  return out;
}

export function randomUUID(): string {
  return crypto.randomUUID();
}
