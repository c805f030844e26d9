import { createReadStream, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ModelDefinition, ModelVariant } from '../../src/shared/model.js';
import { parsePgsScoringFile } from '../../src/shared/pgs.js';
import { match23andMe, matchVcf } from '../../src/producer/genomics/match.js';
import { letterDose, readCohort, sampleLetters, shuffled, siteIndex, twentyThreeText, type Cohort } from './cohort-23andme.js';
import { dataPath, dot, hasData, warnIfNoData } from './data.js';

warnIfNoData('matcher properties on real genotypes');

/**
 * Properties that catch a dosage written to the wrong place: the dosages a matcher returns do not
 * depend on how big its internal buffers start (growth happens at other rows), on the order of
 * the file's rows, or on the size of the model.
 */
/** A million-row file: tens of seconds when the 2 cores are shared. */
const SLOW = 600_000;
const CAPACITIES = [1, 2, 3, undefined]; // undefined: the matcher's default
const load = async (file: string) => (await parsePgsScoringFile(createReadStream(dataPath(file)))).model;

/** Effect-allele dosages the 23andMe file of sample j must give, from its letters (0 where unused). */
function expectedDosages(model: ModelDefinition, cohort: Cohort, j: number): number[] {
  const letters = sampleLetters(cohort, j);
  return siteIndex(model, cohort).map((k, i) => (k === undefined ? 0 : (letterDose(model.variants[i]!, letters[k]) ?? 0)));
}

describe.skipIf(!hasData)('23andMe matcher properties (files written from real cohorts)', () => {
  const cases = [
    {
      name: '1000 Genomes HG00096 (male: haploid chrX)',
      model: 'PGS000586_hmPOS_GRCh38.txt.gz',
      vcf: 'PGS000586_GRCh38.vcf.gz',
      build: '38',
      sample: 'HG00096',
    },
    { name: 'CINECA HG00096 (indels as D/I)', model: 'PGS001229_22.txt', vcf: 'cineca_synthetic_subset.vcf.gz', build: '37', sample: 'HG00096_HG00096' },
  ] as const;

  for (const c of cases) {
    it(`${c.name}: same dosages with initial capacity 1, 2, 3 or default, in file order or shuffled`, async () => {
      const model = await load(c.model);
      const cohort = readCohort(c.vcf, c.build);
      const j = cohort.samples.indexOf(c.sample);
      const want = expectedDosages(model, cohort, j);
      expect(want.filter((d) => d > 0).length).toBeGreaterThan(128); // past the first doublings
      const orders = [
        undefined,
        shuffled(cohort.sites.length, 7),
        shuffled(cohort.sites.length, 1234),
        cohort.sites.map((_, k) => cohort.sites.length - 1 - k),
      ];
      for (const order of orders) {
        const text = Buffer.from(twentyThreeText(cohort, j, undefined, order));
        for (const initialRows of CAPACITIES) {
          const got = Array.from((await match23andMe(model, text, { initialRows })).dosages(0));
          const wrong = got.flatMap((d, i) => (d === want[i] ? [] : [`variant ${i}: ${d}, expected ${want[i]}`]));
          expect(wrong.slice(0, 5), `capacity ${initialRows ?? 'default'}, ${order ? 'shuffled' : 'file order'}: ${wrong.length} wrong`).toEqual([]);
        }
      }
    });
  }
});

/** A reproducible stream of integers in [0, n). */
function random(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

const PAIRS = [
  ['A', 'G'],
  ['C', 'T'],
  ['A', 'C'],
  ['G', 'T'],
]; // no A/T or C/G: every letter says which allele

/** A synthetic model of n SNVs on chr1-22 with rsIDs, and effect-allele dosages for `samples` people. */
function bigModel(n: number, samples: number) {
  const next = random(2026);
  const variants: ModelVariant[] = [];
  const weights = new Float64Array(n);
  const dosages = Array.from({ length: samples }, () => new Uint8Array(n));
  for (let i = 0; i < n; i++) {
    const [a, b] = PAIRS[next(4)]!;
    const [effectAllele, otherAllele] = next(2) ? [a!, b!] : [b!, a!];
    variants.push({ rsid: `rs${i + 1}`, chr: String(1 + (i % 22)), pos: 1 + 10 * Math.floor(i / 22), effectAllele, otherAllele });
    weights[i] = (next(20001) - 10000) / 1e5;
    for (const d of dosages) d[i] = next(3);
  }
  /** Σ wᵢ·dᵢ in model order, the order dot() adds in. */
  const expected = dosages.map((d) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += weights[i]! * d[i]!;
    return sum;
  });
  return { model: { variants, metadata: { genome_build: 'GRCh37' } }, weights, dosages, expected };
}

