import { createDeflate, gzipSync } from 'node:zlib';

/**
 * Hand-made SEAL serializations: what an attacker with a hex editor sends. A SEAL object starts
 * with a 16-byte header — magic 0xA15E, header size 16, version major.minor, compression mode
 * (0 none, 1 zlib, 2 zstd), 2 reserved bytes, then the total size (uint64 LE) — and the body
 * follows, compressed as the header says.
 */
export const SEAL_HEADER_BYTES = 16;
export const COMPR = { none: 0, zlib: 1, zstd: 2 } as const;

export function sealHeader(compr: number, totalSize: bigint, version: [number, number] = [4, 1]): Buffer {
  const h = Buffer.alloc(SEAL_HEADER_BYTES);
  h.writeUInt16LE(0xa15e, 0);
  h.writeUInt8(SEAL_HEADER_BYTES, 2);
  h.writeUInt8(version[0], 3);
  h.writeUInt8(version[1], 4);
  h.writeUInt8(compr, 5);
  h.writeBigUInt64LE(totalSize, 8);
  return h;
}

/** `body` behind a header that declares its true size (or `declared`, to lie about it). */
export function sealObject(compr: number, body: Uint8Array, declared?: bigint): Buffer {
  return Buffer.concat([sealHeader(compr, declared ?? BigInt(SEAL_HEADER_BYTES + body.length)), body]);
}

/** A copy of `bytes` with its header's declared size replaced. */
export function withDeclaredSize(bytes: Uint8Array, size: bigint): Buffer {
  const out = Buffer.from(bytes);
  out.writeBigUInt64LE(size, 8);
  return out;
}

/** A zlib stream that inflates to `mib` MiB of zeros (~1 KB per MiB: zlib's best ratio). */
export async function zlibZeros(mib: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9, memLevel: 9 });
  const chunks: Buffer[] = [];
  deflate.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => deflate.on('end', r));
  const zeros = Buffer.alloc(2 ** 20);
  for (let i = 0; i < mib; i++) if (!deflate.write(zeros)) await new Promise((r) => deflate.once('drain', r));
  deflate.end();
  await ended;
  return Buffer.concat(chunks);
}

/**
 * A zstd frame of `mib` MiB of zeros built from RLE blocks (4 bytes per 128 KiB): 1 GiB in 32 KB.
 * `declareContentSize` also states the size in the frame header, as a bomb that does not hide.
 */
export function zstdZeros(mib: number, declareContentSize = false): Buffer {
  const blockSize = 128 * 1024;
  const blocks = (mib * 2 ** 20) / blockSize;
  const parts: Buffer[] = [];
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(0xfd2fb528);
  parts.push(magic);
  // Frame header descriptor: FCS field of 8 bytes (flag 3) or none; a window of 128 KiB.
  parts.push(Buffer.from([declareContentSize ? 0xc0 : 0x00, 0x38]));
  if (declareContentSize) {
    const fcs = Buffer.alloc(8);
    fcs.writeBigUInt64LE(BigInt(mib) * 2n ** 20n);
    parts.push(fcs);
  }
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1 ? 1 : 0;
    const header = last | (1 << 1) | (blockSize << 3); // block type 1 = RLE
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x00]));
  }
  return Buffer.concat(parts);
}

/**
 * A PGS scoring file that gzips to little and inflates to `rows` rows: gzip members of identical
 * rows concatenated (gunzip reads every member), so it costs almost nothing to make.
 */
export function gzipScoringBomb(rows: number): Buffer {
  const perMember = 100_000;
  const head = gzipSync('#pgs_id=PGS_BOMB\nrsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n');
  const member = gzipSync('rs1\t1\t1000\tA\tG\t0.01\n'.repeat(perMember), { level: 9 });
  return Buffer.concat([head, ...Array.from({ length: Math.ceil(rows / perMember) }, () => member)]);
}

/**
 * Layout of an uncompressed SEAL ciphertext (SEAL 4.1): header, parms_id (4 × uint64),
 * is_ntt_form (1 byte), size, poly_modulus_degree, coeff_modulus_size (uint64 each), scale
 * (double), correction_factor (uint64), then the coefficients as a nested SEAL object: header,
 * count (uint64), count × uint64 — c0 then c1, each N × k.
 */
export const CT_PARMS_ID_AT = SEAL_HEADER_BYTES;
export const CT_SIZE_AT = CT_PARMS_ID_AT + 32 + 1;
const CT_DATA_AT = CT_SIZE_AT + 8 * 5 + SEAL_HEADER_BYTES;

export function ctCoefficientCount(ct: Uint8Array): bigint {
  return Buffer.from(ct.buffer, ct.byteOffset, ct.byteLength).readBigUInt64LE(CT_DATA_AT);
}

/** A copy of an uncompressed 2-part ciphertext with c1 all zero: "transparent", decryptable by anyone. */
export function zeroC1(ct: Uint8Array): Buffer {
  const out = Buffer.from(ct);
  const count = Number(ctCoefficientCount(out));
  out.fill(0, out.length - (count / 2) * 8);
  return out;
}

/** A copy with c1 set to the constant polynomial `value` in every RNS component. */
export function constantC1(ct: Uint8Array, value: bigint, n: number): Buffer {
  const out = Buffer.from(ct);
  const count = Number(ctCoefficientCount(out));
  const c1At = out.length - (count / 2) * 8;
  out.fill(0, c1At);
  for (let k = 0; k < count / 2 / n; k++) out.writeBigUInt64LE(value, c1At + k * n * 8);
  return out;
}
