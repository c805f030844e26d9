import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * API tokens. Only SHA-256 hashes are kept; a presented token is hashed and compared with every
 * known hash in constant time, so neither a Map lookup nor an early exit tells an attacker how
 * close a guess came. Nothing here ever prints a token.
 */
export const SCOPES = ['owner', 'models', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A token must carry at least this much randomness (by its length and alphabet). */
export const MIN_TOKEN_BITS = 128;

export interface Principal {
  tenant: string;
  scope: Scope;
}

/** A matched token: its principal and a stable id for per-token limits (a hash prefix, not the token). */
export interface TokenMatch extends Principal {
  tokenId: string;
}

interface Entry extends Principal {
  hash: Buffer;
}

const sha256 = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class TokenTable {
  private readonly entries: Entry[] = [];

  get size(): number {
    return this.entries.length;
  }

  /** Adds a token; false if the same token is already in the table. */
  add(token: string, principal: Principal): boolean {
    if (this.match(token)) return false;
    this.entries.push({ ...principal, hash: sha256(token) });
    return true;
  }

  /** The principal of `token`, comparing against every entry (no early exit). */
  match(token: string): TokenMatch | undefined {
    const hash = sha256(token);
    let found: Entry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, hash) && !found) found = entry;
    }
    return found && { tenant: found.tenant, scope: found.scope, tokenId: found.hash.subarray(0, 8).toString('hex') };
  }
}

/**
 * Bits of randomness a token can hold at most, from its length and alphabet: hex carries 4 bits
 * a character, base64/base64url 6. Tokens of few distinct characters ('aaaa…') count as 0.
 */
export function tokenBits(token: string): number {
  const body = token.replace(/=+$/, '');
  if (new Set(body).size < 8) return 0;
  if (/^[0-9a-f]+$/.test(body) || /^[0-9A-F]+$/.test(body)) return body.length * 4;
  if (/^[A-Za-z0-9+/_-]+$/.test(body)) return body.length * 6;
  return 0;
}

const TENANT = /^[A-Za-z0-9_.-]{1,64}$/;
const HOW = `make one with \`openssl rand -hex 16\` (${MIN_TOKEN_BITS} bits) or \`openssl rand -base64 32\``;

/** Why a token is unusable, in words that never include the token; undefined if it is fine. */
export function tokenProblem(token: string): string | undefined {
  if (!/^[A-Za-z0-9+/_=-]+$/.test(token)) return `the token must be hex or base64 characters; ${HOW}`;
  const bits = tokenBits(token);
  if (bits < MIN_TOKEN_BITS) return `the token holds at most ${bits} random bits, fewer than ${MIN_TOKEN_BITS}; ${HOW}`;
  return undefined;
}

/**
 * Parse `tenant:token[:scope],…` into a table, or the list of problems (entries named by position
 * and tenant, never by token).
 */
export function parseTokens(list: string): { table: TokenTable } | { problems: string[] } {
  const table = new TokenTable();
  const problems: string[] = [];
  list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .forEach((entry, i) => {
      const [tenant = '', token = '', scope = 'owner', ...rest] = entry.split(':');
      // A lone token would parse as a tenant name: name the tenant only when a token follows it.
      const where = TENANT.test(tenant) && token ? `entry ${i + 1} (tenant '${tenant}')` : `entry ${i + 1}`;
      if (!TENANT.test(tenant) || !token || rest.length > 0) {
        problems.push(`${where} is not tenant:token[:scope] (tenant 1-64 of [A-Za-z0-9_.-])`);
      } else if (!(SCOPES as readonly string[]).includes(scope)) {
        problems.push(`${where}: scope '${scope.slice(0, 20)}' is not one of ${SCOPES.join(', ')}`);
      } else {
        const problem = tokenProblem(token);
        if (problem) problems.push(`${where}: ${problem}`);
        else if (!table.add(token, { tenant, scope: scope as Scope })) problems.push(`${where}: the same token appears twice; every token must be unique`);
      }
    });
  if (table.size === 0 && problems.length === 0) problems.push('no tokens given; unset VEIL_TOKENS for the local single-tenant mode');
  return problems.length ? { problems } : { table };
}
