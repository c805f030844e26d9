/**
 * Fixed-point choices for coefficient (BFV) encoding. Results are exact integers mod t; the only
 * rule is that no result may wrap around t, so every scale is chosen from a bound on |result|.
 */

/** Bits needed for |v| (0 → 0). */
export function bitsFor(v: number): number {
  return v <= 0 ? 0 : Math.ceil(Math.log2(v + 1));
}

/** Headroom kept below t/2, so sums of rounded values and the bias can never reach it. */
export const HEADROOM_BITS = 2;
export const MAX_SCALE_BITS = 40;

/**
 * Scale for owner values whose sum over `count` terms (each times a weight of at most 1) must fit:
 * count × max|x| × 2^s < 2^(tBits − 1 − headroom). The chosen scale and the resulting bit width
 * are public metadata, like a CKKS scale.
 */
export function valueScaleBits(maxAbs: number, count: number, tBits: number): number {
  const room = tBits - 1 - HEADROOM_BITS - bitsFor(count) - bitsFor(Math.ceil(maxAbs));
  return Math.max(0, Math.min(MAX_SCALE_BITS, room));
}

/**
 * Scale for the service's weights, given the owner's declared value width: the worst case
 * Σ|wᵢ|·2^valueBits + |bias|·2^inputScale, times 2^s, stays below 2^(tBits − 1 − headroom).
 */
export function weightScaleBits(sumAbsWeights: number, bias: number, valueBits: number, inputScaleBits: number, tBits: number): number {
  const bound = sumAbsWeights * 2 ** valueBits + Math.abs(bias) * 2 ** inputScaleBits;
  const room = Math.floor(tBits - 1 - HEADROOM_BITS - Math.log2(Math.max(bound, 1)));
  return Math.min(MAX_SCALE_BITS, room);
}
