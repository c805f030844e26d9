/**
 * src/shared/lines.ts for the browser (web/build.mjs maps it here): the same readLines and
 * readLineBatches contract — lines of a plain or gzip text split at `\n` (a trailing `\r` dropped),
 * gzip by its magic bytes (bgzip and other multi-member files decompress whole), `onBytes` with the
 * running input count — over bytes in memory, with fflate and TextDecoder instead of node:zlib
 * and node:string_decoder. (The platform's DecompressionStream stops at the first gzip member, so
 * it cannot read a bgzipped VCF.) The genotype readers and the matcher run unchanged on top.
 */
import { Gunzip } from 'fflate';
import { InvalidInputError } from '../../src/shared/errors.js';

export type TextInput = Uint8Array;

/** Input bytes per step: progress granularity, and the most text held at once (× the gzip ratio). */
const CHUNK = 1 << 20;

const strip = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

export async function* readLines(input: TextInput, errorCode: string, onBytes?: (total: number) => void): AsyncGenerator<string> {
  for await (const batch of readLineBatches(input, errorCode, onBytes)) yield* batch;
}

export async function* readLineBatches(input: TextInput, errorCode: string, onBytes?: (total: number) => void): AsyncGenerator<string[]> {
  if (input.length === 0) return;
  let out: Uint8Array[] = [];
  const gunzip = input[0] === 0x1f && input[1] === 0x8b ? new Gunzip((chunk) => out.push(chunk)) : undefined;
  const decoder = new TextDecoder();
  let rest = '';
  for (let at = 0; at < input.length; at += CHUNK) {
    const slice = input.subarray(at, at + CHUNK);
    if (!gunzip) out.push(slice);
    else {
      try {
        gunzip.push(slice, at + CHUNK >= input.length);
      } catch (err) {
        throw new InvalidInputError(errorCode, `the file is not valid gzip (${(err as Error).message}); send it plain or gzip-compressed`);
      }
    }
    onBytes?.(at + slice.length);
    const parts = (rest + out.map((c) => decoder.decode(c, { stream: true })).join('')).split('\n');
    out = [];
    rest = parts.pop() ?? '';
    if (parts.length > 0) yield parts.map(strip);
  }
  rest += decoder.decode();
  if (rest) yield [strip(rest)];
}
