import { InvalidInputError } from './errors.js';
import { unpack } from './wire.js';

/** Keys are decoded without Buffer: the contract modules also run in the browser page. */
const UTF8 = new TextDecoder();

/**
 * A walk over untrusted MessagePack before msgpackr builds anything from it: iterative (no
 * recursion to overflow), O(items), binary payloads skipped by length. It refuses what veil's
 * wire never has and a decoder would resolve silently or expensively:
 *   - nesting deeper than `maxDepth` (msgpackr recurses),
 *   - a container declaring more items than bytes remain (msgpackr pre-sizes arrays),
 *   - duplicate map keys (msgpackr keeps the last one: `publicKey` twice, a secret key first,
 *     would pass a check that read one and store the other), non-string keys, `__proto__`,
 *   - extension types (timestamps, msgpackr records) and bytes after the value.
 */
export function checkMsgpack(bytes: Uint8Array, maxDepth: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const malformed = (why: string) => new InvalidInputError('malformed_msgpack', `the body is not valid MessagePack for veil: ${why}`);
  /** Open containers: items still to read; for maps, keys seen and whether a key comes next. */
  const open: { left: number; keys?: Set<string>; keyNext?: boolean }[] = [];
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw malformed('truncated');
  };
  const uint = (n: 1 | 2 | 4) => {
    need(n);
    const v = n === 1 ? view.getUint8(at) : n === 2 ? view.getUint16(at) : view.getUint32(at);
    at += n;
    return v;
  };
  for (;;) {
    const frame = open[open.length - 1];
    const isKey = frame?.keys !== undefined && frame.keyNext === true;
    need(1);
    const b = view.getUint8(at++);
    let strLen = -1;
    let children = -1;
    let isMap = false;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      // fixint, nil, booleans
    } else if (b <= 0x8f) [children, isMap] = [b & 0x0f, true];
    else if (b <= 0x9f) children = b & 0x0f;
    else if (b <= 0xbf) strLen = b & 0x1f;
    else if (b >= 0xc4 && b <= 0xc6) {
      const length = uint(([1, 2, 4] as const)[b - 0xc4]!); // read before `at +=` reads `at`
      at += length;
    } else if (b === 0xca || b === 0xcb) at += b === 0xca ? 4 : 8;
    else if (b >= 0xcc && b <= 0xd3) at += [1, 2, 4, 8][(b - 0xcc) % 4]!;
    else if (b >= 0xd9 && b <= 0xdb) strLen = uint(([1, 2, 4] as const)[b - 0xd9]!);
    else if (b === 0xdc || b === 0xdd) children = uint(b === 0xdc ? 2 : 4);
    else if (b === 0xde || b === 0xdf) [children, isMap] = [uint(b === 0xde ? 2 : 4), true];
    else if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) throw malformed('extension types are not accepted');
    else throw malformed(`byte 0x${b.toString(16)} is not a MessagePack type`);
    if (isKey && strLen < 0) throw malformed('map keys must be strings');
    if (strLen >= 0) {
      need(strLen);
      if (isKey) {
        const key = UTF8.decode(bytes.subarray(at, at + strLen));
        if (key === '__proto__') throw malformed('the key __proto__ is not accepted');
        if (frame.keys!.has(key)) throw new InvalidInputError('duplicate_key', `the key '${key.slice(0, 64)}' appears twice in one map; send each key once`);
        frame.keys!.add(key);
      }
      at += strLen;
    }
    if (at > bytes.length) throw malformed('truncated');
    if (frame) {
      frame.left--;
      if (frame.keys) frame.keyNext = !frame.keyNext;
    }
    if (children > 0) {
      const items = isMap ? 2 * children : children;
      if (items > bytes.length - at) throw malformed(`a container declares ${items} items in ${bytes.length - at} bytes`);
      if (open.length + 1 > maxDepth) {
        throw new InvalidInputError('msgpack_too_deep', `the body nests deeper than ${maxDepth} levels (MAX_MSGPACK_DEPTH); veil's messages are flat`);
      }
      open.push(isMap ? { left: items, keys: new Set(), keyNext: true } : { left: items });
    }
    while (open.length > 0 && open[open.length - 1]!.left === 0) open.pop();
    if (open.length === 0) break;
  }
  if (at !== bytes.length) throw malformed(`${bytes.length - at} bytes after the message`);
}

/** Unpack untrusted MessagePack after `checkMsgpack`. */
export function unpackChecked(bytes: Uint8Array, maxDepth: number): unknown {
  checkMsgpack(bytes, maxDepth);
  return unpack(bytes);
}
