import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { modelVariantKey, parsePgsScoringFile } from '../../src/shared/pgs.js';

const lines = (...l: string[]) => `${l.join('\n')}\n`;
const HEADER = [
  'rsID',
  'chr_name',
  'chr_position',
  'effect_allele',
  'other_allele',
  'effect_weight',
  'hm_source',
  'hm_rsID',
  'hm_chr',
  'hm_pos',
  'hm_inferOtherAllele',
];
const row = (...f: string[]) => f.join('\t');

const HARMONIZED = lines(
  '###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/downloads/#dl_ftp_scoring for additional information',
  '#format_version=2.0',
  '##POLYGENIC SCORE (PGS) INFORMATION',
  '#pgs_id=PGS999999',
  '#pgs_name=TEST_SCORE',
  '#trait_reported=Standing height',
  '#genome_build=GRCh37',
  '##HARMONIZATION DETAILS',
  '#HmPOS_build=GRCh38',
  HEADER.join('\t'),
  row('rs1', '1', '1000', 'a', 'g', '0.5', 'ENSEMBL', 'rs1', 'chr1', '2000', ''),
  row('rs2', '2', '3000', 'C', 'T', '-1.5e-2', 'liftover', 'rs2b', '', '', ''),
  row('rs3', '3', '4000', 'T', '', '2', 'liftover', '', '3', '5000', 'C/G'),
);

const parse = (text: string | Buffer, name?: string) => parsePgsScoringFile(Buffer.from(text), name);
const failure = (text: string | Buffer) =>
  parse(text).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string; status: number },
  );

