import { centered, fromFixed, makePlaintext, readCoefficients, toFixed, toResidue } from '../shared/coeff.js';
import { loadPublicContext, presetContext, type EvalContext } from '../shared/context.js';
import { InvalidInputError } from '../shared/errors.js';
import { bitsFor, valueScaleBits } from '../shared/fixed.js';
import { DEFAULT_VALUE_BITS } from '../shared/readings.js';
import { resultPosition, vectorLayout, type Packing, type VectorLayout } from '../shared/layout.js';
import { DEFAULT_PRESET, getPreset, presetParmsBytes, type PresetId } from '../shared/params.js';
import { canonicalContext } from '../shared/public-context.js';
import { getSeal, withScope, type Seal } from '../shared/seal.js';
import { pack, parseWire, secretKeyFileSchema, unpack, WIRE_VERSION, type JobResult } from '../shared/wire.js';

/** What `veil keygen` writes: the public context (safe to upload) and the secret-key file. */
export interface KeyPair {
  contextId: string;
  publicContext: Uint8Array;
  secretKeyFile: Uint8Array;
}

export async function generateKeys(presetId: PresetId = DEFAULT_PRESET): Promise<KeyPair> {
  const seal = await getSeal();
  const preset = getPreset(presetId);
  const parms = presetParmsBytes(seal, preset);
  return withScope((scope) => {
    // The process's one context for the preset (building one costs ~0.5 s): keys, then canonical form.
    const { ctx } = presetContext(seal, preset);
    const kg = scope.track(seal.KeyGenerator(ctx));
    const sk = scope.track(kg.secretKey());
    let galoisKeys: Uint8Array | undefined;
    if (preset.scheme === 'ckks') {
      // Seeded serialization halves the keys; only the rotations the worker uses are made.
      const gk = scope.track(kg.createGaloisKeysSerializable(Int32Array.from(preset.galoisSteps)));
      galoisKeys = gk.saveArray(seal.ComprModeType.zstd);
    }
    const publicKey = scope.track(kg.createPublicKeySerializable()).saveArray(seal.ComprModeType.zstd);
    const sent = pack({ v: WIRE_VERSION, type: 'veil/public-context', preset: presetId, parms, publicKey, ...(galoisKeys ? { galoisKeys } : {}) });
    // The server stores contexts in canonical form (re-serialized, unseeded); writing that form
    // here too keeps the content address the same on both sides.
    const { bytes: publicContext, contextId } = canonicalContext(seal, sent, () => ctx);
    const secretKeyFile = pack({ v: WIRE_VERSION, type: 'veil/secret-key', preset: presetId, contextId, secretKey: sk.saveArray(seal.ComprModeType.zstd) });
    return { contextId, publicContext, secretKeyFile };
  });
}

/**
 * Fixed-point choices come from the operation, never from the data (a scale chosen from the values
 * would tell the service, e.g., whether any dosage is 2 or fractional). Dot products take dosages:
 * |x| ≤ 2 at a resolution of 2^-16 (DS fields, imputed means). Sums take readings of a declared
 * width (default |x| < 2^12: heart rate, blood pressure, glucose in mg/dL), scaled as finely as the
 * public count allows.
 */
export const MAX_DOSAGE = 2;
export const DOSAGE_SCALE_BITS = 16;
/** Hard-called genotypes (a source that only has 0/1/2, e.g. 23andMe), declared by the caller. */
export const HARD_CALL_SCALE_BITS = 0;

/** Encrypted inputs for one job, with the public fixed-point metadata the worker needs. */
export interface EncryptedVector {
  layout: VectorLayout;
  ciphertexts: Uint8Array[];
  scaleBits: number;
  valueBits: number;
}

/**
 * The data owner's side of the crypto: encrypts with the secret key (symmetric, seeded: half the
 * bytes of public-key encryption) and decrypts results. Holds WASM objects until `dispose()`.
 */
export class Owner {
  private constructor(
    private readonly seal: Seal,
    readonly ec: EvalContext,
    private readonly secretKey: ReturnType<Seal['SecretKey']>,
    private readonly encryptor: ReturnType<Seal['Encryptor']>,
    private readonly decryptor: ReturnType<Seal['Decryptor']>,
    private readonly extra: { delete(): void }[],
    readonly publicContext: Uint8Array,
  ) {}

