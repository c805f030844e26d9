import { InvalidInputError } from './errors.js';
import { type Seal, type SealContext } from './seal.js';

/**
 * Parameter presets: the only parameter sets veil accepts. Each is 128-bit secure by SEAL's
 * tables and fixes the scheme *and* the encoding (how values sit in a plaintext), because the
 * encoding decides which evaluation the worker runs.
 *
 * - `bfv-coeff-8192` (default): BFV, values in polynomial *coefficients*. An inner product is one
 *   multiply_plain by the reversed weight polynomial — no rotations, no Galois keys (the context
 *   is parameters and a public key, not 8 MB of rotation keys), exact on fixed-point integers.
 *   Measured in-process: 13 ms per seed GRS vs 26 ms for the CKKS preset (npm run bench).
 * - `ckks-slots-8192`: the seed tutorials' CKKS 8192 / [60,40,40,60] / 2^40 with slot encoding and
 *   rotations; kept for compatibility with TenSEAL-style clients. It cannot flood (CKKS noise is
 *   the value's low bits: flooding 2^40 × the noise erases a 2^40-scale value), so its results are
 *   only masked (every slot but the answer zeroed): no circuit privacy, no private models.
 */
export const PRESET_IDS = ['bfv-coeff-8192', 'ckks-slots-8192'] as const;
export type PresetId = (typeof PRESET_IDS)[number];
export const DEFAULT_PRESET: PresetId = 'bfv-coeff-8192';

interface PresetBase {
  id: PresetId;
  polyModulusDegree: number;
}
export interface BfvCoeffPreset extends PresetBase {
  scheme: 'bfv';
  encoding: 'coeff';
  /** Bits of the plaintext modulus t: a batching prime, since node-seal 6 rejects any other t. */
  plainModulusBits: number;
}
export interface CkksSlotsPreset extends PresetBase {
  scheme: 'ckks';
  encoding: 'slots';
  coeffModulusBits: number[];
  scaleBits: number;
  /** Rotation steps the owner makes Galois keys for: powers of two up to half the slot count. */
  galoisSteps: number[];
}
export type Preset = BfvCoeffPreset | CkksSlotsPreset;

const powersOfTwoBelow = (n: number): number[] => {
  const out: number[] = [];
  for (let s = 1; s < n; s *= 2) out.push(s);
  return out;
};

/**
 * `bfv-coeff-8192` with circuit privacy (worker/privacy.ts, docs/circuit-privacy.md), measured in
 * node-seal 6 (invariant noise budgets, bits): BFVDefault q = 43·43·44·44 (+44 special), t 58 bits.
 * Decryption room log2(q/2t): 115 at 4 primes, 71 at 3, 27 at 2. A fresh input has 111 bits; one
 * multiply_plain by the largest weight polynomial the no-wrap rule allows (Σ|W| = 2^53) leaves 61
 * at the top. Flooding needs 40 + log2(answers per ciphertext) ≤ 51 of those, and F = q/4t gives
 * 2^114 against a proven bound V ≤ 2^59.4: it fits with ≥ 3 bits to spare for every job, and the
 * result (flooded at the top, then switched) decrypts at 2 primes (the same 214 KB zstd as before).
 * Weight precision is unchanged (t is). A smaller preset does not fit: at N = 4096 (BFVDefault
 * q = 72 bits at the data level) a fresh input has 47 bits with t = 20 bits and one multiply leaves
 * 35 (< 41 needed); with t = 30, 15. A custom N = 4096 modulus ([46, 46] + a 17-bit special prime,
 * 109 bits) leaves 45 after a multiply at t = 25 bits: flooding fits, but Σ|W| ≤ 2^20 at hard-call
 * dosages and 2^4 at the 2^-16 dosage scale — too little weight precision for real models.
 */
export const PRESETS: Record<PresetId, Preset> = {
  'bfv-coeff-8192': {
    id: 'bfv-coeff-8192',
    scheme: 'bfv',
    encoding: 'coeff',
    polyModulusDegree: 8192,
    plainModulusBits: 58,
  },
  'ckks-slots-8192': {
    id: 'ckks-slots-8192',
    scheme: 'ckks',
    encoding: 'slots',
    polyModulusDegree: 8192,
    coeffModulusBits: [60, 40, 40, 60],
    scaleBits: 40,
    galoisSteps: powersOfTwoBelow(4096),
  },
};

export function getPreset(id: string): Preset {
  if (!(PRESET_IDS as readonly string[]).includes(id)) {
    throw new InvalidInputError('unsupported_parameters', `unknown parameter preset '${id}'; use one of ${PRESET_IDS.join(', ')}`, 422);
  }
  return PRESETS[id as PresetId];
}

/** Values one ciphertext carries: N coefficients (BFV coeff) or N/2 slots (CKKS). */
export function capacity(preset: Preset): number {
  return preset.encoding === 'coeff' ? preset.polyModulusDegree : preset.polyModulusDegree / 2;
}

/** SEAL EncryptionParameters for a preset. The caller deletes the result. */
export function buildParms(seal: Seal, preset: Preset) {
  const n = preset.polyModulusDegree;
  if (preset.scheme === 'bfv') {
    const parms = seal.EncryptionParameters(seal.SchemeType.bfv);
    parms.setPolyModulusDegree(n);
    const coeff = seal.CoeffModulus.BFVDefault(n, seal.SecurityLevel.tc128);
    parms.setCoeffModulus(coeff);
    coeff.delete();
    const t = seal.PlainModulus.Batching(n, preset.plainModulusBits);
    parms.setPlainModulus(t);
    t.delete();
    return parms;
  }
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  parms.setPolyModulusDegree(n);
  const coeff = seal.CoeffModulus.Create(n, Int32Array.from(preset.coeffModulusBits));
  parms.setCoeffModulus(coeff);
  coeff.delete();
  return parms;
}

/** The serialized EncryptionParameters of a preset: what a context blob must carry, byte for byte. */
const parmsBytes = new Map<PresetId, Uint8Array>();
export function presetParmsBytes(seal: Seal, preset: Preset): Uint8Array {
  let bytes = parmsBytes.get(preset.id);
  if (!bytes) {
    const parms = buildParms(seal, preset);
    try {
      bytes = parms.saveArray(seal.ComprModeType.none);
    } finally {
      parms.delete();
    }
    parmsBytes.set(preset.id, bytes);
  }
  return bytes;
}

/** A SEAL context at 128-bit security; throws `insecure_parameters` when SEAL refuses the set. */
export function buildContext(seal: Seal, preset: Preset): SealContext {
  const parms = buildParms(seal, preset);
  try {
    const ctx = seal.Context(parms, true, seal.SecurityLevel.tc128);
    if (!ctx.parametersSet()) {
      ctx.delete();
      throw new InvalidInputError('insecure_parameters', `preset ${preset.id} is not 128-bit secure`, 422);
    }
    return ctx;
  } finally {
    parms.delete();
  }
}

/** t of a BFV preset, as SEAL picked it (deterministic for a given N and bit size). */
export function plainModulus(seal: Seal, preset: BfvCoeffPreset): bigint {
  const t = seal.PlainModulus.Batching(preset.polyModulusDegree, preset.plainModulusBits);
  try {
    return t.value;
  } finally {
    t.delete();
  }
}
