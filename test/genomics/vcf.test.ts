import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ModelVariant } from '../../src/shared/model.js';
import { matchVcf, type VcfMatchOptions } from '../../src/producer/genomics/match.js';
import { VcfReader } from '../../src/producer/genomics/vcf.js';

const vcf = (records: string[][], samples = ['S1', 'S2', 'S3', 'S4']) =>
  [
    '##fileformat=VCFv4.2',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    ['#CHROM', 'POS', 'ID', 'REF', 'ALT', 'QUAL', 'FILTER', 'INFO', 'FORMAT', ...samples].join('\t'),
    ...records.map((r) => r.join('\t')),
    '',
  ].join('\n');

const rec = (chrom: string, pos: number, id: string, ref: string, alt: string, format: string, ...calls: string[]) => [
  chrom,
  String(pos),
  id,
  ref,
  alt,
  '.',
  '.',
  '.',
  format,
  ...calls,
];

const TEXT = vcf([
  rec('chr1', 100, 'rs100', 'A', 'G', 'GT', '0/0', '0|1', '1/1', './.'),
  rec('1', 200, '.', 'c', 't', 'GT:DS', '0/1:0.9', '1/1:1.8', '0/0:.', '0/1:1.1'),
  rec('1', 300, '.', 'A', 'G,T', 'GT', '0/1', '1/2', '0/0', '0/0'),
  rec('1', 400, '.', 'A', 'T', 'GT', '0/1', '0/0', '0/0', '1/1'),
  rec('X', 500, '.', 'G', 'A', 'GT', '0', '1', '0/1', '.'),
  rec('2', 600, '.', 'A', 'C', 'GT', '0/1', '0/0', '0/0', '0/0'),
  rec('2', 600, '.', 'A', 'C', 'GT', '0/1', '0/0', '0/0', '0/0'),
  rec('3', 700, 'rs700;rs7000', 'T', 'C', 'GT', '0/1', '1/1', '0/0', '0/0'),
  rec('4', 800, '.', 'T', 'C', 'GT', '0/1', '1/1', '0/0', '0/0'),
]);

const MODEL: ModelVariant[] = [
  { chr: '1', pos: 100, effectAllele: 'G', otherAllele: 'A' }, // 0: effect = ALT, one missing call
  { chr: '1', pos: 200, effectAllele: 'C', otherAllele: 'T' }, // 1: effect = REF (lower-case in the VCF)
  { chr: '1', pos: 300, effectAllele: 'G', otherAllele: 'A' }, // 2: only a multi-allelic record
  { chr: '1', pos: 400, effectAllele: 'A', otherAllele: 'T' }, // 3: strand-ambiguous
  { chr: 'X', pos: 500, effectAllele: 'A', otherAllele: 'G' }, // 4: haploid calls
  { chr: '2', pos: 600, effectAllele: 'C', otherAllele: 'A' }, // 5: two identical records
  { rsid: 'rs7000', effectAllele: 'C' }, // 6: by rsID (second ID of the record)
  { chr: '4', pos: 800, effectAllele: 'A', otherAllele: 'G' }, // 7: other strand: no flipping
  { chr: '5', pos: 900, effectAllele: 'A', otherAllele: 'G' }, // 8: absent
  { chr: '6', pos: 1, effectAllele: 'A' }, // 9: no rsID, no other allele
  { chr: '7', pos: 100, effectAllele: 'A', otherAllele: 'G' }, // 10, 11: listed twice
  { chr: '7', pos: 100, effectAllele: 'A', otherAllele: 'G' },
  { rsid: 'rs100', effectAllele: 'T' }, // 12: rsID found, effect allele neither REF nor ALT
];

const run = (opts: VcfMatchOptions = {}, text: string | Buffer = TEXT) => matchVcf({ variants: MODEL }, Buffer.from(text), opts);
const byVariant = (m: Awaited<ReturnType<typeof run>>) => m.samples.map((_, s) => Array.from(m.dosages(s)));
/** Dosages of model variants `i` for every sample (sample-major). */
const cols = (m: Awaited<ReturnType<typeof run>>, ...i: number[]) => byVariant(m).map((d) => i.map((k) => d[k]));

