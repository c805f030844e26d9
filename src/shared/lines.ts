import { Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { InvalidInputError, VeilError } from './errors.js';

/** A text file as bytes in memory or a stream (an HTTP request, a file). */
export type TextInput = Readable | Uint8Array;

/**
 * Lines of a plain or gzip text (gzip detected by its magic bytes 1f 8b; bgzip and other
 * multi-member files decompress whole), split at `\n` with a trailing `\r` dropped. A Readable is
 * consumed and destroyed when done. `onBytes` gets the running count of input (compressed) bytes,
 * for progress bars. More than `maxTextBytes` of text (after decompression) is a 413
 * `decompressed_too_large`: a 0.6 MB gzip holds 30M rows. A gzip input may also inflate at most
 * `maxInflation` times (see textLimit).
 */
export async function* readLines(...args: Parameters<typeof readLineBatches>): AsyncGenerator<string> {
  for await (const batch of readLineBatches(...args)) yield* batch;
}

/**
 * readLines, a chunk's lines at a time: a genome file has ~10^6 lines, and one async step per
 * line (node:readline, then each generator on top) cost more than parsing them.
 */
export async function* readLineBatches(
  input: TextInput,
  errorCode: string,
  onBytes?: (total: number) => void,
  maxTextBytes = Infinity,
  maxInflation = Infinity,
): AsyncGenerator<string[]> {
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
  const gunzip = gzip ? createGunzip() : undefined;
  const inflated = gunzip ? raw.pipe(gunzip) : raw;
  // bytesWritten: compressed bytes zlib has consumed so far (not what is buffered ahead of it).
  const text = inflated.pipe(textLimit(maxTextBytes, gunzip ? maxInflation : Infinity, () => gunzip?.bytesWritten ?? 0));
  // pipe() does not forward errors: a read or gzip error must end the line reader.
  for (const stage of new Set([raw, inflated])) stage.on('error', (err) => text.destroy(err));
  const decoder = new StringDecoder('utf8');
  // The unfinished line's pieces, joined once it ends: a line spanning many chunks costs its length, not its length².
  let open: string[] = [];
  try {
    for await (const chunk of text as AsyncIterable<Buffer>) {
      const piece = decoder.write(chunk);
      const end = piece.lastIndexOf('\n');
      if (end < 0) {
        open.push(piece);
        continue;
      }
      open.push(piece.slice(0, end));
      const lines = open.join('').split('\n');
      open = [piece.slice(end + 1)];
      yield lines.map(stripCr);
    }
    const last = open.join('') + decoder.end();
    if (last !== '') yield [stripCr(last)];
  } catch (err) {
    // zlib errors carry codes like Z_DATA_ERROR; anything else (a read error) is not the file's fault.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new InvalidInputError(errorCode, `the file is not valid gzip (${(err as Error).message}); send it plain or gzip-compressed`);
    }
    throw err;
  } finally {
    text.destroy();
    inflated.destroy();
    raw.destroy();
  }
}

const stripCr = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

/** Text below this is never refused for its inflation ratio. */
const INFLATION_SLACK = 4 * 2 ** 20;

/**
 * A pass-through that fails once more than `max` bytes went through, or (past INFLATION_SLACK)
 * more than `inflation` times the compressed bytes read so far: a gzip bomb is refused after a few
 * MB of text, before its rows are parsed, instead of at the text cap.
 */
function textLimit(max: number, inflation: number, compressed: () => number): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      total += chunk.length;
      if (total > max)
        done(new VeilError('decompressed_too_large', `the file holds more than ${max} bytes of text (MAX_MODEL_TEXT_MB); split it or raise the limit`, 413));
      else if (total > INFLATION_SLACK && total > inflation * compressed()) {
        done(new VeilError('decompressed_too_large', `the gzip file inflates more than ${inflation}× (scoring files inflate ~3×); send it uncompressed`, 413));
      } else done(null, chunk);
    },
  });
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
