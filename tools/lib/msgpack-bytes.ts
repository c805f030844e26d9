import { pack } from '../../src/shared/wire.js';
import type { Rng } from './rng.js';

/**
 * MessagePack that no well-behaved encoder writes: duplicate keys, absurd nesting, and headers
 * that declare far more elements or bytes than follow.
 */

/** A map written pair by pair, so a key may appear twice (the later one wins in most decoders). */
export function mapWithPairs(pairs: [string, unknown][]): Buffer {
  const n = pairs.length;
  const head = n < 16 ? Buffer.from([0x80 | n]) : Buffer.from([0xde, n >> 8, n & 0xff]);
  return Buffer.concat([head, ...pairs.flatMap(([k, v]) => [pack(k), pack(v)])]);
}

/** `depth` nested one-element arrays (or maps) around nil. */
export function deepNesting(depth: number, kind: 'array' | 'map'): Buffer {
  const open = kind === 'array' ? Buffer.from([0x91]) : Buffer.from([0x81, 0xa1, 0x61]);
  return Buffer.concat([Buffer.alloc(depth * open.length).fill(open), Buffer.from([0xc0])]);
}

/** A 32-bit header (array, map, str, bin, ext) declaring `count` with only a few bytes behind it. */
export function hugeDeclared(rng: Rng): Buffer {
  const count = rng.pick([0xffffffff, 0x7fffffff, 0x10000000, 2 ** 24]);
  const kind = rng.pick([0xdd, 0xdf, 0xdb, 0xc6, 0xc9]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(count >>> 0);
  const ext = kind === 0xc9 ? Buffer.from([0x01]) : Buffer.alloc(0);
  return Buffer.concat([Buffer.from([kind]), len, ext, rng.bytes(rng.int(0, 64))]);
}

/** A value of a random msgpack type, for wrong-type cases. */
export function randomValue(rng: Rng): unknown {
  switch (rng.int(0, 11)) {
    case 0:
      return null;
    case 1:
      return rng.bool();
    case 2:
      return rng.int(-(2 ** 31), 2 ** 31);
    case 3:
      return rng.pick([Number.MAX_SAFE_INTEGER, -1, 0, 1e308, -0, 2 ** 53 + 2, 0.5]);
    case 4:
      return rng.pick(['', 'x'.repeat(rng.int(1, 5000)), '\u0000', '../../etc/passwd', '💥']);
    case 5:
      return rng.bytes(rng.int(0, 256));
    case 6:
      return [];
    case 7:
      return Array.from({ length: rng.int(1, 20) }, () => rng.int(0, 9));
    case 8:
      return {};
    case 9:
      return { v: 1, nested: { deeper: [1, 2, 3] } };
    case 10:
      return Number.NaN;
    default:
      return BigInt(rng.int(0, 2 ** 20)) * 2n ** 40n;
  }
}
