import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContext, getPreset, PRESET_IDS, type PresetId } from '../src/shared/params.js';
import { getSeal, SealScope, type Seal } from '../src/shared/seal.js';
import { readSealHeader, SEAL_HEADER_BYTES, SEAL_OBJECT_BYTES, sealObjectProblem, zstdContentBound, type SealObjectKind } from '../src/shared/seal-bytes.js';
import { sealHeader, zstdRleBomb } from './helpers/seal-bytes.js';

function withSealHeader(mode: number, payload: Buffer): Buffer {
  return Buffer.concat([sealHeader(mode, SEAL_HEADER_BYTES + payload.length), payload]);
}

describe.each(PRESET_IDS)('SEAL bytes of preset %s', (presetId: PresetId) => {
  let seal: Seal;
  const scope = new SealScope();
  const saved: Partial<Record<SealObjectKind, { none: Uint8Array; zstd: Uint8Array; seededNone: Uint8Array; seededZstd: Uint8Array; zlib: Uint8Array }>> = {};

  beforeAll(async () => {
    seal = await getSeal();
    const preset = getPreset(presetId);
    const ctx = scope.track(buildContext(seal, preset));
    const kg = scope.track(seal.KeyGenerator(ctx));
    const sk = scope.track(kg.secretKey());
    const pk = scope.track(kg.createPublicKey());
    const enc = scope.track(seal.Encryptor(ctx, pk, sk));
    const pt = scope.track(seal.PlainText());
    if (preset.scheme === 'ckks') scope.track(seal.CKKSEncoder(ctx)).encode(Float64Array.from([1, 2]), 2 ** 40, pt);
    else scope.track(seal.BatchEncoder(ctx)).encode(BigInt64Array.from([1n, 2n]), pt);
    const M = seal.ComprModeType;
    type Saver = { saveArray(m: typeof M.none): Uint8Array };
    const forms = (full: Saver, seeded: () => Saver) => {
      const s = scope.track(seeded() as Saver & { delete(): void });
      return {
        none: full.saveArray(M.none),
        zstd: full.saveArray(M.zstd),
        zlib: full.saveArray(M.zlib),
        seededNone: s.saveArray(M.none),
        seededZstd: s.saveArray(M.zstd),
      };
    };
    saved.ciphertext = forms(scope.track(enc.encrypt(pt)!), () => enc.encryptSymmetricSerializable(pt));
    saved.publicKey = forms(pk, () => kg.createPublicKeySerializable());
    saved.secretKey = forms(sk, () => sk);
    if (preset.scheme === 'ckks') {
      const steps = Int32Array.from(preset.galoisSteps);
      saved.galoisKeys = forms(scope.track(kg.createGaloisKeys(steps)), () => kg.createGaloisKeysSerializable(steps));
    }
  });
  afterAll(() => scope.dispose());

  it('pins the exact largest size of every object the preset uses', () => {
    const measured = Object.fromEntries(Object.entries(saved).map(([kind, f]) => [kind, f.none.length]));
    expect(measured).toEqual(SEAL_OBJECT_BYTES[presetId]);
  });

  it('accepts every honest form (none, zstd; seeded or not) and refuses zlib', () => {
    for (const [kind, f] of Object.entries(saved)) {
      const max = SEAL_OBJECT_BYTES[presetId][kind as SealObjectKind]!;
      for (const form of [f.none, f.zstd, f.seededNone, f.seededZstd]) expect(sealObjectProblem(form, max)).toBeNull();
      expect(sealObjectProblem(f.zlib, max)).toMatch(/compression mode 1/);
    }
  });

  it('refuses trailing bytes, truncation, a bigger declared size, another version', () => {
    const ct = saved.ciphertext!.seededZstd;
    const max = SEAL_OBJECT_BYTES[presetId].ciphertext!;
    expect(sealObjectProblem(Buffer.concat([ct, Buffer.from([0])]), max)).toMatch(/1 bytes follow/);
    expect(sealObjectProblem(Buffer.concat([ct, saved.secretKey!.zstd]), max)).toMatch(/bytes follow/);
    expect(sealObjectProblem(ct.subarray(0, ct.length - 1), max)).toMatch(/truncated/);
    // A public key is larger than a ciphertext: exactly its size is over the ciphertext's limit.
    expect(sealObjectProblem(saved.publicKey!.none, max)).toMatch(/exceeds/);
    const v = Buffer.from(ct);
    v[3] = 3;
    expect(sealObjectProblem(v, max)).toMatch(/version 3\.1/);
  });
});

describe('compression bombs', () => {
  const max = SEAL_OBJECT_BYTES['bfv-coeff-8192'].ciphertext!;

  it("bounds zstd by the declared content size: up to the object's size passes, one byte more does not", () => {
    const inner = max - SEAL_HEADER_BYTES;
    expect(zstdContentBound(zstdRleBomb(4, inner))).toBe(inner);
    expect(sealObjectProblem(withSealHeader(2, zstdRleBomb(4, inner)), max)).toBeNull();
    expect(sealObjectProblem(withSealHeader(2, zstdRleBomb(4, inner + 1)), max)).toMatch(/declares 524386 bytes/);
    // No content size: the decoder would inflate all of it (400 KB of headers → 12.5 GiB).
    expect(sealObjectProblem(withSealHeader(2, zstdRleBomb(100_000, null)), max)).toMatch(/does not declare its content size/);
    // Raw and RLE blocks alone regenerating more than declared.
    expect(zstdContentBound(zstdRleBomb(5, 4 * 128 * 1024))).toMatch(/more than the declared/);
  });

  it('refuses a zlib stream without inflating it', () => {
    const bomb = withSealHeader(1, deflateSync(Buffer.alloc(64 * 2 ** 20)));
    expect(bomb.length).toBeLessThan(max);
    expect(sealObjectProblem(bomb, max)).toMatch(/compression mode 1/);
  });

  it('refuses what is not a zstd frame, skippable frames and dictionaries', () => {
    expect(zstdContentBound(Buffer.from('not zstd at all'))).toBe('not a zstd frame');
    const skippable = Buffer.alloc(16);
    skippable.writeUInt32LE(0x184d2a50, 0);
    expect(zstdContentBound(skippable)).toBe('not a zstd frame');
    const dict = zstdRleBomb(1);
    dict[4] = 0xa1;
    expect(zstdContentBound(dict)).toBe('dictionaries are not accepted');
    expect(zstdContentBound(zstdRleBomb(2).subarray(0, 11))).toMatch(/truncated/);
    expect(zstdContentBound(Buffer.concat([zstdRleBomb(1), zstdRleBomb(1)]))).toBe('bytes after the frame');
  });

  it('reads headers: short, bad magic, absurd size', () => {
    expect(readSealHeader(Buffer.alloc(3))).toMatch(/shorter/);
    expect(readSealHeader(Buffer.alloc(16))).toMatch(/magic/);
    const h = sealHeader(0, 0);
    h.writeBigUInt64LE(2n ** 63n, 8);
    expect(readSealHeader(h)).toMatch(/absurd/);
  });
});
