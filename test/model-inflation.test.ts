import { gzipSync } from 'node:zlib';
import { expect, test } from 'vitest';
import { parsePgsScoringFile } from '../src/shared/pgs.js';
import { gzipScoringBomb } from '../tools/lib/seal-bytes.js';

/** The API's bound on gzip scoring files (api/routes/models.ts): at most 64× inflation past 4 MiB of text. */
const limits = { maxVariants: 4_194_304, maxTextBytes: 2 ** 30, maxInflation: 64 };

test('a gzip scoring-file bomb is refused for its inflation before its rows fill the variant cap', async () => {
  // 1.5 MB of gzip, 30M rows: without the ratio bound it is parsed up to the 4M-variant cap.
  const err = await parsePgsScoringFile(gzipScoringBomb(30_000_000), 'bomb', limits).then(
    () => undefined,
    (e: { code?: string; status?: number; message?: string }) => e,
  );
  expect(err?.code).toBe('decompressed_too_large');
  expect(err?.status).toBe(413);
  expect(err?.message).toMatch(/inflates more than 64×/);
});

test('a realistic gzip scoring file past the 4 MiB slack passes the same bounds', async () => {
  // 300k distinct variants (~12 MB of text): what a real file inflates by, ~3–5×, not 400×.
  const rows = Array.from(
    { length: 300_000 },
    (_, i) => `rs${1000 + i * 7}\t${1 + (i % 22)}\t${10_000 + i * 131}\t${'ACGT'[i % 4]}\t${'GTAC'[(i * 3) % 4]}\t${(Math.random() - 0.5).toFixed(6)}`,
  );
  const text = `#pgs_id=PGS_REAL\nrsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n${rows.join('\n')}\n`;
  const gz = gzipSync(text);
  expect(text.length).toBeGreaterThan(8 * 2 ** 20);
  expect(text.length / gz.length).toBeLessThan(10);
  const parsed = await parsePgsScoringFile(gz, 'x', limits);
  expect(parsed.model.variants.length).toBe(300_000);
});
