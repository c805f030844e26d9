/**
 * 23andMe raw files written from the real VCFs in ../shared/data/pgs, one per sample, so the
 * 23andMe path can be checked against PLINK 2's scores of the same people (see twentythree-plink.test.ts).
 *
 * What a 23andMe file can say about a person, and how the VCF is turned into it:
 * - one genotype per position: the letters of the person's bases there (`AG`), one letter for a
 *   haploid call (male chrX), `--` for a missing call;
 * - a position whose rows are all indels is written as `D`/`I` (the shorter/longer allele);
 * - the 1000 Genomes VCF splits multi-allelic sites into several biallelic rows at one POS (34
 *   positions, 2-5 rows). A person has one allele per haplotype there: the SNV ALT the haplotype
 *   carries, else the REF base. An indel row keeps its anchor base (REF's first letter is the base
 *   at POS for an insertion after it or a deletion of the bases after it), so it leaves the letter
 *   at REF. A haplotype that carries the ALT of two SNV rows contradicts the split (one haplotype,
 *   one base): it occurs twice (at 11:69382228) and is written as a no-call;
 * - rsIDs where the VCF has them (CINECA), else `i1`, `i2`, … (1000 Genomes: its IDs are
 *   chr:pos:ref:alt), which only a position can match.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { ModelDefinition, ModelVariant } from '../../src/shared/model.js';
import { dataPath, readTable } from './data.js';

export interface SiteRow {
  ref: string;
  alt: string;
  /** GT of every sample, as written (`0|1`, `1`, `./.`). */
  calls: string[];
}

/** All VCF rows at one chromosome position. */
export interface Site {
  chrom: string;
  pos: number;
  id: string;
  rows: SiteRow[];
}

export interface Cohort {
  samples: string[];
  sites: Site[];
  /** GRCh build the 23andMe header names. */
  build: '37' | '38';
}

/** Cohorts read in this process: three test files read the same two (vitest runs files in one process). */
const cohorts = new Map<string, Cohort>();

/** The cohort of a VCF in ../shared/data/pgs, read once per process; callers do not modify it. */
export function readCohort(vcf: string, build: '37' | '38'): Cohort {
  const key = `${vcf}:${build}`;
  let cohort = cohorts.get(key);
  if (!cohort) cohorts.set(key, (cohort = parseCohort(vcf, build)));
  return cohort;
}

function parseCohort(vcf: string, build: '37' | '38'): Cohort {
  const lines = gunzipSync(readFileSync(dataPath(vcf)))
    .toString('utf8')
    .split('\n');
  let samples: string[] = [];
  const sites: Site[] = [];
  const at = new Map<string, Site>();
  for (const line of lines) {
    if (line === '' || line.startsWith('##')) continue;
    const f = line.split('\t');
    if (line.startsWith('#')) {
      samples = f.slice(9);
      continue;
    }
    const [chrom, pos, id] = [f[0]!.replace(/^chr/, ''), Number(f[1]), f[2]!];
    if (f[8] !== 'GT' || f[4]!.includes(',')) throw new Error(`${vcf}: FORMAT ${f[8]}, ALT ${f[4]}; this writer reads biallelic GT only`);
    const key = `${chrom}:${pos}`;
    let site = at.get(key);
    if (!site) {
      site = { chrom, pos, id: /^rs\d+$/.test(id) ? id : `i${sites.length + 1}`, rows: [] };
      at.set(key, site);
      sites.push(site);
    }
    site.rows.push({ ref: f[3]!.toUpperCase(), alt: f[4]!.toUpperCase(), calls: f.slice(9) });
  }
  return { samples, sites, build };
}

const isSnv = (r: SiteRow) => r.ref.length === 1 && r.alt.length === 1;

