import { InvalidInputError } from './errors.js';
import { buildContext, plainModulus, type Preset } from './params.js';
import { contextIdOf, readPublicContext } from './public-context.js';
import type { CipherText, Seal, SealContext } from './seal.js';
import { SEAL_OBJECT_BYTES, sealObjectProblem } from './seal-bytes.js';

export { contextIdOf, galoisElement } from './public-context.js';

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
 * Parse and validate a public context (see public-context.ts: bounded, no secret key anywhere,
 * parameters exactly those of a supported 128-bit preset, evaluation keys that load under them).
 */
export function loadPublicContext(seal: Seal, bytes: Uint8Array): EvalContext {
  // One SEAL context per preset and process: building one costs ~400 ms, and the parameters are
  // checked to be byte-identical to the preset's. Only the owner's keys are per context.
  const loaded = readPublicContext(seal, bytes, (preset) => presetContext(seal, preset).ctx);
  const { galoisKeys, publicKey } = loaded;
  const ec: EvalContext = {
    ...presetContext(seal, loaded.preset),
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

/**
 * A context for a preset alone, without any owner's keys: enough to check that ciphertexts are
 * well-formed for the preset (the API does this before queueing). Cached for the instance's life.
 */
const presetContexts = new WeakMap<Seal, Map<string, EvalContext>>();
export function presetContext(seal: Seal, preset: Preset): EvalContext {
  // Per SEAL instance: a thread that replaces its instance (freshSeal) builds them again.
  let contexts = presetContexts.get(seal);
  if (!contexts) presetContexts.set(seal, (contexts = new Map()));
  let ec = contexts.get(preset.id);
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
    contexts.set(preset.id, ec);
  }
  return ec;
}

export const invalidCiphertext = (label: string, why: string) =>
  new InvalidInputError('invalid_ciphertext', `${label}: ${why}; encrypt with this context's keys (veil keygen) and send it unmodified`);

/** Refusals of ciphertexts SEAL loaded and validated without error (wrong size, level, form …). */
const refusedAfterCleanLoad = new WeakSet<object>();

/**
 * True when `err` refused a ciphertext that SEAL had loaded cleanly: SEAL's validity checks
 * passed, exactly as for an accepted one, so its instance is no more suspect than after an
 * accepted input (validation-thread.ts keeps it; after any other SEAL refusal it is replaced).
 */
export function refusedAfterLoad(err: unknown): boolean {
  return typeof err === 'object' && err !== null && refusedAfterCleanLoad.has(err);
}

/**
 * Load one received ciphertext and check it is a fresh ciphertext for this context: SEAL's own
 * validity check, size 2, top level, the preset's form and scale. Returns a CipherText to delete.
 */
export function loadCiphertext(seal: Seal, ec: EvalContext, bytes: Uint8Array, label: string): CipherText {
  const ct = seal.CipherText();
  let loaded = false;
  const bad = (why: string) => {
    ct.delete();
    const err = invalidCiphertext(label, why);
    if (loaded) refusedAfterCleanLoad.add(err);
    return err;
  };
  const why = sealObjectProblem(bytes, SEAL_OBJECT_BYTES[ec.preset.id].ciphertext!);
  if (why !== null) throw bad(why);
  try {
    ct.loadArray(ec.ctx, bytes);
  } catch {
    throw bad('not a valid SEAL ciphertext for this context (truncated, corrupted, or made under other parameters)');
  }
  loaded = true;
  if (ct.size !== 2) throw bad(`has size ${ct.size}, expected a fresh ciphertext of size 2`);
  // c1 = 0 makes the ciphertext a plaintext in disguise: results computed on it leak the weights.
  if (ct.isTransparent) throw bad('is transparent (its c1 is zero)');
  const firstParms = ec.ctx.firstParmsId;
  const ctParms = ct.parmsId;
  const sameLevel = firstParms.values.every((v: bigint, i: number) => v === ctParms.values[i]);
  firstParms.delete();
  ctParms.delete();
  if (!sameLevel) throw bad('is not at the top level of the context');
  if (ec.preset.scheme === 'ckks') {
    if (!ct.isNttForm) throw bad('is not in NTT form');
    if (Math.abs(Math.log2(ct.scale) - ec.preset.scaleBits) > 0.01)
      throw bad(`has scale 2^${Math.log2(ct.scale).toFixed(2)}, expected 2^${ec.preset.scaleBits}`);
  } else if (ct.isNttForm) {
    throw bad('is in NTT form; BFV inputs are not');
  }
  return ct;
}
