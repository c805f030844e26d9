import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ModelDefinition, ModelVariant } from '../../src/shared/model.js';
import { parsePgsScoringFile } from '../../src/shared/pgs.js';
import { match23andMe } from '../../src/producer/genomics/match.js';
import { letterDose, readCohort, siteIndex, sampleLetters, twentyThreeText, type Cohort, type Site } from './cohort-23andme.js';
import { dataPath, dot, hasData, readTable, warnIfNoData } from './data.js';

warnIfNoData('23andMe files from real cohorts vs PLINK 2');

/**
 * Effect-allele dosage PLINK 2 --score gives sample j at a model variant (data README §3): the one
 * row at its position whose {REF, ALT} is {effect, other}; a haploid call is homozygous; a missing
 * call counts 0 (no-mean-imputation). 0 when no row matches: PLINK skips the variant.
 */
function plinkDose(v: ModelVariant, site: Site | undefined, j: number): number {
  const row = site?.rows.find((r) => (r.ref === v.effectAllele && r.alt === v.otherAllele) || (r.alt === v.effectAllele && r.ref === v.otherAllele));
  if (!row) return 0;
  const gt = row.calls[j]!; // biallelic: `0`, `1`, `0|1`, `./.`, …
  if (gt.includes('.')) return 0;
  const alt = gt.length === 1 ? (gt === '1' ? 2 : 0) : Number(gt[0] === '1') + Number(gt[2] === '1');
  return row.alt === v.effectAllele ? alt : 2 - alt;
}

/**
 * What the 23andMe files must score: PLINK 2's score_sum (a VCF oracle) plus, at the few variants
 * where one genotype per position cannot say what PLINK's split rows say, the difference between
 * the letters' dosage and PLINK's row dosage:
 * - effect = REF at a split multi-allelic site: PLINK reads a haplotype carrying another row's ALT
 *   as REF (bcftools norm -m- writes 0 there), the letters say it is that other base;
 * - a site whose rows never pair with {effect, other} (X:70897171 is T/C and T/TAG, the model
 *   T/G): PLINK skips it, but `TT` at a T/G variant is two copies of T in a 23andMe file;
 * - the two haplotypes written as a no-call (see cohort-23andme.ts).
 * variantsUsed: model variants whose rsID (or position) is in the file with a call whose letters
 * include the effect or the other allele.
 */
class Oracle {
  /** Model variants where the letters and PLINK's per-row reading disagree for some sample. */
  readonly divergent = new Set<number>();
  samplesCorrected = 0;
  private readonly siteOf: (number | undefined)[];

  constructor(
    private readonly model: ModelDefinition,
    private readonly cohort: Cohort,
    private readonly plink: Map<string, number>,
  ) {
    this.siteOf = siteIndex(model, cohort);
  }

  expect(j: number, letters: (string[] | undefined)[]): { score: number; variantsUsed: number } {
    let correction = 0;
    let variantsUsed = 0;
    this.model.variants.forEach((v, i) => {
      const k = this.siteOf[i];
      const dose = k === undefined ? undefined : letterDose(v, letters[k]);
      if (dose !== undefined) variantsUsed++;
      const delta = (dose ?? 0) - plinkDose(v, k === undefined ? undefined : this.cohort.sites[k], j);
      if (delta !== 0) {
        this.divergent.add(i);
        correction += this.model.weights[i]! * delta;
      }
    });
    const plink = this.plink.get(this.cohort.samples[j]!);
    if (plink === undefined) throw new Error(`no PLINK 2 score for ${this.cohort.samples[j]}`);
    if (correction !== 0) this.samplesCorrected++;
    return { score: plink + correction, variantsUsed };
  }
}

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

const plinkColumn = (file: string, col: string) => new Map(readTable(file).map((r) => [r.sample_id!, Number(r[col])]));
const load = async (file: string) => (await parsePgsScoringFile(createReadStream(dataPath(file)))).model;

describe.skipIf(!hasData)('23andMe files written from the real cohorts score like PLINK 2', () => {
  it('PGS000586 (GRCh38, header build 38, i-IDs matched by position): all 3,202 1000 Genomes samples', async () => {
    const model = await load('PGS000586_hmPOS_GRCh38.txt.gz');
    const cohort = readCohort('PGS000586_GRCh38.vcf.gz', '38');
    const oracle = new Oracle(model, cohort, plinkColumn('expected_scores.tsv', 'score_sum'));
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
    console.info(`1000 Genomes: PLINK's per-row dosages corrected at ${where.map((v) => `${v.chr}:${v.pos}`).join(', ')} (${oracle.samplesCorrected} samples)`);
  });

  it('PGS001229_22 (GRCh37, rsIDs, indels as D/I, missing calls as --): all 2,504 CINECA samples', async () => {
    const model = await load('PGS001229_22.txt');
    const cohort = readCohort('cineca_synthetic_subset.vcf.gz', '37');
    // One person's file cannot mean-impute: equal to score_sum where nothing is missing.
    const oracle = new Oracle(model, cohort, plinkColumn('expected_scores_PGS001229_22_cineca.tsv', 'score_sum_no_mean_imputation'));
    const t0 = performance.now();
    const wrong = await scoreEvery(model, cohort, oracle);
    console.info(`CINECA: ${cohort.samples.length} 23andMe files written and matched in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(wrong.slice(0, 10), `${wrong.length} of ${cohort.samples.length} samples wrong`).toEqual([]);
    expect(oracle.divergent.size, 'PLINK 2 itself, no correction').toBe(0);
  });
});
