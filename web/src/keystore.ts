/**
 * The key pair (and the service's access code, if it needs one) in IndexedDB, so they survive a
 * reload. The keys never leave the device except as the backup file the patient downloads; only
 * the public context is ever sent to the service.
 */
export interface StoredKeys {
  publicContext: Uint8Array;
  secretKeyFile: Uint8Array;
}

const DB = 'veil';
const STORE = 'keys';
const KEYS = 'owner';
const TOKEN = 'token';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export async function loadKeys(): Promise<StoredKeys | undefined> {
  return (await run('readonly', (s) => s.get(KEYS))) as StoredKeys | undefined;
}

export async function saveKeys(keys: StoredKeys): Promise<void> {
  await run('readwrite', (s) => s.put(keys, KEYS));
}

export async function loadToken(): Promise<string | undefined> {
  return (await run('readonly', (s) => s.get(TOKEN))) as string | undefined;
}

/** An empty token forgets the stored one. */
export async function saveToken(token: string): Promise<void> {
  if (token) await run('readwrite', (s) => s.put(token, TOKEN));
  else await run('readwrite', (s) => s.delete(TOKEN));
}
