import { InvalidInputError } from './errors.js';

/**
 * How a readings dataset puts values into BFV coefficients, shared by the owner's encoder, the
 * worker's report and the owner's decoder. Everything here is public metadata.
 *
 * A reading x is the integer X = round(x·2^scaleBits). t is only 58 bits, and the report needs
 * Σx² and Σd·x (d = time), so X and X² are cut into base-2^LIMB_BITS digits ("limbs"), each in its
 * own block of coefficients: block j < xLimbs holds digit j of |X| (with X's sign), block
 * xLimbs + j holds digit j of X². Digit sums are exact and small, and the owner recombines them
 * with BigInt: Σ X = Σⱼ 2^(j·LIMB_BITS) · Σ digitⱼ. A record of k ≤ blockSize readings is one
 * ciphertext; reading i sits at offset i of every block.
 *
 * Multiplying by O = 1 + X + … + X^(b−1) (b = blockSize) puts the sum of block j at coefficient
 * j·b + b − 1 and nothing else there: that coefficient is all the report keeps.
 */
export const LIMB_BITS = 16;
/** Time d (whole seconds since the window's first reading) is split as d = hi·2^16 + lo for Σd·x. */
export const D_DIGIT_BITS = 16;
/** Bounds that keep every kept sum below t/2 (2^56 with headroom): n·2^16·2^16 < 2^56. */
export const MAX_WINDOW_READINGS = 2 ** 23;
export const MAX_D_SECONDS = 2 ** 32 - 1;

export const DEFAULT_VALUE_BITS = 12; // |x| < 4096: heart rate, blood pressure, glucose in mg/dL …
export const DEFAULT_SCALE_BITS = 28; // resolution 2^-28 ≈ 3.7e-9

export interface ReadingsEncoding {
  scaleBits: number;
  valueBits: number;
  limbBits: number;
  xLimbs: number;
  x2Limbs: number;
  blockSize: number;
}

export function readingsEncoding(n: number, valueBits = DEFAULT_VALUE_BITS, scaleBits = DEFAULT_SCALE_BITS): ReadingsEncoding {
  if (!Number.isInteger(valueBits) || valueBits < 1 || !Number.isInteger(scaleBits) || scaleBits < 0 || valueBits + scaleBits > 52) {
    throw new InvalidInputError(
      'invalid_encoding',
      `valueBits (${valueBits}) + scaleBits (${scaleBits}) must be whole numbers with a sum of at most 52 (doubles stay exact)`,
    );
  }
  const xBits = valueBits + scaleBits;
  const xLimbs = Math.ceil(xBits / LIMB_BITS);
  const x2Limbs = Math.ceil((2 * xBits) / LIMB_BITS);
  return { scaleBits, valueBits, limbBits: LIMB_BITS, xLimbs, x2Limbs, blockSize: Math.floor(n / (xLimbs + x2Limbs)) };
}

/** Ciphertexts one record of `count` readings takes. */
export function readingChunks(enc: ReadingsEncoding, count: number): number {
  return Math.ceil(count / enc.blockSize);
}

/** Signed digits of v in base 2^bits (v's sign on every digit), least significant first. */
function digits(v: bigint, bits: number, count: number): bigint[] {
  const neg = v < 0n;
  let m = neg ? -v : v;
  const mask = (1n << BigInt(bits)) - 1n;
  const out: bigint[] = [];
  for (let j = 0; j < count; j++) {
    out.push(neg ? -(m & mask) : m & mask);
    m >>= BigInt(bits);
  }
  return out;
}

/**
 * The signed integer coefficients of each ciphertext for `values` (before reduction mod t).
 * Throws when a value does not fit the dataset's declared width.
 */
export function encodeReadings(enc: ReadingsEncoding, values: readonly number[], n: number): bigint[][] {
  const limit = 2 ** enc.valueBits;
  const out: bigint[][] = [];
  for (let from = 0; from < values.length; from += enc.blockSize) {
    const coeffs = new Array<bigint>(n).fill(0n);
    values.slice(from, from + enc.blockSize).forEach((x, i) => {
      if (!Number.isFinite(x) || Math.abs(x) >= limit) {
        throw new InvalidInputError(
          'value_out_of_range',
          `reading ${from + i} (${x}) is not a number with |x| < 2^${enc.valueBits}; create the dataset with a larger --value-bits`,
        );
      }
      const X = BigInt(Math.round(x * 2 ** enc.scaleBits));
      digits(X, enc.limbBits, enc.xLimbs).forEach((d, j) => (coeffs[j * enc.blockSize + i] = d));
      digits(X * X, enc.limbBits, enc.x2Limbs).forEach((d, j) => (coeffs[(enc.xLimbs + j) * enc.blockSize + i] = d));
    });
    out.push(coeffs);
  }
  return out;
}

/** Coefficient holding the sum of block j after the reduction. */
export function blockSumIndex(enc: ReadingsEncoding, block: number): number {
  return block * enc.blockSize + enc.blockSize - 1;
}

/** Recombine block sums j0 … j0+count−1 into one exact integer. */
export function recombine(enc: ReadingsEncoding, sums: readonly bigint[], from: number, count: number): bigint {
  let v = 0n;
  for (let j = count - 1; j >= 0; j--) v = (v << BigInt(enc.limbBits)) + (sums[from + j] as bigint);
  return v;
}