describe('VCF matching (synthetic records)', () => {
  it('counts effect-allele copies from GT, PLINK-style, and says why variants were skipped', async () => {
    const m = await run();
    expect(m.samples).toEqual(['S1', 'S2', 'S3', 'S4']);
    expect(m.records).toBe(9);
    // missing call of S4 at 1:100 → 2p = (0+1+2)/3; haploid X calls count 0 or 2.
    expect(cols(m, 0, 1, 3, 4, 6)).toEqual([
      [0, 1, 1, 0, 1],
      [1, 0, 2, 2, 2],
      [2, 2, 2, 1, 0],
      [1, 1, 0, 1, 0],
    ]);
    expect(m.variantsUsed).toBe(5);
    expect(m.variantsMissing).toBe(8);
    expect(m.reasons).toEqual({
      multiallelic: 1,
      duplicate_record: 1,
      allele_mismatch: 2,
      not_found: 1,
      no_match_key: 1,
      duplicate_in_model: 2,
    });
    for (const d of byVariant(m)) expect([2, 5, 7, 8, 9, 10, 11, 12].map((i) => d[i])).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('options: no mean imputation, haploid copies, DS dosages, filters, chosen samples', async () => {
    expect(cols(await run({ noMeanImputation: true }), 0, 4)[3]).toEqual([0, 0]);
    // haploid 0/1 copies; the missing call imputes from (0 + 1 + 1) / 3
    expect(cols(await run({ haploidCopies: 1 }), 4).flat()).toEqual([0, 1, 1, 2 / 3]);
    // DS where present (effect = REF: 2 − DS), GT where DS is '.'
    const ds = cols(await run({ dosageField: 'DS' }), 1).flat();
    [1.1, 0.2, 2, 0.9].forEach((want, k) => expect(ds[k]).toBeCloseTo(want, 12));

    const filtered = await run({ autosomesOnly: true, excludeAmbiguous: true });
    expect(filtered.variantsUsed).toBe(3);
    expect(filtered.reasons).toMatchObject({ excluded_chromosome: 1, strand_ambiguous: 1 });

    const chosen = await run({ samples: ['S4', 'S2'] });
    expect(chosen.samples).toEqual(['S4', 'S2']);
    expect(cols(chosen, 0)).toEqual([[1], [1]]); // S4's imputation still uses every sample's calls
  });

  it('reads bgzip (several gzip members) like plain text, and reports progress in input bytes', async () => {
    const half = TEXT.indexOf('\n1\t300');
    const bgzipLike = Buffer.concat([gzipSync(TEXT.slice(0, half)), gzipSync(TEXT.slice(half))]);
    const seen: number[] = [];
    const m = await run({ onProgress: (p) => seen.push(p.bytes) }, bgzipLike);
    expect(byVariant(m)).toEqual(byVariant(await run()));
    expect(seen.at(-1)).toBe(bgzipLike.length);
  });

  it('the reader normalizes chromosomes and alleles and parses calls lazily', async () => {
    const reader = await VcfReader.open(Buffer.from(TEXT));
    expect(reader.samples).toEqual(['S1', 'S2', 'S3', 'S4']);
    const first = (await reader.records().next()).value!;
    expect([first.chrom, first.pos, first.id, first.ref, first.alt]).toEqual(['1', 100, 'rs100', 'A', 'G']);
    const alt = new Float64Array(4);
    const ploidy = new Uint8Array(4);
    first.calls(alt, ploidy);
    expect(Array.from(alt)).toEqual([0, 1, 2, NaN]);
    expect(Array.from(ploidy)).toEqual([2, 2, 2, 0]);
    await reader.close();
  });

  it('rejects what PLINK 2 rejects, with the line number', async () => {
    const bad = (call: string) => run({}, vcf([rec('1', 100, '.', 'A', 'G', 'GT', '0/0', '0/1', '0/0', call)]));
    await expect(bad('0/.')).rejects.toMatchObject({ code: 'invalid_vcf', message: expect.stringMatching(/line 4: half call '0\/\.'/) });
    await expect(bad('0/2')).rejects.toMatchObject({ code: 'invalid_vcf', message: expect.stringContaining('names allele 2') });
    await expect(bad('0/1/1')).rejects.toMatchObject({ code: 'invalid_vcf', message: expect.stringContaining('ploidy 3') });
    await expect(bad('0/1\tsurplus')).rejects.toMatchObject({ code: 'invalid_vcf', message: expect.stringContaining('more sample columns') });
    await expect(run({}, 'chr1\t100\n')).rejects.toMatchObject({ code: 'invalid_vcf', message: expect.stringContaining('#CHROM') });
    await expect(run({}, gzipSync(TEXT).subarray(0, 60))).rejects.toMatchObject({ code: 'invalid_vcf', message: expect.stringContaining('not valid gzip') });
  });
});
