/**
 * The key backup file: one msgpack map holding the two files `veil keygen` writes, byte for byte.
 * Import takes that backup, or the CLI's `secret.key` and `public.ctx` chosen together.
 */
import { VeilError } from '../../src/shared/errors.js';
import { pack, unpack, WIRE_VERSION } from '../../src/shared/wire.js';
import type { StoredKeys } from './keystore.js';

const BACKUP_TYPE = 'veil/key-backup';

export function packBackup(keys: StoredKeys): Uint8Array {
  return pack({ v: WIRE_VERSION, type: BACKUP_TYPE, publicContext: keys.publicContext, secretKeyFile: keys.secretKeyFile });
}

const notKeys = (name: string) => new VeilError('keys_not_recognised', `${name} is not a veil key backup, secret.key or public.ctx`);

/** Both halves of a key pair from the chosen files; Owner.fromBytes then checks they belong together. */
export function unpackKeyFiles(files: { name: string; bytes: Uint8Array }[]): StoredKeys {
  let publicContext: Uint8Array | undefined;
  let secretKeyFile: Uint8Array | undefined;
  for (const file of files) {
    let value: unknown;
    try {
      value = unpack(file.bytes);
    } catch {
      throw notKeys(file.name);
    }
    const type = value && typeof value === 'object' ? (value as { type?: unknown }).type : undefined;
    if (type === BACKUP_TYPE) {
      const b = value as { publicContext?: unknown; secretKeyFile?: unknown };
      if (!(b.publicContext instanceof Uint8Array && b.secretKeyFile instanceof Uint8Array)) throw notKeys(file.name);
      ({ publicContext, secretKeyFile } = b as StoredKeys);
    } else if (type === 'veil/public-context') publicContext = file.bytes;
    else if (type === 'veil/secret-key') secretKeyFile = file.bytes;
    else throw notKeys(file.name);
  }
  if (!publicContext || !secretKeyFile) {
    throw new VeilError('keys_incomplete', 'choose the key backup file, or both secret.key and public.ctx');
  }
  return { publicContext, secretKeyFile };
}