/** Sample j's letters at a site (1 for a haploid call, 2 for a diploid one), or undefined for a no-call. */
export function siteLetters(site: Site, j: number): string[] | undefined {
  // Biallelic rows: a GT is one allele index (haploid) or two around '/' or '|', each 0, 1 or '.'.
  if (site.rows.length === 1 && isSnv(site.rows[0]!)) {
    // Most sites: one SNV row, letters straight from the GT (the general case below is slow).
    const { ref, alt, calls } = site.rows[0]!;
    const g = calls[j]!;
    if (g.includes('.')) return undefined;
    return g.length === 1 ? [g === '1' ? alt : ref] : [g[0] === '1' ? alt : ref, g[2] === '1' ? alt : ref];
  }
  const gts = site.rows.map((r) => r.calls[j]!);
  if (gts.some((g) => g.includes('.'))) return undefined;
  const ploidy = gts[0]!.length === 1 ? 1 : 2;
  const snvSite = site.rows.some(isSnv);
  if (!snvSite && site.rows.length > 1) throw new Error(`${site.chrom}:${site.pos}: several indel rows cannot be written as D/I`);
  const letters: string[] = [];
  for (let h = 0; h < ploidy; h++) {
    const carried = site.rows.filter((_, k) => gts[k]![2 * h] === '1');
    if (!snvSite) {
      const { ref, alt } = site.rows[0]!;
      const allele = carried.length > 0 ? alt : ref;
      letters.push(allele.length === Math.min(ref.length, alt.length) ? 'D' : 'I');
      continue;
    }
    const snvAlts = carried.filter(isSnv);
    if (snvAlts.length > 1) return undefined; // two bases on one haplotype: see the file comment
    letters.push(snvAlts[0]?.alt ?? site.rows[0]!.ref[0]!);
  }
  return letters;
}

/**
 * Copies of the effect allele in a person's letters at a model variant, or undefined when the
 * variant cannot be used (no-call, or none of the letters is the effect or the other allele).
 * The 23andMe rule, written from its definition; written here from its definition,
 * not from the matcher.
 */
export function letterDose(v: ModelVariant, letters: string[] | undefined): number | undefined {
  if (!letters) return undefined;
  const { effectAllele: e, otherAllele: o } = v;
  const indel = o !== undefined && o.length !== e.length;
  const [shorter, longer] = o !== undefined && o.length < e.length ? [o, e] : [e, o];
  const alleles = letters.map((l) => (l === 'D' || l === 'I' ? (indel ? (l === 'D' ? shorter : longer) : undefined) : l));
  if (o !== undefined && !alleles.some((a) => a === e || a === o)) return undefined; // without o, others are non-effect
  const copies = alleles.filter((a) => a === e).length;
  return letters.length === 1 ? 2 * copies : copies; // a haploid call counts twice, as PLINK 2 stores it
}

/** The site each model variant reads (by rsID, else chr:pos), as the 23andMe matcher finds it. */
export function siteIndex(model: { variants: readonly ModelVariant[] }, cohort: Cohort): (number | undefined)[] {
  const byPos = new Map(cohort.sites.map((s, k) => [`${s.chrom}:${s.pos}`, k]));
  const byRsid = new Map(cohort.sites.map((s, k) => [s.id, k]));
  return model.variants.map((v) => (v.rsid ? byRsid.get(v.rsid) : undefined) ?? byPos.get(`${v.chr}:${v.pos}`));
}

/** Sample j's letters at every site, in file order. */
export const sampleLetters = (cohort: Cohort, j: number): (string[] | undefined)[] => cohort.sites.map((site) => siteLetters(site, j));

/** The 23andMe file of sample j (letters from sampleLetters); `order` permutes its data rows. */
export function twentyThreeText(cohort: Cohort, j: number, letters = sampleLetters(cohort, j), order?: readonly number[]): string {
  const rows = cohort.sites.map((site, k) => `${site.id}\t${site.chrom}\t${site.pos}\t${letters[k]?.join('') ?? '--'}`);
  const body = order ? order.map((k) => rows[k]!) : rows;
  return [
    `# Written by veil's tests from sample ${cohort.samples[j]} of a VCF; not a 23andMe export.`,
    `# We are using reference human assembly build ${cohort.build}.`,
    '# rsid\tchromosome\tposition\tgenotype',
    ...body,
    '',
  ].join('\n');
}

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
export class Oracle {
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

/** A column of a PLINK 2 expected-scores table, by sample. */
export const plinkScores = (file: string, col: string): Map<string, number> => new Map(readTable(file).map((r) => [r.sample_id!, Number(r[col])]));

/** A reproducible shuffle of 0..n-1 (xorshift32 + Fisher-Yates). */
export function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let x = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const k = x % (i + 1);
    [order[i], order[k]] = [order[k]!, order[i]!];
  }
  return order;
}