describe('PGS Catalog scoring file parser', () => {
  it('reads header metadata and prefers the harmonized columns when they are filled', async () => {
    const { model, rows, skipped } = await parse(HARMONIZED);
    expect(model.name).toBe('TEST_SCORE');
    expect(model.metadata).toMatchObject({
      pgs_id: 'PGS999999',
      trait_reported: 'Standing height',
      genome_build: 'GRCh37',
      HmPOS_build: 'GRCh38',
      format_version: '2.0',
    });
    expect(Object.keys(model.metadata)).not.toContain('POLYGENIC SCORE (PGS) INFORMATION');
    expect([rows, skipped]).toEqual([3, {}]);
    expect(model.variants).toEqual([
      { rsid: 'rs1', chr: '1', pos: 2000, effectAllele: 'A', otherAllele: 'G' }, // hm_chr 'chr1' → '1', alleles upper-cased
      { rsid: 'rs2b', chr: '2', pos: 3000, effectAllele: 'C', otherAllele: 'T' }, // no hm_pos: the author's coordinates
      { rsid: 'rs3', chr: '3', pos: 5000, effectAllele: 'T' }, // hm_inferOtherAllele is not used
    ]);
    expect(Array.from(model.weights)).toEqual([0.5, -0.015, 2]);
    expect([model.bias, model.link]).toEqual([0, 'identity']);
    expect(model.variants.map(modelVariantKey)).toEqual(['1:2000:A:G', '2:3000:C:T', 'rs3']);
  });

  it('gives the same model for plain and gzip, Buffer and stream (even a 1-byte first chunk)', async () => {
    const plain = await parse(HARMONIZED);
    const gz = gzipSync(HARMONIZED);
    expect(await parse(gz)).toEqual(plain);
    expect(await parsePgsScoringFile(Readable.from([gz.subarray(0, 1), gz.subarray(1, 7), gz.subarray(7)]))).toEqual(plain);
    expect(await parsePgsScoringFile(Readable.from([Buffer.from(HARMONIZED)]))).toEqual(plain);
  });

  it('names the model pgs_name, else pgs_id, else the fallback', async () => {
    const body = lines('rsID\teffect_allele\teffect_weight', 'rs1\tA\t1');
    expect((await parse(lines('#pgs_id=PGS000001') + body)).model.name).toBe('PGS000001');
    expect((await parse(body, 'my-upload')).model.name).toBe('my-upload');
  });

  it('reads #veil_bias and #veil_link (the seed model: bias −1.2, logistic)', async () => {
    const seed = lines(
      '#pgs_name=seed',
      '#veil_bias=-1.2',
      '#veil_link=logistic',
      'rsID\teffect_allele\teffect_weight',
      ...['0.15', '-0.02', '0.45', '0.12', '-0.05'].map((w, i) => `rs${i + 1}\tA\t${w}`),
    );
    const { model } = await parse(seed);
    expect([model.bias, model.link, model.variants.length]).toEqual([-1.2, 'logistic', 5]);
    const score = [1, 0, 2, 1, 0].reduce((s, d, i) => s + d * model.weights[i]!, model.bias);
    expect(score).toBeCloseTo(-0.03, 12);
    expect(await failure(seed.replace('-1.2', 'minus one'))).toMatchObject({ code: 'invalid_model', message: expect.stringContaining('#veil_bias=minus one') });
    expect(await failure(seed.replace('logistic', 'probit'))).toMatchObject({
      code: 'invalid_model',
      message: expect.stringContaining('identity or logistic'),
    });
  });

  it('skips and counts rows that lack an effect allele, a weight, or any locus', async () => {
    const { model, rows, skipped } = await parse(
      lines(
        HEADER.join('\t'),
        row('rs1', '1', '10', 'A', 'G', '1'),
        row('rs2', '1', '20', '', 'G', '1'),
        row('rs3', '1', '30', 'A', 'G', ''),
        row('', '', '', 'A', 'G', '1'),
        row('', '4', '', 'A', 'G', '1'),
      ),
    );
    expect([rows, model.variants.length]).toEqual([5, 1]);
    expect(skipped).toEqual({ no_effect_allele: 1, no_effect_weight: 1, no_locus: 2 });
  });

  it('rejects malformed files with code invalid_model and says which line and what to fix', async () => {
    const body = (...r: string[]) => lines('#pgs_id=PGS1', 'rsID\tchr_name\tchr_position\teffect_allele\teffect_weight', ...r);
    const cases: [string, RegExp][] = [
      [body('rs1\t1\t10\tA\t0.1', 'rs2\t1\t20\tA\tabc'), /^line 4: effect_weight 'abc' is not a number/],
      [body('rs1\t1\t1e5\tA\t0.1'), /^line 3: chr_position '1e5' is not a positive integer/],
      [body('rs1\t1\t10\tA\t0.1\textra'), /^line 3: 6 tab-separated fields but the header has 5/],
      [lines('#pgs_id=PGS1', 'rsID\teffect_allele\tbeta', 'rs1\tA\t0.1'), /^line 2: the column header needs effect_allele and effect_weight/],
      [lines('chr\teffect_allele\teffect_weight'), /needs rsID or chr_name and chr_position/],
      [lines('#pgs_id=PGS1'), /no column header line/],
      [body(), /no usable variant rows/],
    ];
    for (const [text, message] of cases) {
      const err = await failure(text);
      expect(err, text).toMatchObject({ code: 'invalid_model', status: 400, message: expect.stringMatching(message) });
    }
    expect(await failure(gzipSync(HARMONIZED).subarray(0, 100))).toMatchObject({ code: 'invalid_model', message: expect.stringContaining('not valid gzip') });
  });

  it('streams a 1,000,000-variant gzip file', async () => {
    const n = 1_000_000;
    async function* text() {
      yield 'rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n';
      for (let start = 0; start < n; start += 10_000) {
        let chunk = '';
        for (let i = start; i < start + 10_000; i++) chunk += `rs${i}\t${(i % 22) + 1}\t${i + 1}\tA\tG\t${i / n}\n`;
        yield chunk;
      }
    }
    const started = performance.now();
    const { model, rows } = await parsePgsScoringFile(Readable.from(text()).pipe(createGzip({ level: 1 })));
    const seconds = (performance.now() - started) / 1000;
    expect([rows, model.variants.length, model.weights.length]).toEqual([n, n, n]);
    expect(model.variants[n - 1]).toEqual({ rsid: `rs${n - 1}`, chr: String(((n - 1) % 22) + 1), pos: n, effectAllele: 'A', otherAllele: 'G' });
    expect(model.weights[n - 1]).toBe((n - 1) / n);
    console.info(`1,000,000-variant scoring file generated, gzipped and parsed in ${seconds.toFixed(1)} s`);
  }, 60_000);
});
