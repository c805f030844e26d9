import type { SEALLibrary } from 'node-seal/implementation/seal.js';
import SEAL from './seal-loader.js';

/** node-seal's library object: one WASM instance (and heap) per load. */
export type Seal = SEALLibrary;
export type SealContext = ReturnType<Seal['Context']>;
export type CipherText = ReturnType<Seal['CipherText']>;
export type PlainText = ReturnType<Seal['PlainText']>;

let instance: Promise<Seal> | undefined;

/** This thread's shared SEAL instance. */
export function getSeal(): Promise<Seal> {
  return (instance ??= freshSeal());
}

/** The part of the WebAssembly global used here (this project's lib settings do not declare it). */
interface Wasm {
  Module: abstract new (...args: never[]) => object;
  compile(bytes: unknown): Promise<object>;
  instantiate(this: void, source: unknown, imports?: unknown): Promise<unknown>;
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

let compiled: Promise<object> | undefined;
let loading: Promise<unknown> = Promise.resolve();

/**
 * A new SEAL instance with its own WASM heap, for a thread whose instance read hostile bytes: a
 * heap corrupted without any sign must never check a later input. node-seal's loader takes no
 * options and compiles its embedded module on every load (~0.3–0.5 s); here the compiled module is
 * kept, so a fresh instance costs instantiation and SEAL's start-up only. The old instance is freed
 * by GC once nothing references it.
 */
export function freshSeal(): Promise<Seal> {
  // WebAssembly.instantiate is swapped for the load's duration only, one load at a time.
  const next = loading.then(async () => {
    const instantiate = wasm.instantiate;
    wasm.instantiate = async (source, imports) => {
      if (source instanceof wasm.Module) return instantiate(source, imports);
      compiled ??= wasm.compile(source);
      const module = await compiled;
      return { module, instance: await instantiate(module, imports) };
    };
    try {
      return await SEAL();
    } finally {
      wasm.instantiate = instantiate;
    }
  });
  loading = next.catch(() => {});
  return next;
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
