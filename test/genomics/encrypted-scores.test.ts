import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { matchVcf, type VcfMatchOptions } from '../../src/producer/genomics/match.js';
import { scoreSamples } from '../../src/producer/genomics/score.js';
import { choosePacking, type Packing } from '../../src/shared/layout.js';
import { DEFAULT_PRESET, getPreset } from '../../src/shared/params.js';
import { parsePgsScoringFile } from '../../src/shared/pgs.js';
import { useStackWithOwner } from '../helpers/stack.js';
import { Oracle, plinkScores, readCohort, sampleLetters, twentyThreeText } from './cohort-23andme.js';
import { dataPath, hasData, readTable, warnIfNoData } from './data.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);
warnIfNoData('encrypted PGS scores');

/**
 * The real PGS data through the whole encrypted pipeline: PGS Catalog files uploaded as models,
 * VCFs matched on the owner's side, every sample encrypted (several per ciphertext), scored by a
 * worker process, decrypted — and compared with PLINK 2's sums.
 */
describe.skipIf(!hasData)('PGS Catalog scores on encrypted genotypes', () => {
  const f = useStackWithOwner({ workers: 2 });
  const expected = (file: string, col: string) => new Map(readTable(file).map((r) => [r.sample_id!, Number(r[col])]));

  beforeAll(async () => {
    expect(await f.client.addModelFile(await readFile(dataPath('PGS000586_hmPOS_GRCh38.txt.gz')))).toMatchObject({ modelId: 'PGS000586', variants: 1023 });
    expect(await f.client.addModelFile(await readFile(dataPath('PGS001229_22.txt')))).toMatchObject({ modelId: 'PGS001229', variants: 835 });
  });

  async function scoreAll(modelId: string, vcf: string, opts: VcfMatchOptions = {}, packing?: Packing) {
    const model = await f.client.getModel(modelId);
    const match = await matchVcf({ variants: model.variantList, metadata: model.metadata }, createReadStream(dataPath(vcf)), opts);
    return { match, scores: await scoreSamples(f.client, f.owner, modelId, match, undefined, { packing }) };
  }

  it('PGS000586 on all 3,202 1000 Genomes samples equals PLINK 2 score_sum (±1e-4)', async () => {
    const { match, scores } = await scoreAll('PGS000586', 'PGS000586_GRCh38.vcf.gz');
    expect(match.variantsUsed).toBe(985);
    const want = expected('expected_scores.tsv', 'score_sum');
    expect(scores).toHaveLength(want.size);
    for (const s of scores) expect(Math.abs(s.score - want.get(s.sample)!), s.sample).toBeLessThan(1e-4);
  });

  it('sample packing (one ciphertext per variant, sample k at coefficient k, scalar products) gives the same PLINK 2 sums', async () => {
    // CINECA: 2,504 samples × 835 variants in one job of 835 ciphertexts; missing calls mean-imputed.
    const { scores } = await scoreAll('PGS001229', 'cineca_synthetic_subset.vcf.gz', {}, 'sample');
    const want = expected('expected_scores_PGS001229_22_cineca.tsv', 'score_sum');
    expect(scores).toHaveLength(want.size);
    for (const s of scores) expect(Math.abs(s.score - want.get(s.sample)!), s.sample).toBeLessThan(1e-4);
    // The owner picks sample packing by itself once it takes no more ciphertexts (N samples or more).
    expect(choosePacking(getPreset(DEFAULT_PRESET), 835, 2504)).toBe('coeff');
    expect(choosePacking(getPreset(DEFAULT_PRESET), 835, 8192)).toBe('sample');
  });

  // The two tests below vary only the owner-side matching, which plink-scores.test.ts checks on every
  // sample in plaintext; here a subset goes through encryption, to show the options reach the scores.
  const someOf = (file: string, col: string, extra: (r: Record<string, string>) => boolean = () => false) => {
    const rows = readTable(file, file.endsWith('.tsv') ? '\t' : ',');
    return rows.filter((r, i) => i % 16 === 0 || extra(r)).map((r) => r[col]!);
  };

  it("reproduces the PGS Catalog Calculator's own sums on its variant set (chr1-22, no A/T or C/G SNPs)", async () => {
    const samples = someOf('pgsc_calc_v2_scores_PGS000586.txt.gz', 'FID');
    const { match, scores } = await scoreAll('PGS000586', 'PGS000586_GRCh38.vcf.gz', { autosomesOnly: true, excludeAmbiguous: true, samples });
    expect(match.variantsUsed).toBe(809);
    const want = new Map(readTable('pgsc_calc_v2_scores_PGS000586.txt.gz', ',').map((r) => [r.FID!, Number(r.SUM)]));
    expect(scores.map((s) => s.sample)).toEqual(samples);
    for (const s of scores) expect(Math.abs(s.score - want.get(s.sample)!), s.sample).toBeLessThan(1e-4);
  });

  it('PGS001229_22 on CINECA equals score_sum and score_sum_no_mean_imputation (every sample with a missing call)', async () => {
    const file = 'expected_scores_PGS001229_22_cineca.tsv';
    const samples = someOf(file, 'sample_id', (r) => r.score_sum !== r.score_sum_no_mean_imputation);
    for (const [noMean, col] of [
      [false, 'score_sum'],
      [true, 'score_sum_no_mean_imputation'],
    ] as const) {
      const { scores } = await scoreAll('PGS001229', 'cineca_synthetic_subset.vcf.gz', { noMeanImputation: noMean, samples });
      const want = expected(file, col);
      expect(scores.map((s) => s.sample)).toEqual(samples);
      for (const s of scores) expect(Math.abs(s.score - want.get(s.sample)!), `${col} ${s.sample}`).toBeLessThan(1e-4);
    }
  });

  it('veil models add + veil grs --vcf/--23andme: a PGS download to an encrypted score in two commands', async () => {
    const veil = async (...args: string[]) =>
      JSON.parse(
        (await exec(process.execPath, ['bin/veil.js', '--server', f.stack.apiUrl, '--json', ...args], { cwd: ROOT })).stdout.trim().split('\n').pop()!,
      );
    expect(await veil('models', 'add', dataPath('PGS001229_22.txt'), '--id', 'height')).toMatchObject({ modelId: 'height', variants: 835 });
    const one = await veil('grs', '--model', 'height', '--keys', f.keyDir, '--vcf', dataPath('cineca_synthetic_subset.vcf.gz'), '--sample', 'HG00097_HG00097');
    expect(one).toMatchObject({ modelId: 'height', variantsUsed: 829, variantsMissing: 6 });
    expect(Math.abs(one.score - expected('expected_scores_PGS001229_22_cineca.tsv', 'score_sum').get('HG00097_HG00097')!)).toBeLessThan(1e-4);

    // A 23andMe file for three of the model's rsIDs (GRCh37, like the model).
    const model = await f.client.getModel('height');
    const [a, b, c] = model.variantList;
    const dir = await mkdtemp(join(tmpdir(), 'veil-23andme-'));
    const file = join(dir, 'genome.txt');
    await writeFile(
      file,
      `# rsid\tchromosome\tposition\tgenotype\n${a!.rsid}\t22\t${a!.pos}\t${a!.effectAllele}${a!.effectAllele}\n${b!.rsid}\t22\t${b!.pos}\t${b!.effectAllele}${b!.otherAllele}\n${c!.rsid}\t22\t${c!.pos}\t--\n`,
    );
    const raw = await veil('grs', '--model', 'height', '--keys', f.keyDir, '--23andme', file);
    await rm(dir, { recursive: true, force: true });
    expect(raw).toMatchObject({ variantsUsed: 2, variantsMissing: 833 });
    const { model: local } = await parsePgsScoringFile(createReadStream(dataPath('PGS001229_22.txt')));
    expect(Math.abs(raw.score - (2 * local.weights[0]! + local.weights[1]!))).toBeLessThan(1e-9);
  });

  it('veil grs --23andme on files written from both real cohorts equals PLINK 2 (male chrX, indels, missing calls)', async () => {
    const veil = async (...args: string[]) =>
      JSON.parse(
        (await exec(process.execPath, ['bin/veil.js', '--server', f.stack.apiUrl, '--json', ...args], { cwd: ROOT })).stdout.trim().split('\n').pop()!,
      );
    const dir = await mkdtemp(join(tmpdir(), 'veil-23andme-'));
    const cohorts = [
      // HG00096 is male (haploid chrX calls), HG00097 female; both carry the per-site corrections.
      {
        modelId: 'PGS000586',
        model: 'PGS000586_hmPOS_GRCh38.txt.gz',
        vcf: 'PGS000586_GRCh38.vcf.gz',
        build: '38',
        plink: plinkScores('expected_scores.tsv', 'score_sum'),
        samples: ['HG00096', 'HG00097'],
      },
      // HG00096: 829 variants, the 7 indels as D/I, no missing call (PLINK 2: 0.331803); HG00099: one missing call.
      {
        modelId: 'PGS001229',
        model: 'PGS001229_22.txt',
        vcf: 'cineca_synthetic_subset.vcf.gz',
        build: '37',
        plink: plinkScores('expected_scores_PGS001229_22_cineca.tsv', 'score_sum_no_mean_imputation'),
        samples: ['HG00096_HG00096', 'HG00099_HG00099'],
      },
    ] as const;
    try {
      for (const c of cohorts) {
        const { model } = await parsePgsScoringFile(createReadStream(dataPath(c.model)));
        const cohort = readCohort(c.vcf, c.build);
        const oracle = new Oracle(model, cohort, c.plink);
        for (const sample of c.samples) {
          const j = cohort.samples.indexOf(sample);
          const letters = sampleLetters(cohort, j);
          if (sample === 'HG00096') expect(letters[cohort.sites.findIndex((s) => s.chrom === 'X')], 'a male: one letter on chrX').toHaveLength(1);
          const file = join(dir, `${sample}.txt`);
          await writeFile(file, twentyThreeText(cohort, j, letters));
          const want = oracle.expect(j, letters);
          const got = await veil('grs', '--model', c.modelId, '--keys', f.keyDir, '--23andme', file);
          expect(got, sample).toMatchObject({
            modelId: c.modelId,
            variantsUsed: want.variantsUsed,
            variantsMissing: model.variants.length - want.variantsUsed,
          });
          expect(Math.abs(got.score - want.score), `${sample}: ${got.score} vs ${want.score}`).toBeLessThan(1e-4);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
