import { SEAL_HEADER_BYTES } from '../../src/shared/seal-bytes.js';

// Hand-made SEAL byte streams, shared by seal-bytes.test.ts and ingress.test.ts (a helper, so
// importing them does not register seal-bytes.test.ts's suites a second time).

/** A SEAL header declaring `size` bytes in compression `mode`. */
export function sealHeader(mode: number, size: number): Buffer {
  const h = Buffer.alloc(SEAL_HEADER_BYTES);
  h.writeUInt16LE(0xa15e, 0);
  h.writeUInt8(16, 2);
  h.writeUInt8(4, 3);
  h.writeUInt8(1, 4);
  h.writeUInt8(mode, 5);
  h.writeBigUInt64LE(BigInt(size), 8);
  return h;
}

/**
 * A valid zstd frame of RLE blocks, 4 bytes each inflating to 128 KiB of zeros, declaring
 * `contentSize` (single segment), or no content size when null.
 */
export function zstdRleBomb(blocks: number, contentSize: number | null = blocks * 128 * 1024): Buffer {
  const head = contentSize === null ? Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x80]) : Buffer.alloc(9);
  if (contentSize !== null) {
    head.writeUInt32LE(0xfd2fb528, 0);
    head.writeUInt8(0xa0, 4); // 4-byte content size, single segment: what SEAL writes
    head.writeUInt32LE(contentSize, 5);
  }
  const body = Buffer.alloc(4 * blocks);
  for (let i = 0; i < blocks; i++) body.writeUIntLE(((128 * 1024) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0), 4 * i, 3);
  return Buffer.concat([head, body]);
}
