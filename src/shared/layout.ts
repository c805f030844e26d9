import { InvalidInputError } from './errors.js';
import { capacity, type Preset } from './params.js';

/**
 * How a vector of `length` values per sample is laid out over ciphertexts — the contract between
 * the owner's encoder and the worker's evaluator.
 *
 * The vector is cut into `chunks` of `chunkLength` values. With coefficient encoding, several
 * samples share a ciphertext: sample k of a group sits at coefficients k·m … k·m+m−1 (m =
 * chunkLength), and its inner product lands, uncontaminated, in coefficient k·m+m−1 of the product
 * with the reversed weights. Ciphertext index = group × chunks + chunk.
 *
 * `sample` packing (coefficient presets, cohorts): the same rule with chunkLength 1 — one
 * ciphertext per value ("variant") holding that value of up to N samples, coefficient k = sample
 * k of the group. The reversed weight of a 1-long chunk is a constant, so the worker's product is
 * Σⱼ wⱼ·ctⱼ with scalar multiplies, and sample k's score lands in coefficient k.
 */
export const PACKINGS = ['coeff', 'sample'] as const;
export type Packing = (typeof PACKINGS)[number];

export interface VectorLayout {
  packing: Packing;
  length: number;
  samples: number;
  chunkLength: number;
  chunks: number;
  samplesPerCiphertext: number;
  groups: number;
  ciphertexts: number;
}

export const MAX_VECTOR_LENGTH = 4_194_304;
export const MAX_SAMPLES = 100_000;

export function vectorLayout(preset: Preset, length: number, samples = 1, packing: Packing = 'coeff'): VectorLayout {
  if (!Number.isInteger(length) || length < 1 || length > MAX_VECTOR_LENGTH) {
    throw new InvalidInputError('invalid_length', `vector length must be 1..${MAX_VECTOR_LENGTH}, got ${length}`);
  }
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES) {
    throw new InvalidInputError('invalid_samples', `samples must be 1..${MAX_SAMPLES}, got ${samples}`);
  }
  const cap = capacity(preset);
  if (packing === 'sample') {
    if (preset.encoding !== 'coeff')
      throw new InvalidInputError('unsupported_packing', `sample packing needs a coefficient-encoded preset, not ${preset.id}`, 422);
    const groups = Math.ceil(samples / cap);
    return { packing, length, samples, chunkLength: 1, chunks: length, samplesPerCiphertext: cap, groups, ciphertexts: groups * length };
  }
  const chunkLength = Math.min(length, cap);
  const chunks = Math.ceil(length / chunkLength);
  // Slots rotate cyclically, so CKKS keeps one sample per ciphertext.
  const samplesPerCiphertext = preset.encoding === 'coeff' ? Math.floor(cap / chunkLength) : 1;
  const groups = Math.ceil(samples / samplesPerCiphertext);
  return { packing, length, samples, chunkLength, chunks, samplesPerCiphertext, groups, ciphertexts: groups * chunks };
}

/** Ciphertexts per job above which the owner keeps coefficient packing (~220 MB of seeded zstd inputs). */
export const SAMPLE_PACKING_MAX_LENGTH = 1024;

/**
 * The owner's choice for scoring `samples` vectors of `length`: sample packing when it takes no
 * more ciphertexts than coefficient packing (so no more bytes or encryptions, and the worker's
 * cost per ciphertext is a scalar multiply instead of a polynomial one) and one group fits a job.
 */
export function choosePacking(preset: Preset, length: number, samples: number): Packing {
  if (preset.encoding !== 'coeff' || samples < 2 || length > SAMPLE_PACKING_MAX_LENGTH) return 'coeff';
  return vectorLayout(preset, length, samples, 'sample').ciphertexts <= vectorLayout(preset, length, samples).ciphertexts ? 'sample' : 'coeff';
}

/** Where sample `sample`'s result sits: which result ciphertext, which coefficient or slot. */
export function resultPosition(layout: VectorLayout, preset: Preset, sample: number): { ciphertext: number; index: number } {
  const ciphertext = Math.floor(sample / layout.samplesPerCiphertext);
  const k = sample % layout.samplesPerCiphertext;
  const index = preset.encoding === 'coeff' ? k * layout.chunkLength + layout.chunkLength - 1 : 0;
  return { ciphertext, index };
}
