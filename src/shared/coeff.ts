import type { PlainText, Seal, SealContext } from './seal.js';

/**
 * Plaintexts with chosen coefficients. node-seal has no constructor for them, so we write SEAL's
 * own serialized Plaintext (compression none) and load it — byte-identical to node-seal's save:
 *   0  outer header: 5E A1, header size 16, version 4.1, compr 0, reserved, u64 total size
 *   16 parms_id (32 zero bytes: not NTT form)   48 u64 coeff count   56 f64 scale (1.0)
 *   64 inner header (same layout, u64 size = 24 + 8n)   80 u64 n   88 n × u64 coefficients
 */
const HEADER = [0x5e, 0xa1, 16, 4, 1, 0, 0, 0];
const COEFFS_AT = 88;

export function plaintextBytes(coeffs: BigUint64Array): Uint8Array {
  const n = coeffs.length;
  const out = new Uint8Array(COEFFS_AT + 8 * n);
  const view = new DataView(out.buffer);
  out.set(HEADER, 0);
  view.setBigUint64(8, BigInt(out.length), true);
  view.setBigUint64(48, BigInt(n), true);
  view.setFloat64(56, 1.0, true);
  out.set(HEADER, 64);
  view.setBigUint64(72, BigInt(24 + 8 * n), true);
  view.setBigUint64(80, BigInt(n), true);
  new Uint8Array(out.buffer, COEFFS_AT).set(new Uint8Array(coeffs.buffer, coeffs.byteOffset, 8 * n));
  return out;
}

export function makePlaintext(seal: Seal, ctx: SealContext, coeffs: BigUint64Array): PlainText {
  const plain = seal.PlainText();
  try {
    plain.loadArray(ctx, plaintextBytes(coeffs));
  } catch (err) {
    plain.delete();
    throw err;
  }
  return plain;
}

/** The coefficients of a (non-NTT) plaintext, e.g. a BFV decryption. */
export function readCoefficients(seal: Seal, plain: PlainText): BigUint64Array {
  const bytes = plain.saveArray(seal.ComprModeType.none);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(80, true));
  const out = new BigUint64Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getBigUint64(COEFFS_AT + 8 * i, true);
  return out;
}

/** A signed integer as a residue mod t. */
export function toResidue(v: bigint, t: bigint): bigint {
  const r = v % t;
  return r < 0n ? r + t : r;
}

/** A residue mod t read back as a signed integer in (-t/2, t/2]. */
export function centered(c: bigint, t: bigint): bigint {
  return c > t / 2n ? c - t : c;
}

/** x × 2^bits rounded to an integer. Exact while |x × 2^bits| < 2^53. */
export function toFixed(x: number, bits: number): bigint {
  return BigInt(Math.round(x * 2 ** bits));
}

/** An exact integer scaled back down: v / 2^bits as the nearest double. */
export function fromFixed(v: bigint, bits: number): number {
  // Split so a 58-bit v keeps its low bits (Number(v) alone rounds to 53 bits first).
  const whole = v >> BigInt(bits);
  const frac = v - (whole << BigInt(bits));
  return Number(whole) + Number(frac) / 2 ** bits;
}

/**
 * SEAL's serialized Ciphertext (compression none), as node-seal saves it:
 *   0  outer header (16)   16 parms_id (32)   48 is_ntt_form (1)   49 u64 size   57 u64 N
 *   65 u64 primes   73 f64 scale   81 u64 correction factor   89 inner header (16)   105 u64 count
 *   113 count × u64: polynomial 0 (prime by prime, N residues each), then polynomial 1, …
 * Residues are below 2^60, read and written as two u32 halves (exact in a double below 2^53).
 */
const CT_DATA_AT = 113;

export interface CiphertextView {
  n: number;
  primes: number;
  /** Byte offset of that residue: a u64, little-endian (for loops that walk the bytes themselves). */
  offset(poly: number, prime: number, coeff: number): number;
  /** Residue of coefficient `coeff` of polynomial `poly` modulo prime `prime`. */
  get(poly: number, prime: number, coeff: number): number;
  set(poly: number, prime: number, coeff: number, value: number): void;
}

export function ciphertextView(bytes: Uint8Array): CiphertextView {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(57, true));
  const primes = Number(view.getBigUint64(65, true));
  if (view.getUint16(0, true) !== 0xa15e || bytes[5] !== 0 || bytes.length < CT_DATA_AT + 16 * n * primes) {
    throw new Error('not an uncompressed SEAL ciphertext');
  }
  const at = (poly: number, prime: number, coeff: number) => CT_DATA_AT + 8 * ((poly * primes + prime) * n + coeff);
  return {
    n,
    primes,
    offset: at,
    get(poly, prime, coeff) {
      const i = at(poly, prime, coeff);
      return view.getUint32(i, true) + view.getUint32(i + 4, true) * 2 ** 32;
    },
    set(poly, prime, coeff, value) {
      const i = at(poly, prime, coeff);
      view.setUint32(i, value % 2 ** 32, true);
      view.setUint32(i + 4, Math.floor(value / 2 ** 32), true);
    },
  };
}
