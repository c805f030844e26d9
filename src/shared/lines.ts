import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidInputError } from './errors.js';

/** A text file as bytes in memory or a stream (an HTTP request, a file). */
export type TextInput = Readable | Uint8Array;

/**
 * Lines of a plain or gzip text (gzip detected by its magic bytes 1f 8b; bgzip and other
 * multi-member files decompress whole). A Readable is consumed and destroyed when done.
 * `onBytes` gets the running count of input (compressed) bytes, for progress bars.
 */
export async function* readLines(input: TextInput, errorCode: string, onBytes?: (total: number) => void): AsyncGenerator<string> {
  const chunks = countedChunks(input, onBytes);
  let head = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await chunks.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  if (head.length === 0) return;
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const raw = Readable.from(prepend(head, chunks));
  const text = gzip ? raw.pipe(createGunzip()) : raw;
  if (gzip) raw.on('error', (err) => text.destroy(err));
  try {
    for await (const line of createInterface({ input: text, crlfDelay: Infinity })) yield line;
  } catch (err) {
    // zlib errors carry codes like Z_DATA_ERROR; anything else (a read error) is not the file's fault.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new InvalidInputError(errorCode, `the file is not valid gzip (${(err as Error).message}); send it plain or gzip-compressed`);
    }
    throw err;
  } finally {
    text.destroy();
    raw.destroy();
  }
}

async function* countedChunks(input: TextInput, onBytes?: (total: number) => void): AsyncGenerator<Buffer> {
  const source: Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string> = input instanceof Uint8Array ? [input] : input;
  let total = 0;
  for await (const chunk of source) {
    const buf = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length === 0) continue;
    total += buf.length;
    onBytes?.(total);
    yield buf;
  }
}

async function* prepend(head: Buffer, rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  yield head;
  yield* rest;
}