  static async fromBytes(publicContext: Uint8Array, secretKeyFile: Uint8Array): Promise<Owner> {
    const seal = await getSeal();
    const file = parseWire(secretKeyFileSchema, unpack(secretKeyFile), 'secret key file');
    const ec = loadPublicContext(seal, publicContext);
    if (ec.contextId !== file.contextId) {
      ec.dispose();
      throw new InvalidInputError('key_mismatch', 'secret.key and public.ctx are from different key pairs; use the pair veil keygen wrote together');
    }
    const sk = seal.SecretKey();
    sk.loadArray(ec.ctx, file.secretKey);
    const kg = seal.KeyGenerator(ec.ctx, sk);
    const pk = kg.createPublicKey(); // node-seal's Encryptor wants one even for symmetric use
    const encryptor = seal.Encryptor(ec.ctx, pk, sk);
    const decryptor = seal.Decryptor(ec.ctx, sk);
    return new Owner(seal, ec, sk, encryptor, decryptor, [pk, kg], publicContext);
  }

  get contextId(): string {
    return this.ec.contextId;
  }

  get preset() {
    return this.ec.preset;
  }

  /**
   * Encrypt one vector per sample (all the same length) in the preset's layout. For an inner
   * product with the service's weights (`purpose: 'dot'`, dosages) the values keep a small scale so
   * the worker can give the weights the precision; for a sum they take all the count allows.
   * `maxAbs` declares the values' range (default: the purpose's); scale and width follow from it
   * and the public length alone.
   */
  encryptVectors(samples: ArrayLike<number>[], opts: { purpose: 'dot' | 'sum'; scaleBits?: number; maxAbs?: number; packing?: Packing }): EncryptedVector {
    const first = samples[0];
    if (!first) throw new InvalidInputError('invalid_input', 'nothing to encrypt');
    const layout = vectorLayout(this.preset, first.length, samples.length, opts.packing);
    const maxAbs = opts.maxAbs ?? (opts.purpose === 'dot' ? MAX_DOSAGE : 2 ** DEFAULT_VALUE_BITS - 1);
    // CKKS has its own (fixed) scale; coefficient encoding's follows from the op and the length.
    const preset = this.preset;
    const scaleBits =
      preset.encoding === 'slots'
        ? undefined
        : (opts.scaleBits ?? (opts.purpose === 'sum' ? valueScaleBits(maxAbs, first.length, preset.plainModulusBits) : DOSAGE_SCALE_BITS));
    for (const s of samples) {
      if (s.length !== first.length) throw new InvalidInputError('invalid_input', 'all samples must have the same number of values');
      for (let i = 0; i < s.length; i++) {
        const v = s[i] as number;
        if (!Number.isFinite(v)) throw new InvalidInputError('invalid_input', `value ${i} is not a finite number`);
        if (Math.abs(v) > maxAbs) throw new InvalidInputError('value_out_of_range', `value ${i} (${v}) is outside the declared range ±${maxAbs}`);
        // Declared whole numbers (hard calls) are never silently rounded.
        if (scaleBits === 0 && !Number.isInteger(v)) throw new InvalidInputError('invalid_input', `value ${i} (${v}) is not a whole number, as declared`);
      }
    }
    if (scaleBits === undefined) return { layout, ciphertexts: this.encryptSlots(samples, layout), scaleBits: 0, valueBits: 0 };
    const valueBits = bitsFor(Math.ceil(maxAbs * 2 ** scaleBits));
    return { layout, ciphertexts: this.encryptCoefficients(samples, layout, scaleBits), scaleBits, valueBits };
  }

  private encryptCoefficients(samples: ArrayLike<number>[], layout: VectorLayout, scaleBits: number): Uint8Array[] {
    const t = this.ec.plainModulus as bigint;
    const n = this.preset.polyModulusDegree;
    const out: Uint8Array[] = [];
    for (let g = 0; g < layout.groups; g++) {
      for (let c = 0; c < layout.chunks; c++) {
        const coeffs = new BigUint64Array(n);
        for (let k = 0; k < layout.samplesPerCiphertext; k++) {
          const sample = samples[g * layout.samplesPerCiphertext + k];
          if (!sample) break;
          const from = c * layout.chunkLength;
          const to = Math.min(from + layout.chunkLength, layout.length);
          for (let i = from; i < to; i++) coeffs[k * layout.chunkLength + (i - from)] = toResidue(toFixed(sample[i] as number, scaleBits), t);
        }
        out.push(this.encryptResidues(coeffs));
      }
    }
    return out;
  }

