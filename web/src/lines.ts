/**
 * src/shared/lines.ts for the browser (web/build.mjs maps it here): the same readLines contract —
 * lines of a plain or gzip text, gzip by its magic bytes, `onBytes` with the running input count —
 * over bytes in memory, with the platform's DecompressionStream and TextDecoder instead of
 * node:zlib and node:readline. The genotype readers and the matcher run unchanged on top.
 */
import { InvalidInputError } from '../../src/shared/errors.js';

export type TextInput = Uint8Array;

const CHUNK = 1 << 20;

export async function* readLines(input: TextInput, errorCode: string, onBytes?: (total: number) => void): AsyncGenerator<string> {
  if (input.length === 0) return;
  const gzip = input[0] === 0x1f && input[1] === 0x8b;
  let sent = 0;
  // Bytes from File.arrayBuffer() are never shared memory: the cast only tells the DOM typings so.
  const raw = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (sent >= input.length) return controller.close();
      const next = input.subarray(sent, sent + CHUNK) as Uint8Array<ArrayBuffer>;
      sent += next.length;
      onBytes?.(sent);
      controller.enqueue(next);
    },
  });
  const bytes: ReadableStream<Uint8Array<ArrayBuffer>> = gzip ? raw.pipeThrough(new DecompressionStream('gzip')) : raw;
  const reader = bytes.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw new InvalidInputError(errorCode, `the file is not valid gzip (${(err as Error).message}); send it plain or gzip-compressed`);
      }
      if (chunk.done) break;
      const parts = (rest + chunk.value).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) yield line.endsWith('\r') ? line.slice(0, -1) : line;
    }
    if (rest) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
  } finally {
    reader.releaseLock();
  }
}
