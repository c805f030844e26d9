import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VeilError } from '../shared/errors.js';
import { DEFAULT_PRESET, type PresetId } from '../shared/params.js';
import { generateKeys, Owner, type KeyPair } from './crypto.js';

// The encrypt → submit → wait → decrypt steps have no Node-only imports and live in workflow.ts,
// which the browser page bundles too; re-exported here so the SDK stays one import.
export { finish, submitGrs, submitMean, waitAndFinish, type GrsOutcome, type MeanOutcome, type SubmitOptions } from './workflow.js';

/**
 * The data owner's workflow on a computer: keys on disk, then workflow.ts. The secret key is read
 * from `DIR/secret.key` into this process only; what is sent is ciphertext and public.ctx.
 */
export const SECRET_KEY_FILE = 'secret.key';
export const PUBLIC_CONTEXT_FILE = 'public.ctx';

export async function writeKeys(dir: string, preset: PresetId = DEFAULT_PRESET): Promise<{ contextId: string }> {
  return saveKeys(dir, await generateKeys(preset));
}

/** Write a generated key pair to `dir` (secret.key 0600, public.ctx 0644). */
export async function saveKeys(dir: string, keys: KeyPair): Promise<{ contextId: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const secretPath = join(dir, SECRET_KEY_FILE);
  await writeFile(secretPath, keys.secretKeyFile, { mode: 0o600 });
  await chmod(secretPath, 0o600); // an existing file keeps its old mode through writeFile
  await writeFile(join(dir, PUBLIC_CONTEXT_FILE), keys.publicContext, { mode: 0o644 });
  return { contextId: keys.contextId };
}

export async function loadOwner(dir: string): Promise<Owner> {
  let pub: Buffer;
  let sec: Buffer;
  try {
    [pub, sec] = await Promise.all([readFile(join(dir, PUBLIC_CONTEXT_FILE)), readFile(join(dir, SECRET_KEY_FILE))]);
  } catch {
    throw new VeilError('keys_not_found', `no key pair in ${dir}; create one with: veil keygen --out ${dir}`);
  }
  return Owner.fromBytes(pub, sec);
}

/** Run `fn` with the owner's keys loaded, and free their WASM memory however it ends. */
export async function withOwner<T>(dir: string, fn: (owner: Owner) => Promise<T>): Promise<T> {
  const owner = await loadOwner(dir);
  try {
    return await fn(owner);
  } finally {
    owner.dispose();
  }
}
