/* global console */
// `npm run build`: src → dist, each file transpiled on its own by esbuild (ESM, source maps, the
// layout tsc wrote), side by side with the patient's page (web/build.mjs). Types are checked by
// `npm run lint` (tsc over src, test, bench and tools; isolatedModules there makes sure every file
// transpiles alone). Measured: 10.9 s with tsc emitting, ~4 s this way, most of it the page's brotli.
import { readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

// Files of deleted sources must not linger; dist/page is web/build.mjs's to replace.
for (const entry of await readdir(dist).catch(() => [])) {
  if (entry !== 'page') await rm(join(dist, entry), { recursive: true, force: true });
}
const sources = (await readdir(join(root, 'src'), { recursive: true }))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .map((file) => join(root, 'src', file));

await Promise.all([
  build({
    absWorkingDir: root,
    entryPoints: sources,
    outdir: dist,
    outbase: join(root, 'src'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  }),
  import('../web/build.mjs'),
]);
console.log(`server: ${sources.length} files → dist`);
