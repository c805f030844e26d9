import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../src/shared/errors.js';
import { checkMsgpack, unpackChecked } from '../src/shared/msgpack-bounds.js';
import { pack } from '../src/shared/wire.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInputError) return err.code;
    throw err;
  }
  return 'accepted';
};

/** A fixmap of `entries` key/value pairs written as given (duplicates and all). */
function rawMap(entries: [string, Buffer][]): Buffer {
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([k, v]) => [pack(k), v])]);
}

/** `depth` nested one-element arrays around a 0. */
const nested = (depth: number) => Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0])]);

describe('checkMsgpack', () => {
  it("accepts veil's messages and round-trips them", () => {
    const job = {
      v: 1,
      op: 'grs',
      contextId: 'a'.repeat(64),
      ciphertexts: [randomBytes(70_000), randomBytes(3)],
      samples: 2,
      scaleBits: 16,
      big: 2 ** 40,
      neg: -5,
      f: 1.5,
      nil: null,
      ok: true,
      s: 'x'.repeat(300),
    };
    expect(unpackChecked(pack(job), 16)).toEqual(job);
    expect(unpackChecked(pack({ records: [{ ids: ['a', 'b'], ciphertexts: [randomBytes(10)] }] }), 16)).toBeTruthy();
  });

  it('refuses a key twice in one map (a secret key first, then the public key)', () => {
    const twice = rawMap([
      ['publicKey', pack(Buffer.from('secret'))],
      ['publicKey', pack(Buffer.from('public'))],
    ]);
    expect(codeOf(() => checkMsgpack(twice, 16))).toBe('duplicate_key');
    // The same key in two different maps is fine.
    expect(codeOf(() => checkMsgpack(pack([{ a: 1 }, { a: 2 }]), 16))).toBe('accepted');
  });

  it('bounds depth: maxDepth levels pass, one more is msgpack_too_deep', () => {
    expect(codeOf(() => checkMsgpack(nested(16), 16))).toBe('accepted');
    expect(codeOf(() => checkMsgpack(nested(17), 16))).toBe('msgpack_too_deep');
    // 1 MB of nesting is refused at level 17 without recursion.
    expect(codeOf(() => checkMsgpack(nested(1 << 20), 16))).toBe('msgpack_too_deep');
  });

  it('refuses containers declaring more items than bytes, ext types, trailing bytes, odd keys', () => {
    expect(codeOf(() => checkMsgpack(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x00]), 16))).toBe('malformed_msgpack');
    expect(codeOf(() => checkMsgpack(Buffer.from([0xd6, 0xff, 0, 0, 0, 0]), 16))).toBe('malformed_msgpack');
    expect(codeOf(() => checkMsgpack(Buffer.concat([pack({ a: 1 }), Buffer.from([0])]), 16))).toBe('malformed_msgpack');
    expect(codeOf(() => checkMsgpack(rawMap([['__proto__', pack({ polluted: true })]]), 16))).toBe('malformed_msgpack');
    expect(codeOf(() => checkMsgpack(Buffer.from([0x81, 0x01, 0x02]), 16))).toBe('malformed_msgpack');
    expect(codeOf(() => checkMsgpack(Buffer.from([0xc4, 0x10, 0x00]), 16))).toBe('malformed_msgpack');
    expect(codeOf(() => checkMsgpack(Buffer.alloc(0), 16))).toBe('malformed_msgpack');
  });

  it('answers every truncation and random mutation with a typed error or a value, never a crash', () => {
    const body = pack({ v: 1, contextId: 'f'.repeat(64), ciphertexts: [randomBytes(40)], nested: [{ a: [1, 2, { b: 'c' }] }] });
    for (let n = 0; n < body.length; n++) expect(codeOf(() => checkMsgpack(body.subarray(0, n), 16))).toBe('malformed_msgpack');
    for (let i = 0; i < 3000; i++) {
      const m = Buffer.from(body);
      for (let k = 0; k < 3; k++) m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
      expect(['accepted', 'malformed_msgpack', 'duplicate_key', 'msgpack_too_deep']).toContain(codeOf(() => unpackChecked(m, 16)));
    }
  });
});
