import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A bearer secret (VEIL_ADMIN_TOKEN) kept only as its SHA-256 hash. A presented token is hashed
 * and compared in constant time: equal-length digests, so neither the comparison nor the length
 * check tells an attacker how close a guess came. Nothing here ever prints the token.
 */
export class SecretToken {
  private readonly hash: Buffer;

  constructor(token: string) {
    this.hash = sha256(token);
  }

  matches(presented: string): boolean {
    return timingSafeEqual(this.hash, sha256(presented));
  }

  /** Config objects get logged and inspected; this one shows no secret. */
  toJSON(): string {
    return '[redacted]';
  }
}

const sha256 = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export const MIN_TOKEN_BITS = 128;

/**
 * Bits of randomness a token can hold at most, from its length and alphabet: hex carries 4 bits
 * a character, base64/base64url 6. A token of few distinct characters ('aaaa…') counts as 0.
 */
export function tokenBits(token: string): number {
  const body = token.replace(/=+$/, '');
  if (new Set(body).size < 8) return 0;
  if (/^[0-9a-f]+$/.test(body) || /^[0-9A-F]+$/.test(body)) return body.length * 4;
  if (/^[A-Za-z0-9+/_-]+$/.test(body)) return body.length * 6;
  return 0;
}

/** Why a token is unusable, in words that never include the token; undefined if it is fine. */
export function tokenProblem(token: string): string | undefined {
  const how = 'make one with `openssl rand -hex 16` or `openssl rand -base64 32`';
  if (!/^[A-Za-z0-9+/_=-]+$/.test(token)) return `must be hex or base64 characters; ${how}`;
  const bits = tokenBits(token);
  if (bits < MIN_TOKEN_BITS) return `holds at most ${bits} random bits, fewer than ${MIN_TOKEN_BITS}; ${how}`;
  return undefined;
}
