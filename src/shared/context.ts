import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.js';
import { buildContext, getPreset, plainModulus, presetParmsBytes, type Preset } from './params.js';
import type { CipherText, Seal, SealContext } from './seal.js';
import { parseWire, publicContextSchema, unpack, type PublicContext } from './wire.js';

/** Content address of a public context: the same bytes give the same id, on both sides. */
export function contextIdOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const secretKeyPresent = () =>
  new InvalidInputError(
    'secret_key_present',
    'the context carries secret-key material; send only public.ctx (veil keygen writes it) and keep secret.key on your side',
  );

/** True when `bytes` loads as a SEAL SecretKey under `ctx`: the one thing that must never arrive. */
function isSecretKey(seal: Seal, ctx: SealContext, bytes: Uint8Array): boolean {
  const sk = seal.SecretKey();
  try {
    sk.loadArray(ctx, bytes);
    return true;
  } catch {
    return false;
  } finally {
    sk.delete();
  }
}

/**
 * Everything a worker needs to evaluate under one owner's context. `dispose()` frees the WASM
 * objects; a context lives in a worker's cache until evicted.
 */
export interface EvalContext {
  contextId: string;
  preset: Preset;
  ctx: SealContext;
  galoisKeys?: ReturnType<Seal['GaloisKeys']>;
  /** The owner's public key: results are re-randomized with fresh encryptions of zero under it. */
  publicKey?: ReturnType<Seal['PublicKey']>;
  evaluator: ReturnType<Seal['Evaluator']>;
  /** BFV plaintext modulus t. */
  plainModulus?: bigint;
  dispose(): void;
}

/**
 * Parse and validate a public context: msgpack shape, no secret key anywhere, parameters exactly
 * those of a supported 128-bit preset, evaluation keys that load under them.
 */
export function loadPublicContext(seal: Seal, bytes: Uint8Array): EvalContext {
  const raw = unpack(bytes);
  if (raw && typeof raw === 'object' && Object.keys(raw).some((k) => /secret|private|^sk$/i.test(k))) {
    throw secretKeyPresent();
  }
  const parsed: PublicContext = parseWire(publicContextSchema, raw, 'public context');
  const preset = getPreset(parsed.preset);
  const expected = presetParmsBytes(seal, preset);
  // Compared byte by byte rather than with Buffer: the browser page loads contexts too.
  if (expected.length !== parsed.parms.length || expected.some((b, i) => b !== parsed.parms[i])) {
    throw new InvalidInputError(
      'unsupported_parameters',
      `the parameters are not those of preset ${preset.id}; veil accepts only its presets (all 128-bit secure): regenerate keys with veil keygen`,
      422,
    );
  }
  // One SEAL context per preset and process: building one costs ~400 ms, and the parameters were
  // just checked to be byte-identical to the preset's. Only the owner's keys are per context.
  const shared = presetContext(seal, preset);
  const { ctx } = shared;
  const publicKey = loadPublicKey(seal, ctx, parsed.publicKey);
  let galoisKeys: EvalContext['galoisKeys'];
  try {
    if (preset.scheme === 'ckks') {
      if (!parsed.galoisKeys) {
        throw new InvalidInputError('missing_galois_keys', `preset ${preset.id} needs Galois keys in the context`, 422);
      }
      galoisKeys = seal.GaloisKeys();
      try {
        galoisKeys.loadArray(ctx, parsed.galoisKeys);
      } catch {
        if (isSecretKey(seal, ctx, parsed.galoisKeys)) throw secretKeyPresent();
        throw new InvalidInputError('invalid_keys', 'galoisKeys do not load under the context parameters', 422);
      }
      for (const step of preset.galoisSteps) {
        if (!galoisKeys.hasKey(galoisElement(step, preset.polyModulusDegree))) {
          throw new InvalidInputError('invalid_keys', `galoisKeys lack the rotation by ${step}; regenerate with veil keygen`, 422);
        }
      }
    } else if (parsed.galoisKeys && isSecretKey(seal, ctx, parsed.galoisKeys)) {
      throw secretKeyPresent();
    }
  } catch (err) {
    galoisKeys?.delete();
    publicKey.delete();
    throw err;
  }
  const ec: EvalContext = {
    ...shared,
    contextId: contextIdOf(bytes),
    galoisKeys,
    publicKey,
    dispose() {
      galoisKeys?.delete();
      publicKey.delete();
      // Marks the context dead for anything still holding it (e.g. a scheduled pool refill).
      ec.publicKey = undefined;
    },
  };
  return ec;
}

