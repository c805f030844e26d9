import type { JsonModel } from '../../src/shared/model.js';
import { gzipSync } from 'node:zlib';
import { generateKeys, Owner } from '../../src/producer/crypto.js';
import { buildContext, getPreset, presetParmsBytes } from '../../src/shared/params.js';
import { getSeal, withScope } from '../../src/shared/seal.js';
import { unpack, WIRE_VERSION } from '../../src/shared/wire.js';
import { COMPR, gzipScoringBomb, sealObject, zlibZeros, zstdZeros } from '../lib/seal-bytes.js';

/** The seed tutorial's model and genotype: an honest job must give score −0.03 after the fuzz. */
export const SEED_MODEL = {
  id: 'seed-grs',
  name: 'Seed tutorial GRS (5 SNPs, logistic)',
  weights: [0.15, -0.02, 0.45, 0.12, -0.05],
  bias: -1.2,
  link: 'logistic',
} satisfies JsonModel;
export const SEED_GENOTYPE = [1, 0, 2, 1, 0];
export const SEED_SCORE = -0.03;

/**
 * Valid bytes the hostile cases start from, made once: a real key pair (the fuzzer is a data owner
 * with its own keys), honest ciphertexts, and the raw secret key an attacker tries to smuggle in.
 */
export interface Materials {
  owner: Owner;
  publicContext: Buffer;
  /** The context as a map, to rebuild it with fields swapped. */
  contextFields: { v: number; type: string; preset: string; parms: Uint8Array; publicKey: Uint8Array };
  secretKeyFile: Buffer;
  /** SEAL SecretKey serialization (zstd), as in secret.key. */
  secretKey: Buffer;
  /** A CKKS public context without Galois keys, to attach hostile ones to. */
  ckksContextFields: { v: number; type: string; preset: string; parms: Uint8Array; publicKey: Uint8Array };
  /** The seed genotype, encrypted (seeded, zstd) and re-saved whole and uncompressed. */
  grsCiphertext: Buffer;
  grsCiphertextPlain: Buffer;
  grsScaleBits: number;
  grsValueBits: number;
  bombs: { zlib: Buffer; zstd: Buffer; zstdDeclared: Buffer; gzipScoring: Buffer; gzipBody: Buffer };
  polyModulusDegree: number;
}

export async function makeMaterials(opts: { bombMiB: number; scoringBombRows: number }): Promise<Materials> {
  const seal = await getSeal();
  const keys = await generateKeys();
  const owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
  const enc = owner.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' });
  const grsCiphertext = Buffer.from(enc.ciphertexts[0]!);
  const grsCiphertextPlain = withScope((scope) => {
    const ct = scope.track(seal.CipherText());
    ct.loadArray(owner.ec.ctx, grsCiphertext);
    return Buffer.from(ct.saveArray(seal.ComprModeType.none));
  });
  const skFile = unpack(keys.secretKeyFile) as { secretKey: Uint8Array };
  const ckks = getPreset('ckks-slots-8192');
  // Only a CKKS public key: its Galois keys are what the hostile cases replace.
  const ckksPublicKey = withScope((scope) => {
    const ctx = scope.track(buildContext(seal, ckks));
    const kg = scope.track(seal.KeyGenerator(ctx));
    return Buffer.from(scope.track(kg.createPublicKeySerializable()).saveArray(seal.ComprModeType.zstd));
  });
  const zlib = await zlibZeros(opts.bombMiB);
  return {
    owner,
    publicContext: Buffer.from(keys.publicContext),
    contextFields: unpack(keys.publicContext) as Materials['contextFields'],
    secretKeyFile: Buffer.from(keys.secretKeyFile),
    secretKey: Buffer.from(skFile.secretKey),
    ckksContextFields: { v: WIRE_VERSION, type: 'veil/public-context', preset: ckks.id, parms: presetParmsBytes(seal, ckks), publicKey: ckksPublicKey },
    grsCiphertext,
    grsCiphertextPlain,
    grsScaleBits: enc.scaleBits,
    grsValueBits: enc.valueBits,
    bombs: {
      zlib: sealObject(COMPR.zlib, zlib),
      zstd: sealObject(COMPR.zstd, zstdZeros(opts.bombMiB)),
      zstdDeclared: sealObject(COMPR.zstd, zstdZeros(opts.bombMiB, true)),
      gzipScoring: gzipScoringBomb(opts.scoringBombRows),
      // HTTP Content-Encoding: gzip on any body: body parsers inflate before they count.
      gzipBody: gzipBodyBomb(opts.bombMiB),
    },
    polyModulusDegree: owner.preset.polyModulusDegree,
  };
}

/** `mib` MiB of spaces as concatenated gzip members (cheap to make; legal JSON whitespace). */
function gzipBodyBomb(mib: number): Buffer {
  const member = gzipSync(Buffer.alloc(2 ** 20, 0x20), { level: 9 });
  return Buffer.concat(Array.from({ length: mib }, () => member));
}