describe('model size: a 1,000,000-variant model with every variant in the file', () => {
  const N = 1_000_000;

  it(
    '23andMe: Σ wᵢ·dᵢ exactly',
    async () => {
      const { model, weights, dosages, expected } = bigModel(N, 1);
      const lines = ['# We are using reference human assembly build 37', '# rsid\tchromosome\tposition\tgenotype'];
      model.variants.forEach((v, i) => {
        const d = dosages[0]![i]!;
        lines.push(`${v.rsid}\t${v.chr}\t${v.pos}\t${v.effectAllele.repeat(d)}${v.otherAllele!.repeat(2 - d)}`);
      });
      const t0 = performance.now();
      const m = await match23andMe(model, Buffer.from(lines.join('\n')));
      console.info(`23andMe, ${N} variants: matched in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(m.variantsUsed).toBe(N);
      expect(dot(weights, m.dosages(0))).toBe(expected[0]);
    },
    SLOW,
  );

  it(
    'VCF (3 samples): Σ wᵢ·dᵢ exactly for each',
    async () => {
      const { model, weights, dosages, expected } = bigModel(N, 3);
      const lines = ['##fileformat=VCFv4.2', '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3'];
      const gt = ['0/0', '0/1', '1/1'];
      model.variants.forEach((v, i) => {
        // REF is the effect allele for odd i: the effect dosage is 2 − ALT count there.
        const effectIsRef = i % 2 === 1;
        const [ref, alt] = effectIsRef ? [v.effectAllele, v.otherAllele!] : [v.otherAllele!, v.effectAllele];
        const calls = dosages.map((d) => gt[effectIsRef ? 2 - d[i]! : d[i]!]);
        lines.push(`${v.chr}\t${v.pos}\t.\t${ref}\t${alt}\t.\t.\t.\tGT\t${calls.join('\t')}`);
      });
      const t0 = performance.now();
      const m = await matchVcf({ variants: model.variants.map(({ rsid: _, ...v }) => v) }, Buffer.from(lines.join('\n')));
      console.info(`VCF, ${N} variants × 3 samples: matched in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(m.variantsUsed).toBe(N);
      expected.forEach((want, s) => expect(dot(weights, m.dosages(s)), `sample ${s}`).toBe(want));
    },
    SLOW,
  );
});

describe.skipIf(!hasData)('VCF matcher properties (real cohorts)', () => {
  it('CINECA (2,504 samples, missing calls imputed): same dosages with initial capacity 1, 2, 3 or default, records in file order or shuffled', async () => {
    const model = await load('PGS001229_22.txt');
    const text = gunzipSync(readFileSync(dataPath('cineca_synthetic_subset.vcf.gz'))).toString('utf8');
    const lines = text.trimEnd().split('\n');
    const header = lines.filter((l) => l.startsWith('#'));
    const records = lines.filter((l) => !l.startsWith('#'));
    const reference = await matchVcf(model, Buffer.from(text));
    expect(reference.variantsUsed).toBe(829);
    const want = reference.samples.map((_, s) => Array.from(reference.dosages(s)));
    for (const order of [shuffled(records.length, 7), records.map((_, k) => records.length - 1 - k)]) {
      const input = Buffer.from([...header, ...order.map((k) => records[k]!), ''].join('\n'));
      for (const initialRows of CAPACITIES) {
        const m = await matchVcf(model, input, { initialRows });
        const wrong = m.samples.filter((_, s) => Array.from(m.dosages(s)).some((d, i) => d !== want[s]![i]));
        expect(wrong.slice(0, 5), `capacity ${initialRows ?? 'default'}: ${wrong.length} samples differ`).toEqual([]);
      }
    }
  });

  it('1000 Genomes chosen samples with initial capacity 1: the dosages of the full default run', async () => {
    const model = await load('PGS000586_hmPOS_GRCh38.txt.gz');
    const all = await matchVcf(model, createReadStream(dataPath('PGS000586_GRCh38.vcf.gz')));
    const chosen = [all.samples[0]!, all.samples.at(-1)!];
    const tiny = await matchVcf(model, createReadStream(dataPath('PGS000586_GRCh38.vcf.gz')), { samples: chosen, initialRows: 1 });
    chosen.forEach((name, s) => expect(Array.from(tiny.dosages(s))).toEqual(Array.from(all.dosages(all.samples.indexOf(name)))));
  });
});
