import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ModelDefinition, ModelVariant } from '../../src/shared/model.js';
import { parsePgsScoringFile } from '../../src/shared/pgs.js';
import { match23andMe } from '../../src/producer/genomics/match.js';
import { Oracle, plinkScores, readCohort, sampleLetters, twentyThreeText, type Cohort } from './cohort-23andme.js';
import { dataPath, dot, hasData, warnIfNoData } from './data.js';

warnIfNoData('23andMe files from real cohorts vs PLINK 2');

/** Every sample's 23andMe file through match23andMe; the samples that score wrong. */
async function scoreEvery(model: ModelDefinition, cohort: Cohort, oracle: Oracle): Promise<string[]> {
  const wrong: string[] = [];
  for (let j = 0; j < cohort.samples.length; j++) {
    const letters = sampleLetters(cohort, j);
    const want = oracle.expect(j, letters);
    const m = await match23andMe(model, Buffer.from(twentyThreeText(cohort, j, letters)), { sampleName: cohort.samples[j] });
    const score = dot(model.weights, m.dosages(0)) + model.bias;
    if (Math.abs(score - want.score) > 1e-4 || m.variantsUsed !== want.variantsUsed) {
      wrong.push(`${cohort.samples[j]}: expected ${want.score.toFixed(6)} (${want.variantsUsed} used), got ${score.toFixed(6)} (${m.variantsUsed} used)`);
    }
  }
  return wrong;
}

/** Thousands of files through the matcher: minutes when the 2 cores are shared (measured: ~1 min each). */
const SLOW = 600_000;
const load = async (file: string) => (await parsePgsScoringFile(createReadStream(dataPath(file)))).model;

describe.skipIf(!hasData)('23andMe files written from the real cohorts score like PLINK 2', () => {
  it(
    'PGS000586 (GRCh38, header build 38, i-IDs matched by position): all 3,202 1000 Genomes samples',
    async () => {
      const model = await load('PGS000586_hmPOS_GRCh38.txt.gz');
      const cohort = readCohort('PGS000586_GRCh38.vcf.gz', '38');
      const oracle = new Oracle(model, cohort, plinkScores('expected_scores.tsv', 'score_sum'));
      const t0 = performance.now();
      const wrong = await scoreEvery(model, cohort, oracle);
      console.info(`1000 Genomes: ${cohort.samples.length} 23andMe files written and matched in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(wrong.slice(0, 10), `${wrong.length} of ${cohort.samples.length} samples wrong`).toEqual([]);

      // The correction to PLINK is confined to split multi-allelic sites and sites PLINK cannot pair.
      const multi = new Set(cohort.sites.filter((s) => s.rows.length > 1).map((s) => `${s.chrom}:${s.pos}`));
      const pair = (a: string, b: string | undefined) => [a, b].sort().join('/');
      const paired = (v: ModelVariant) =>
        cohort.sites.some((s) => s.chrom === v.chr && s.pos === v.pos && s.rows.some((r) => pair(r.ref, r.alt) === pair(v.effectAllele, v.otherAllele)));
      const where = [...oracle.divergent].map((i) => model.variants[i]!);
      for (const v of where) expect(multi.has(`${v.chr}:${v.pos}`) || !paired(v), `${v.chr}:${v.pos}`).toBe(true);
      console.info(
        `1000 Genomes: PLINK's per-row dosages corrected at ${where.map((v) => `${v.chr}:${v.pos}`).join(', ')} (${oracle.samplesCorrected} samples)`,
      );
    },
    SLOW,
  );

  it(
    'PGS001229_22 (GRCh37, rsIDs, indels as D/I, missing calls as --): all 2,504 CINECA samples',
    async () => {
      const model = await load('PGS001229_22.txt');
      const cohort = readCohort('cineca_synthetic_subset.vcf.gz', '37');
      // One person's file cannot mean-impute: equal to score_sum where nothing is missing.
      const oracle = new Oracle(model, cohort, plinkScores('expected_scores_PGS001229_22_cineca.tsv', 'score_sum_no_mean_imputation'));
      const t0 = performance.now();
      const wrong = await scoreEvery(model, cohort, oracle);
      console.info(`CINECA: ${cohort.samples.length} 23andMe files written and matched in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(wrong.slice(0, 10), `${wrong.length} of ${cohort.samples.length} samples wrong`).toEqual([]);
      expect(oracle.divergent.size, 'PLINK 2 itself, no correction').toBe(0);
    },
    SLOW,
  );
});