/** The owner's public key must load as one (and must not be a secret key in disguise). */
function loadPublicKey(seal: Seal, ctx: SealContext, bytes: Uint8Array): ReturnType<Seal['PublicKey']> {
  const pk = seal.PublicKey();
  try {
    pk.loadArray(ctx, bytes);
    return pk;
  } catch {
    pk.delete();
    if (isSecretKey(seal, ctx, bytes)) throw secretKeyPresent();
    throw new InvalidInputError('invalid_keys', 'publicKey does not load under the context parameters', 422);
  }
}

/**
 * A context for a preset alone, without any owner's keys: enough to check that ciphertexts are
 * well-formed for the preset (the API does this before queueing). Cached for the process's life.
 */
const presetContexts = new Map<string, EvalContext>();
export function presetContext(seal: Seal, preset: Preset): EvalContext {
  let ec = presetContexts.get(preset.id);
  if (!ec) {
    const ctx = buildContext(seal, preset);
    const evaluator = seal.Evaluator(ctx);
    ec = {
      contextId: `preset:${preset.id}`,
      preset,
      ctx,
      evaluator,
      plainModulus: preset.scheme === 'bfv' ? plainModulus(seal, preset) : undefined,
      dispose() {},
    };
    presetContexts.set(preset.id, ec);
  }
  return ec;
}

/** SEAL's Galois element for a left rotation by `step` slots: 3^step mod 2N. */
export function galoisElement(step: number, n: number): number {
  const m = 2 * n;
  let g = 1;
  for (let i = 0; i < step; i++) g = (g * 3) % m;
  return g;
}

/**
 * Load one received ciphertext and check it is a fresh ciphertext for this context: SEAL's own
 * validity check, size 2, top level, the preset's form and scale. Returns a CipherText to delete.
 */
export function loadCiphertext(seal: Seal, ec: EvalContext, bytes: Uint8Array, label: string): CipherText {
  const ct = seal.CipherText();
  const bad = (why: string) => {
    ct.delete();
    return new InvalidInputError('invalid_ciphertext', `${label}: ${why}; encrypt with this context's keys (veil keygen) and send it unmodified`);
  };
  try {
    ct.loadArray(ec.ctx, bytes);
  } catch {
    throw bad('not a valid SEAL ciphertext for this context (truncated, corrupted, or made under other parameters)');
  }
  if (ct.size !== 2) throw bad(`has size ${ct.size}, expected a fresh ciphertext of size 2`);
  const firstParms = ec.ctx.firstParmsId;
  const ctParms = ct.parmsId;
  const sameLevel = firstParms.values.every((v: bigint, i: number) => v === ctParms.values[i]);
  firstParms.delete();
  ctParms.delete();
  if (!sameLevel) throw bad('is not at the top level of the context');
  // c1 = 0 ("transparent" in SEAL): the ciphertext is its plaintext in the clear, and SEAL refuses
  // every product with it. Circuit privacy does not rest on this check (see worker/privacy.ts).
  if (ct.isTransparent) throw bad('has an all-zero c1 (SEAL calls it transparent), which no encryption produces');
  if (ec.preset.scheme === 'ckks') {
    if (!ct.isNttForm) throw bad('is not in NTT form');
    if (Math.abs(Math.log2(ct.scale) - ec.preset.scaleBits) > 0.01) throw bad(`has scale 2^${Math.log2(ct.scale).toFixed(2)}, expected 2^${ec.preset.scaleBits}`);
  } else if (ct.isNttForm) {
    throw bad('is in NTT form; BFV inputs are not');
  }
  return ct;
}