  /**
   * Encrypt exact signed integers as coefficients (BFV), one ciphertext per vector of ≤ n: for
   * encodings that are integers already (dataset readings), with no detour through doubles.
   */
  encryptIntegers(vectors: readonly (readonly bigint[])[]): Uint8Array[] {
    if (this.preset.encoding !== 'coeff')
      throw new InvalidInputError('unsupported_parameters', `integer coefficients need a BFV preset, not ${this.preset.id}`);
    const t = this.ec.plainModulus as bigint;
    const n = this.preset.polyModulusDegree;
    return vectors.map((v) => {
      if (v.length > n) throw new InvalidInputError('invalid_input', `${v.length} coefficients do not fit a ciphertext of ${n}`);
      const coeffs = new BigUint64Array(n);
      v.forEach((c, i) => (coeffs[i] = toResidue(c, t)));
      return this.encryptResidues(coeffs);
    });
  }

  /** One symmetric (seeded, so half the size) ciphertext of coefficients already reduced mod t. */
  private encryptResidues(coeffs: BigUint64Array): Uint8Array {
    return withScope((scope) => {
      const plain = scope.track(makePlaintext(this.seal, this.ec.ctx, coeffs));
      return scope.track(this.encryptor.encryptSymmetricSerializable(plain)).saveArray(this.seal.ComprModeType.zstd);
    });
  }

  private encryptSlots(samples: ArrayLike<number>[], layout: VectorLayout): Uint8Array[] {
    const { seal } = this;
    const preset = this.preset;
    if (preset.encoding !== 'slots') throw new Error('unreachable');
    const out: Uint8Array[] = [];
    withScope((scope) => {
      const encoder = scope.track(seal.CKKSEncoder(this.ec.ctx));
      for (const sample of samples) {
        for (let c = 0; c < layout.chunks; c++) {
          const slots = new Float64Array(encoder.slotCount);
          const from = c * layout.chunkLength;
          const to = Math.min(from + layout.chunkLength, layout.length);
          for (let i = from; i < to; i++) slots[i - from] = sample[i] as number;
          const plain = scope.track(seal.PlainText());
          encoder.encode(slots, 2 ** preset.scaleBits, plain);
          out.push(scope.track(this.encryptor.encryptSymmetricSerializable(plain)).saveArray(seal.ComprModeType.zstd));
        }
      }
    });
    return out;
  }

  /** Decrypt a job result to one number per sample (before any client-side finishing). */
  decryptResult(result: JobResult, layout: VectorLayout): number[] {
    if (result.preset !== this.preset.id)
      throw new InvalidInputError('key_mismatch', `the result was made under ${result.preset}, these keys are ${this.preset.id}`);
    const decoded = result.ciphertexts.map((bytes) => this.decryptRaw(bytes));
    const values: number[] = [];
    for (let s = 0; s < layout.samples; s++) {
      const { ciphertext, index } = resultPosition(layout, this.preset, s);
      const vec = decoded[ciphertext];
      if (!vec) throw new InvalidInputError('invalid_result', `the result has no ciphertext ${ciphertext}`);
      if (vec instanceof BigUint64Array) {
        const t = this.ec.plainModulus as bigint;
        values.push(fromFixed(centered(vec[index] ?? 0n, t), result.scaleBits));
      } else {
        values.push(vec[index] ?? NaN);
      }
    }
    return values;
  }

  /** Every coefficient (BFV) or slot (CKKS) of a ciphertext: for tests and debugging. */
  decryptRaw(bytes: Uint8Array): BigUint64Array | Float64Array {
    const { seal } = this;
    return withScope((scope) => {
      const ct = scope.track(seal.CipherText());
      ct.loadArray(this.ec.ctx, bytes);
      const plain = scope.track(this.decryptor.decrypt(ct) as ReturnType<Seal['PlainText']>);
      if (this.preset.encoding === 'coeff') return readCoefficients(seal, plain);
      return scope.track(seal.CKKSEncoder(this.ec.ctx)).decode(plain);
    });
  }

  /** Remaining noise budget of a BFV ciphertext, in bits: for tests and the benchmark. */
  noiseBudget(bytes: Uint8Array): number {
    return withScope((scope) => {
      const ct = scope.track(this.seal.CipherText());
      ct.loadArray(this.ec.ctx, bytes);
      return this.decryptor.invariantNoiseBudget(ct);
    });
  }

  dispose(): void {
    this.decryptor.delete();
    this.encryptor.delete();
    for (const o of this.extra) o.delete();
    this.secretKey.delete();
    this.ec.dispose();
  }
}
