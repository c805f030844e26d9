import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.js';
import { unpackChecked } from './msgpack-bounds.js';
import { getPreset, PRESET_IDS, PRESETS, presetParmsBytes, type Preset } from './params.js';
import type { Seal, SealContext } from './seal.js';
import { COMPR_ZSTD, readSealHeader, SEAL_HEADER_BYTES, SEAL_OBJECT_BYTES, sealObjectProblem, zstdContentBound } from './seal-bytes.js';
import { pack, parseWire, publicContextSchema, WIRE_VERSION } from './wire.js';

/**
 * Reading an untrusted public context, and its canonical form: the bytes veil stores are written
 * here from SEAL's loaded objects (parameters, public key, and Galois keys only where the preset
 * rotates), so nothing the sender appended, duplicated or hid in another field is ever stored.
 */

/** A public context is one flat map. */
const CONTEXT_MAX_DEPTH = 1;
const FIELDS = new Set(['v', 'type', 'preset', 'parms', 'publicKey', 'galoisKeys']);

export type PublicKey = ReturnType<Seal['PublicKey']>;
export type GaloisKeys = ReturnType<Seal['GaloisKeys']>;

/** The loaded keys of a checked context. The caller deletes them (`dispose`). */
export interface LoadedContext {
  preset: Preset;
  publicKey: PublicKey;
  galoisKeys?: GaloisKeys;
  dispose(): void;
}

/** The SEAL context of a preset; context.ts's per-process cache (passed in to keep imports one-way). */
export type PresetContextOf = (preset: Preset) => SealContext;

export const secretKeyPresent = () =>
  new InvalidInputError(
    'secret_key_present',
    'the context carries secret-key material; send only public.ctx (veil keygen writes it) and keep secret.key on your side',
  );

/**
 * Check and load a public context: bounded MessagePack (no duplicate keys), known fields only
 * and only those the preset uses, parameters byte-identical to a preset's, every SEAL object's
 * header and sizes checked before SEAL expands it, keys that load. A refused body that holds a
 * SEAL secret key anywhere is refused as `secret_key_present`.
 */
export function readPublicContext(seal: Seal, bytes: Uint8Array, contextOf: PresetContextOf): LoadedContext {
  try {
    return readUnchecked(seal, bytes, contextOf);
  } catch (err) {
    if (err instanceof InvalidInputError && err.code !== 'secret_key_present' && holdsSecretKey(seal, bytes, contextOf)) throw secretKeyPresent();
    throw err;
  }
}

function readUnchecked(seal: Seal, bytes: Uint8Array, contextOf: PresetContextOf): LoadedContext {
  const raw = unpackChecked(bytes, CONTEXT_MAX_DEPTH);
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    if (keys.some((k) => /secret|private|^sk$/i.test(k))) throw secretKeyPresent();
    const unknown = keys.find((k) => !FIELDS.has(k));
    if (unknown)
      throw new InvalidInputError('unknown_field', `public context: unknown field '${unknown.slice(0, 64)}'; a context has ${[...FIELDS].join(', ')}`);
  }
  const parsed = parseWire(publicContextSchema, raw, 'public context');
  const preset = getPreset(parsed.preset);
  if (preset.scheme !== 'ckks' && parsed.galoisKeys) {
    throw new InvalidInputError('unexpected_field', `public context: preset ${preset.id} does not rotate, so its context has no galoisKeys`);
  }
  if (!sameBytes(presetParmsBytes(seal, preset), parsed.parms)) {
    throw new InvalidInputError(
      'unsupported_parameters',
      `the parameters are not those of preset ${preset.id}; veil accepts only its presets (all 128-bit secure): regenerate keys with veil keygen`,
      422,
    );
  }
  const ctx = contextOf(preset);
  const publicKey = loadChecked(seal.PublicKey(), ctx, parsed.publicKey, preset, 'publicKey');
  let galoisKeys: GaloisKeys | undefined;
  try {
    if (preset.scheme === 'ckks') {
      if (!parsed.galoisKeys) throw new InvalidInputError('missing_galois_keys', `preset ${preset.id} needs Galois keys in the context`, 422);
      galoisKeys = loadChecked(seal.GaloisKeys(), ctx, parsed.galoisKeys, preset, 'galoisKeys');
      for (const step of preset.galoisSteps) {
        if (!galoisKeys.hasKey(galoisElement(step, preset.polyModulusDegree))) {
          throw new InvalidInputError('invalid_keys', `galoisKeys lack the rotation by ${step}; regenerate with veil keygen`, 422);
        }
      }
    }
  } catch (err) {
    publicKey.delete();
    galoisKeys?.delete();
    throw err;
  }
  return {
    preset,
    publicKey,
    galoisKeys,
    dispose() {
      publicKey.delete();
      galoisKeys?.delete();
    },
  };
}

