/**
 * node-seal for the page (web/build.mjs puts it in place of src/shared/seal-loader.ts).
 * The package's default browser build inlines its WASM as base64 (1.4 MB of script); its
 * cf_worker build takes a compiled module instead, so the WASM is a separate static asset the API
 * serves as application/wasm: streamed, compressed, cached, and allowed by `wasm-unsafe-eval`.
 */
import type { SEALLibrary } from 'node-seal/implementation/seal.js';
import sealFactory from 'node-seal/throws_wasm_cf_worker_es.js';
import wasmUrl from 'node-seal/seal_throws_wasm_cf_worker.wasm';

// Typed as an ESM default export; NodeNext sees a namespace (as in src/shared/seal.ts).
const createSeal = sealFactory as unknown as (wasm: WebAssembly.Module) => Promise<SEALLibrary>;

export default async function loadSeal(): Promise<SEALLibrary> {
  const response = await fetch(wasmUrl);
  if (!response.ok) throw new Error(`the encryption library did not load (HTTP ${response.status})`);
  return createSeal(await WebAssembly.compileStreaming(response));
}
