/* global process, console */
// Builds the patient's page into dist/page (run by `npm run build`, so `npm ci` builds it too):
// esbuild bundles web/src with the CLI's own modules from src/, swapping in browser versions of
// the few Node-only imports; the WASM is copied as an asset; everything is precompressed so the
// API serves brotli or gzip without compressing per request.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { analyzeMetafile, build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'page');
const web = (file) => join(root, 'web', 'src', file);

/** The three browser adapters; any other Node-only import fails the build (platform: browser). */
const browserAdapters = {
  name: 'veil-browser-adapters',
  setup(b) {
    b.onResolve({ filter: /^node:crypto$/ }, () => ({ path: web('node-crypto.ts') }));
    const swap = (file, browserFile) => {
      const node = join(root, 'src', 'shared', file);
      b.onResolve({ filter: new RegExp(`/${file.replace('.', '\\.')}$`) }, (a) =>
        resolve(a.resolveDir, a.path) === node ? { path: web(browserFile) } : undefined,
      );
    };
    swap('seal-loader.js', 'seal-loader.ts');
    swap('lines.js', 'lines.ts');
  },
};

await rm(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: web('main.ts'), worker: web('seal-worker.ts'), page: join(root, 'web', 'page.css') },
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  publicPath: '/assets',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome111', 'firefox114', 'safari16.4'],
  minify: true,
  legalComments: 'eof',
  loader: { '.wasm': 'file' },
  plugins: [browserAdapters],
  metafile: true,
  logLevel: 'warning',
});

// PAGE_ANALYZE=1 npm run build: what each bundle is made of.
if (process.env.PAGE_ANALYZE) console.log(await analyzeMetafile(result.metafile));
const outputs = Object.entries(result.metafile.outputs);
const urlOf = (entry) => {
  const found = outputs.find(([, o]) => o.entryPoint && resolve(root, o.entryPoint) === entry);
  if (!found) throw new Error(`no output for ${entry}`);
  return `/${relative(out, resolve(root, found[0])).split('\\').join('/')}`;
};
const html = (await readFile(join(root, 'web', 'index.html'), 'utf8'))
  .replace('%MAIN%', urlOf(web('main.ts')))
  .replace('%WORKER%', urlOf(web('seal-worker.ts')))
  .replace('%CSS%', urlOf(join(root, 'web', 'page.css')));
await writeFile(join(out, 'index.html'), html);

const files = [join(out, 'index.html'), ...outputs.map(([file]) => resolve(root, file))];
let raw = 0;
let br = 0;
for (const file of files) {
  const bytes = await readFile(file);
  const [b, g] = await Promise.all([
    promisify(brotliCompress)(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }),
    promisify(gzip)(bytes, { level: 9 }),
  ]);
  await Promise.all([writeFile(`${file}.br`, b), writeFile(`${file}.gz`, g)]);
  raw += bytes.length;
  br += b.length;
}
console.log(`page: ${files.length} files, ${(raw / 1024).toFixed(0)} KiB, ${(br / 1024).toFixed(0)} KiB brotli → ${relative(root, out)}`);