/** Load one key object after checking its bytes; deletes `obj` when it does not load. */
function loadChecked<T extends PublicKey | GaloisKeys>(obj: T, ctx: SealContext, bytes: Uint8Array, preset: Preset, field: 'publicKey' | 'galoisKeys'): T {
  const why = sealObjectProblem(bytes, SEAL_OBJECT_BYTES[preset.id][field]!);
  try {
    if (why !== null) {
      if (/ bytes follow /.test(why)) throw new InvalidInputError('trailing_bytes', `${field}: ${why}; send the key exactly as SEAL saved it`);
      throw new InvalidInputError('invalid_keys', `${field}: ${why}`, 422);
    }
    try {
      obj.loadArray(ctx, bytes);
    } catch {
      throw new InvalidInputError('invalid_keys', `${field} does not load under the context parameters`, 422);
    }
    return obj;
  } catch (err) {
    obj.delete();
    throw err;
  }
}

/** The canonical bytes of a loaded context and their content address. */
export function canonicalBytes(seal: Seal, loaded: LoadedContext): { contextId: string; bytes: Uint8Array } {
  const { preset } = loaded;
  const bytes = pack({
    v: WIRE_VERSION,
    type: 'veil/public-context',
    preset: preset.id,
    parms: presetParmsBytes(seal, preset),
    publicKey: loaded.publicKey.saveArray(seal.ComprModeType.zstd),
    ...(loaded.galoisKeys ? { galoisKeys: loaded.galoisKeys.saveArray(seal.ComprModeType.zstd) } : {}),
  });
  return { contextId: contextIdOf(bytes), bytes };
}

/** Check an untrusted context and return what veil stores for it. */
export function canonicalContext(seal: Seal, bytes: Uint8Array, contextOf: PresetContextOf): { contextId: string; bytes: Uint8Array; preset: Preset } {
  const loaded = readPublicContext(seal, bytes, contextOf);
  try {
    return { ...canonicalBytes(seal, loaded), preset: loaded.preset };
  } finally {
    loaded.dispose();
  }
}

/** Content address of a public context: the same bytes give the same id, on both sides. */
export function contextIdOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** SEAL's Galois element for a left rotation by `step` slots: 3^step mod 2N. */
export function galoisElement(step: number, n: number): number {
  const m = 2 * n;
  let g = 1;
  for (let i = 0; i < step; i++) g = (g * 3) % m;
  return g;
}

/** SEAL headers start 5E A1 10 04 01: magic, header size 16, version 4.1. */
const SEAL_HEADER_PREFIX = [0x5e, 0xa1, 0x10, 0x04, 0x01];
/** Candidates tried per body: a random 5-byte match is a 2^-40 event, so honest bodies have ~none. */
const MAX_SECRET_PROBES = 16;

/**
 * True when a SEAL secret key of some preset sits anywhere in `bytes` (after a prefix byte, in
 * a nested secret.key file, after a public key). Only candidates whose header passes the
 * size checks are loaded, so the probe is as bounded as the rest.
 */
export function holdsSecretKey(seal: Seal, bytes: Uint8Array, contextOf: PresetContextOf): boolean {
  const buf = bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let probes = 0;
  for (let at = indexOfPrefix(buf, 0); at >= 0 && probes < MAX_SECRET_PROBES; at = indexOfPrefix(buf, at + 1)) {
    probes++;
    if (at + 16 > buf.length) break;
    const declared = Number(view.getBigUint64(at + 8, true));
    if (declared > buf.length - at) continue;
    const candidate = buf.subarray(at, at + declared);
    for (const id of PRESET_IDS) {
      const max = SEAL_OBJECT_BYTES[id].secretKey!;
      // A secret key has one size (no seeded form); SEAL aborts its WASM instance on some other
      // objects loaded as one (measured: EncryptionParameters), so only that size is tried.
      if (sealObjectProblem(candidate, max) !== null || innerSize(candidate) !== max - SEAL_HEADER_BYTES) continue;
      const sk = seal.SecretKey();
      try {
        sk.loadArray(contextOf(PRESETS[id]), candidate);
        return true;
      } catch {
        // not a secret key of this preset
      } finally {
        sk.delete();
      }
    }
  }
  return false;
}

/** Bytes a checked SEAL object holds after its header, uncompressed. */
function innerSize(bytes: Uint8Array): number | string {
  const header = readSealHeader(bytes);
  if (typeof header === 'string') return header;
  return header.comprMode === COMPR_ZSTD ? zstdContentBound(bytes.subarray(SEAL_HEADER_BYTES)) : header.size - SEAL_HEADER_BYTES;
}

/** Plain Uint8Array helpers: this module also runs in the browser page, which has no Buffer. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function indexOfPrefix(bytes: Uint8Array, from: number): number {
  const [first] = SEAL_HEADER_PREFIX;
  for (let at = bytes.indexOf(first!, from); at >= 0; at = bytes.indexOf(first!, at + 1)) {
    if (SEAL_HEADER_PREFIX.every((b, k) => bytes[at + k] === b)) return at;
  }
  return -1;
}
