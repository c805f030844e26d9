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
 *   rotations; kept for compatibility with TenSEAL-style clients.
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
  /** Primes kept in a result ciphertext after mod-switching (smaller download, budget permitting). */
  resultPrimes: number;
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

export const PRESETS: Record<PresetId, Preset> = {
  'bfv-coeff-8192': {
    id: 'bfv-coeff-8192',
    scheme: 'bfv',
    encoding: 'coeff',
    polyModulusDegree: 8192,
    plainModulusBits: 58,
    resultPrimes: 2,
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
    throw new InvalidInputError(
      'unsupported_parameters',
      `unknown parameter preset '${id}'; use one of ${PRESET_IDS.join(', ')}`,
      422,
    );
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
