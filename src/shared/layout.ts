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
 */
export interface VectorLayout {
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

export function vectorLayout(preset: Preset, length: number, samples = 1): VectorLayout {
  if (!Number.isInteger(length) || length < 1 || length > MAX_VECTOR_LENGTH) {
    throw new InvalidInputError('invalid_length', `vector length must be 1..${MAX_VECTOR_LENGTH}, got ${length}`);
  }
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES) {
    throw new InvalidInputError('invalid_samples', `samples must be 1..${MAX_SAMPLES}, got ${samples}`);
  }
  const cap = capacity(preset);
  const chunkLength = Math.min(length, cap);
  const chunks = Math.ceil(length / chunkLength);
  // Slots rotate cyclically, so CKKS keeps one sample per ciphertext.
  const samplesPerCiphertext = preset.encoding === 'coeff' ? Math.floor(cap / chunkLength) : 1;
  const groups = Math.ceil(samples / samplesPerCiphertext);
  return { length, samples, chunkLength, chunks, samplesPerCiphertext, groups, ciphertexts: groups * chunks };
}

/** Where sample `sample`'s result sits: which result ciphertext, which coefficient or slot. */
export function resultPosition(layout: VectorLayout, preset: Preset, sample: number): { ciphertext: number; index: number } {
  const ciphertext = Math.floor(sample / layout.samplesPerCiphertext);
  const k = sample % layout.samplesPerCiphertext;
  const index = preset.encoding === 'coeff' ? k * layout.chunkLength + layout.chunkLength - 1 : 0;
  return { ciphertext, index };
}
