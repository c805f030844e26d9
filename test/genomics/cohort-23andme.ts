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
import type { ModelVariant } from '../../src/shared/model.js';
import { dataPath } from './data.js';

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

export function readCohort(vcf: string, build: '37' | '38'): Cohort {
  const lines = gunzipSync(readFileSync(dataPath(vcf))).toString('utf8').split('\n');
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
