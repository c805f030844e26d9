import sealModule from 'node-seal';
import type { SEALLibrary } from 'node-seal/implementation/seal.js';

/** node-seal's library object. One WASM instance per thread: loading it costs ~100 ms. */
export type Seal = SEALLibrary;
// node-seal ships a UMD bundle whose module.exports *is* the loader; its typings declare an ESM
// default export instead, so NodeNext sees a namespace. Bridge the two once, here.
const SEAL = sealModule as unknown as () => Promise<Seal>;
export type SealContext = ReturnType<Seal['Context']>;
export type CipherText = ReturnType<Seal['CipherText']>;
export type PlainText = ReturnType<Seal['PlainText']>;

let instance: Promise<Seal> | undefined;

export function getSeal(): Promise<Seal> {
  return (instance ??= SEAL());
}

/** Anything with SEAL's `delete()`. WASM memory is not garbage-collected, so every object is freed. */
interface Deletable {
  delete(): void;
}

/**
 * Collects SEAL objects made during one unit of work and deletes them all at the end, so an early
 * return or a throw cannot leak WASM memory.
 */
export class SealScope {
  private readonly objects: Deletable[] = [];

  track<T extends Deletable>(obj: T): T {
    this.objects.push(obj);
    return obj;
  }

  dispose(): void {
    for (const obj of this.objects.splice(0).reverse()) obj.delete();
  }
}

export function withScope<T>(fn: (scope: SealScope) => T): T {
  const scope = new SealScope();
  try {
    return fn(scope);
  } finally {
    scope.dispose();
  }
}
