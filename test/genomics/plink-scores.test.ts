import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ModelDefinition } from '../../src/shared/model.js';
import { parsePgsScoringFile } from '../../src/shared/pgs.js';
import { matchVcf, type GenotypeMatch, type VcfMatchOptions } from '../../src/producer/genomics/match.js';
import { dataPath, dot, hasData, readTable, warnIfNoData } from './data.js';

warnIfNoData('PLINK 2 reference scores');

/** Real PGS Catalog scores on real/synthetic cohorts, against PLINK 2 `--score` and pgsc_calc (see the data README). */
describe.skipIf(!hasData)('PLINK 2 reference scores', () => {
  const load = async (file: string) => (await parsePgsScoringFile(createReadStream(dataPath(file)))).model;
  const match = (model: ModelDefinition, vcf: string, opts: VcfMatchOptions = {}) => matchVcf(model, createReadStream(dataPath(vcf)), opts);

  /** Largest |our score − expected| over all samples; every expected sample must be scored. */
  function maxError(model: ModelDefinition, m: GenotypeMatch, expected: Map<string, number>): number {
    expect(m.samples.length).toBe(expected.size);
    let worst = 0;
    m.samples.forEach((sample, s) => {
      const want = expected.get(sample);
      expect(want, `expected score for ${sample}`).toBeDefined();
      worst = Math.max(worst, Math.abs(dot(model.weights, m.dosages(s)) - want!));
    });
    return worst;
  }
  const column = (file: string, col: string, sep = '\t', id = 'sample_id') => new Map(readTable(file, sep).map((r) => [r[id]!, Number(r[col])]));

  it('PGS000586 on 1000 Genomes (3,202 samples, chr1-22 + X): PLINK 2 SCORE_SUM, 985 variants used', async () => {
    const model = await load('PGS000586_hmPOS_GRCh38.txt.gz');
    expect(model.variants).toHaveLength(1023);
    const m = await match(model, 'PGS000586_GRCh38.vcf.gz');
    expect(m.variantsUsed).toBe(985);
    expect(m.variantsMissing).toBe(38);
    expect(m.reasons).toEqual({ not_found: 34, allele_mismatch: 4 }); // README: 34 positions absent, 4 with other alleles
    expect(m.records).toBe(1033);
    expect(maxError(model, m, column('expected_scores.tsv', 'score_sum'))).toBeLessThan(1e-4);
  });

  it('male haploid chrX calls counted 0/1 (haploidCopies 1) reproduce PLINK 2 --xchr-model 1', async () => {
    const model = await load('PGS000586_hmPOS_GRCh38.txt.gz');
    const m = await match(model, 'PGS000586_GRCh38.vcf.gz', { haploidCopies: 1 });
    expect(maxError(model, m, column('expected_scores.tsv', 'score_sum_xchr_model1'))).toBeLessThan(1e-4);
  });

  it('autosomes without strand-ambiguous SNPs: the 809-variant set of pgsc_calc v2 and PLINK 2', async () => {
    const model = await load('PGS000586_hmPOS_GRCh38.txt.gz');
    const m = await match(model, 'PGS000586_GRCh38.vcf.gz', { autosomesOnly: true, excludeAmbiguous: true });
    expect(m.variantsUsed).toBe(809);
    expect(m.reasons.excluded_chromosome).toBe(41);
    expect(m.reasons.strand_ambiguous).toBe(135);
    expect(maxError(model, m, column('pgsc_calc_v2_scores_PGS000586.txt.gz', 'SUM', ',', 'FID'))).toBeLessThan(1e-4);
    expect(maxError(model, m, column('expected_scores_PGS000586_auto_noamb.tsv', 'score_sum'))).toBeLessThan(1e-4);
  });

  it('PGS001229 (chr22) on the CINECA cohort (2,504 samples, 96 missing calls): mean imputation and none', async () => {
    const model = await load('PGS001229_22.txt');
    const file = 'expected_scores_PGS001229_22_cineca.tsv';
    const imputed = await match(model, 'cineca_synthetic_subset.vcf.gz');
    expect(imputed.variantsUsed).toBe(829);
    expect(imputed.reasons).toEqual({ not_found: 6 });
    expect(maxError(model, imputed, column(file, 'score_sum'))).toBeLessThan(1e-4);

    const zero = await match(model, 'cineca_synthetic_subset.vcf.gz', { noMeanImputation: true });
    expect(zero.variantsUsed).toBe(829);
    expect(maxError(model, zero, column(file, 'score_sum_no_mean_imputation'))).toBeLessThan(1e-4);
  });

  it('one chosen sample gets the dosages of the full run, imputed from the whole file', async () => {
    const model = await load('PGS001229_22.txt');
    const all = await match(model, 'cineca_synthetic_subset.vcf.gz');
    const rows = readTable('expected_scores_PGS001229_22_cineca.tsv');
    // A sample with a missing call: its score differs between the two imputation modes.
    const withMissing = rows.find((r) => r.score_sum !== r.score_sum_no_mean_imputation)!.sample_id!;
    const progress: number[] = [];
    const one = await match(model, 'cineca_synthetic_subset.vcf.gz', { samples: [withMissing], onProgress: (p) => progress.push(p.bytes) });
    expect(one.samples).toEqual([withMissing]);
    expect(one.dosages(0)).toEqual(all.dosages(all.samples.indexOf(withMissing)));
    expect(progress.at(-1)).toBe(612_877); // the whole compressed file, reported as it is read
    await expect(match(model, 'cineca_synthetic_subset.vcf.gz', { samples: ['NA99999'] })).rejects.toMatchObject({ code: 'sample_not_found' });
  });
});
