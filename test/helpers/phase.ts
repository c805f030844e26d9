import { ciphertextView, type CiphertextView } from '../../src/shared/coeff.js';
import type { Owner } from '../../src/producer/crypto.js';
import type { Level } from '../../src/worker/privacy.js';
import type { Seal } from '../../src/shared/seal.js';

/**
 * What a data owner holding the secret key can compute from a result beyond decrypting it: the
 * exact phase c0 + c1·s mod q of any coefficient, hence its noise. The attacker's tool in the
 * circuit-privacy tests.
 */

/** A SEAL ciphertext as uncompressed bytes (whatever compression it came in). */
export function uncompressed(seal: Seal, owner: Owner, bytes: Uint8Array): Uint8Array {
  const ct = seal.CipherText();
  try {
    ct.loadArray(owner.ec.ctx, bytes);
    return ct.saveArray(seal.ComprModeType.none);
  } finally {
    ct.delete();
  }
}

/**
 * The secret key's coefficients (−1, 0, 1): decrypt (c0, c1) = (0, ⌊q/t⌋), whose phase is ⌊q/t⌋·s,
 * i.e. the plaintext s with no noise. `template` is any uncompressed ciphertext at `level`.
 */
export function secretCoefficients(owner: Owner, template: Uint8Array, level: Level): Int8Array {
  const t = owner.ec.plainModulus as bigint;
  const bytes = template.slice();
  const view = ciphertextView(bytes);
  const delta = level.q / t;
  level.primes.forEach((p, i) => {
    for (let j = 0; j < view.n; j++) {
      view.set(0, i, j, 0);
      view.set(1, i, j, j === 0 ? Number(delta % p) : 0);
    }
  });
  const s = owner.decryptRaw(bytes) as BigUint64Array;
  return Int8Array.from(s, (c) => (c === 0n ? 0 : c === 1n ? 1 : -1));
}

/** Centered phase of coefficient j, (c0 + c1·s)_j mod q, in (−q/2, q/2]. */
export function phaseAt(view: CiphertextView, level: Level, s: Int8Array, j: number): bigint {
  const residues = level.primes.map((prime, i) => {
    const p = Number(prime);
    let acc = view.get(0, i, j);
    // Negacyclic product: X^N = −1.
    for (let k = 0; k < view.n; k++) {
      const sk = s[k] as number;
      if (sk === 0) continue;
      const neg = k > j !== sk < 0;
      const c = view.get(1, i, k > j ? view.n + j - k : j - k);
      acc += neg ? p - c : c;
      if (acc >= 2 * p) acc -= 2 * p;
    }
    return BigInt(acc % p);
  });
  // CRT.
  let x = 0n;
  level.primes.forEach((p, i) => {
    const m = level.q / p;
    x = (x + (residues[i] as bigint) * m * modInverse(m % p, p)) % level.q;
  });
  return x > level.q / 2n ? x - level.q : x;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a, m, 1n, 0n];
  while (r1 !== 0n) {
    const qt = r0 / r1;
    [r0, r1] = [r1, r0 - qt * r1];
    [s0, s1] = [s1, s0 - qt * s1];
  }
  return ((s0 % m) + m) % m;
}

/** Noise v of a phase in SEAL's invariant units: phase = (q/t)·m + v with m the decrypted value. */
export function noiseOf(phase: bigint, level: Level, t: bigint): number {
  const m = (2n * t * phase + (phase < 0n ? -level.q : level.q)) / (2n * level.q);
  return Number(t * phase - level.q * m) / Number(t);
}
