import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readLineBatches, readLines } from '../src/shared/lines.js';

/** The bytes cut into pieces of `size`, as a stream delivers them. */
const pieces = (bytes: Buffer, size: number) =>
  Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)));
const all = async (lines: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
};

describe('readLines', () => {
  const text = 'rs1\t1\t10\tAG\r\nrs2\t1\t20\t--\n\n# é ü\r\nlast, no newline';
  const want = ['rs1\t1\t10\tAG', 'rs2\t1\t20\t--', '', '# é ü', 'last, no newline'];

  it('splits at \\n, drops a \\r before it, and keeps a last line without one, however the bytes are cut', async () => {
    const bytes = Buffer.from(text);
    // Every piece size, so \r\n and the two-byte é and ü are cut in every place.
    for (let size = 1; size <= bytes.length; size++) expect(await all(readLines(pieces(bytes, size), 'invalid')), `pieces of ${size}`).toEqual(want);
    expect(await all(readLines(bytes, 'invalid'))).toEqual(want);
    expect(await all(readLines(pieces(gzipSync(bytes), 7), 'invalid'))).toEqual(want);
  });

  it('reads a line longer than many chunks whole, and gives lines in batches', async () => {
    const long = 'x'.repeat(8 * 2 ** 20);
    const bytes = Buffer.from(`${long}\nshort\n`);
    expect((await all(readLines(pieces(bytes, 2 ** 14), 'invalid'))).map((l) => l.length)).toEqual([long.length, 5]);
    const batches: string[][] = [];
    for await (const batch of readLineBatches(Buffer.from('a\nb\nc\n'), 'invalid')) batches.push(batch);
    expect(batches).toEqual([['a', 'b', 'c']]);
  });
});
