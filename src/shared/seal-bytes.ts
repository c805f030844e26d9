import type { PresetId } from './params.js';

/**
 * SEAL's serialization format, read without SEAL, so untrusted bytes are bounded before
 * `loadArray` expands them. SEAL decompresses a whole object before checking any of it: a 1.5 MB
 * zlib stream that inflates to 1 GiB grows the WASM heap to 1 GiB, and WASM memory never shrinks.
 *
 * Header (16 bytes, little-endian): magic u16 0xA15E, header size u8 (16), version major u8,
 * minor u8, compression mode u8, reserved u16 (0), total size u64 (header included).
 */
export const SEAL_MAGIC = 0xa15e;
export const SEAL_HEADER_BYTES = 16;
/** node-seal 6.0.3 is SEAL 4.1: the only version that writes what veil reads. */
export const SEAL_VERSION = { major: 4, minor: 1 } as const;

export const COMPR_NONE = 0;
export const COMPR_ZLIB = 1;
export const COMPR_ZSTD = 2;

export interface SealHeader {
  comprMode: number;
  /** Declared total size, header included. */
  size: number;
}

export type SealObjectKind = 'ciphertext' | 'publicKey' | 'galoisKeys' | 'secretKey';

/**
 * The largest valid serialization (compression none, unseeded) of each object a preset uses:
 * measured with node-seal 6.0.3 and pinned by test/seal-bytes.test.ts. A fresh ciphertext is
 * 2 polynomials at the data level; keys are at the key level (one more prime); Galois keys are
 * the rotations of `galoisSteps`. Seeded and compressed forms are smaller.
 */
export const SEAL_OBJECT_BYTES: Record<PresetId, Partial<Record<SealObjectKind, number>>> = {
  'bfv-coeff-8192': { ciphertext: 524_401, publicKey: 655_473, secretKey: 327_768 },
  'ckks-slots-8192': { ciphertext: 393_329, publicKey: 524_401, galoisKeys: 18_944_028, secretKey: 262_232 },
};

/** zstd's largest block (RFC 8878 §3.1.1.2.4). */
const ZSTD_BLOCK_MAX = 128 * 1024;

/** The header of a SEAL serialization, or why `bytes` is not one. */
export function readSealHeader(bytes: Uint8Array): SealHeader | string {
  if (bytes.length < SEAL_HEADER_BYTES) return `${bytes.length} bytes is shorter than a SEAL header`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEAL_HEADER_BYTES);
  if (view.getUint16(0, true) !== SEAL_MAGIC) return 'not a SEAL serialization (bad magic)';
  if (view.getUint8(2) !== SEAL_HEADER_BYTES) return 'bad SEAL header size';
  const major = view.getUint8(3);
  const minor = view.getUint8(4);
  if (major !== SEAL_VERSION.major || minor !== SEAL_VERSION.minor) {
    return `SEAL serialization version ${major}.${minor}; expected ${SEAL_VERSION.major}.${SEAL_VERSION.minor} (node-seal 6)`;
  }
  const comprMode = view.getUint8(5);
  if (view.getUint16(6, true) !== 0) return 'reserved SEAL header bytes are not zero';
  const size = view.getBigUint64(8, true);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) return 'declared size is absurd';
  return { comprMode, size: Number(size) };
}

/**
 * Why `bytes` cannot be a SEAL object of at most `maxBytes` (its uncompressed, unseeded size),
 * or null when it may be. Checks the header, that the declared size is the byte count exactly
 * (nothing appended), the compression mode (none or zstd: SEAL's zlib cannot be bounded without
 * inflating it, and veil's clients never write it), and for zstd the frame's declared content
 * size, which the decoder enforces. Cost: O(blocks), no decompression.
 */
export function sealObjectProblem(bytes: Uint8Array, maxBytes: number): string | null {
  const header = readSealHeader(bytes);
  if (typeof header === 'string') return header;
  if (header.size !== bytes.length) {
    return header.size < bytes.length
      ? `${bytes.length - header.size} bytes follow the SEAL object (declared ${header.size})`
      : `truncated: declared ${header.size} bytes, got ${bytes.length}`;
  }
  if (header.size > maxBytes) return `declared size ${header.size} exceeds ${maxBytes}, the largest this object can be`;
  const body = bytes.subarray(SEAL_HEADER_BYTES);
  const innerMax = maxBytes - SEAL_HEADER_BYTES;
  if (header.comprMode === COMPR_NONE) return null;
  if (header.comprMode !== COMPR_ZSTD) {
    return `compression mode ${header.comprMode} is not accepted; save with ComprModeType.zstd or none`;
  }
  const bound = zstdContentBound(body);
  if (typeof bound === 'string') return `zstd: ${bound}`;
  if (bound > innerMax) {
    return `zstd stream declares ${bound} bytes; this object is at most ${innerMax}`;
  }
  return null;
}

/**
 * What one zstd frame declares it decompresses to, or why it is not a frame veil accepts. SEAL
 * writes one single-segment frame with its Frame_Content_Size, and libzstd stops a stream that
 * regenerates more than that (measured: a 100 MB RLE frame declaring 512 KB fails after +7 MB
 * RSS; the same frame without a content size grew the WASM heap by 537 MB). So the declared
 * content size is required and is the bound; frames without one, several frames, skippable
 * frames and dictionaries are refused. Block headers are walked to check the frame's extent.
 */
export function zstdContentBound(frame: Uint8Array): number | string {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 6) return 'truncated frame header';
  if (view.getUint32(0, true) !== 0xfd2fb528) return 'not a zstd frame';
  const descriptor = view.getUint8(4);
  let at = 5;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  if (descriptor & 0x08) return 'reserved frame header bit set';
  if (descriptor & 0x03) return 'dictionaries are not accepted';
  if (fcsFlag === 0 && !singleSegment) return 'the frame does not declare its content size';
  if (!singleSegment) at += 1; // window descriptor
  const fcsBytes = [1, 2, 4, 8][fcsFlag] as number;
  if (at + fcsBytes > frame.length) return 'truncated frame header';
  const contentSize =
    fcsBytes === 1
      ? view.getUint8(at)
      : fcsBytes === 2
        ? view.getUint16(at, true) + 256
        : fcsBytes === 4
          ? view.getUint32(at, true)
          : Number(view.getBigUint64(at, true));
  at += fcsBytes;
  let literal = 0;
  for (let last = 0; !last;) {
    if (at + 3 > frame.length) return 'truncated block header';
    const word = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getUint8(at + 2) << 16);
    at += 3;
    last = word & 1;
    const type = (word >> 1) & 3;
    const size = word >>> 3;
    if (size > ZSTD_BLOCK_MAX) return 'block larger than 128 KiB';
    if (type === 3) return 'reserved block type';
    if (type !== 2) literal += size; // raw and RLE blocks regenerate exactly their size
    at += type === 1 ? 1 : size;
    if (at > frame.length) return 'truncated block';
  }
  at += (descriptor >> 2) & 1 ? 4 : 0; // content checksum
  if (at > frame.length) return 'truncated frame';
  if (at < frame.length) return 'bytes after the frame';
  if (literal > contentSize) return 'blocks regenerate more than the declared content size';
  return contentSize;
}
