import { createRequire } from 'node:module';
import type { SEALLibrary } from 'node-seal/implementation/seal.js';

/**
 * node-seal's loader. It is a UMD bundle (module.exports *is* the loader) with its WASM inlined
 * as 1.4 MB of base64: imported from ESM, Node scans all of it for export names first (~60 ms of
 * CPU in every process and thread that loads SEAL, measured); required, it is only compiled.
 * The patient's page swaps in web/src/seal-loader.ts (web/build.mjs).
 */
const loadSeal = createRequire(import.meta.url)('node-seal') as () => Promise<SEALLibrary>;
export default loadSeal;
