/**
 * Genotypes → effect-allele dosages in model order, matched the way PLINK 2 `--score` matches
 * (see data/pgs/README.md §3 and verify_prs.py):
 * - a model variant with chr, pos and both alleles matches a record at that chr:pos whose
 *   unordered {REF, ALT} equals {effect, other}; one without them matches by rsID, and then only
 *   the effect allele must be REF or ALT;
 * - no strand flipping; multi-allelic records are not used (split them: bcftools norm -m-);
 * - missing calls are mean-imputed (dosage 2p, p = effect-allele frequency among the file's
 *   samples with a call), or 0 with `noMeanImputation`.
 * Where PLINK 2 stops with an error (a variant matched by two records, or listed twice in the
 * model) we skip the variant and count the reason instead.
 */
import { VeilError } from '../../shared/errors.js';
import type { ModelVariant } from '../../shared/model.js';
import type { TextInput } from '../../shared/lines.js';
import { modelGenomeBuild } from '../../shared/pgs.js';
import { TwentyThreeReader, type TwentyThreeRow } from './twentythree.js';
import { VcfReader, type VcfOptions } from './vcf.js';
import {
  ALLELE_MISMATCH,
  DosageRows,
  DUPLICATE_IN_MODEL,
  DUPLICATE_RECORD,
  EXCLUDED_CHROMOSOME,
  MULTIALLELIC,
  NO_CALL,
  NOT_FOUND,
  result,
  STRAND_AMBIGUOUS,
  USED,
  VariantIndex,
  type GenotypeMatch,
} from './variant-index.js';

export type { GenotypeMatch, SkipReason } from './variant-index.js';

/** A ModelDefinition, or just its variants (metadata tells a 23andMe match the model's build). */
export interface ModelVariants {
  variants: readonly ModelVariant[];
  metadata?: Record<string, string>;
}

export interface MatchFilters {
  /** Use chr1-22 only. With excludeAmbiguous this is pgsc_calc's default variant set. */
  autosomesOnly?: boolean;
  /** Skip strand-ambiguous SNPs ({A,T} or {C,G}). */
  excludeAmbiguous?: boolean;
}

export interface Progress {
  /** Input (compressed) bytes read so far. */
  bytes: number;
  /** Records (VCF) or rows (23andMe) read so far. */
  records: number;
}

/** Not for callers: tests start the dosage buffer tiny so that it grows at many different rows. */
interface BufferOptions {
  initialRows?: number;
}

export interface VcfMatchOptions extends MatchFilters, BufferOptions, Pick<VcfOptions, 'dosageField' | 'haploidCopies'> {
  /** Sample names to return, in this order; default all, in file order. */
  samples?: string[];
  noMeanImputation?: boolean;
  onProgress?: (p: Progress) => void;
}

export interface TwentyThreeMatchOptions extends MatchFilters, BufferOptions, Pick<VcfOptions, 'haploidCopies'> {
  /** Name reported in `samples` (default `sample`). */
  sampleName?: string;
  onProgress?: (p: Progress) => void;
}

/** One pass over a VCF: a dosage row (one value per chosen sample) per used model variant. */
export async function matchVcf(model: ModelVariants, input: TextInput, opts: VcfMatchOptions = {}): Promise<GenotypeMatch> {
  const index = new VariantIndex(model.variants, 'vcf');
  let records = 0;
  const onBytes = opts.onProgress && ((bytes: number) => opts.onProgress!({ bytes, records }));
  const reader = await VcfReader.open(input, { dosageField: opts.dosageField, haploidCopies: opts.haploidCopies, onBytes });
  try {
    const chosen = chooseSamples(reader.samples, opts.samples);
    const n = reader.samples.length;
    const [alt, ploidy, effect] = [new Float64Array(n), new Uint8Array(n), new Float64Array(n)];
    const rows = new DosageRows(model.variants.length, chosen.length, opts.initialRows);
    for await (const rec of reader.records()) {
      records++;
      const locus = index.byLocus.get(`${rec.chrom}:${rec.pos}`) ?? -1;
      const rsids =
        rec.id === '.'
          ? []
          : rec.id
              .split(';')
              .map((id) => index.byRsid.get(id) ?? -1)
              .filter((i) => i >= 0);
      if (locus < 0 && rsids.length === 0) continue;
      const biallelic = !rec.alt.includes(',');
      let parsed = false;
      const consider = (i: number, allelesMatch: boolean) => {
        const v = model.variants[i]!;
        if (index.status[i] === DUPLICATE_IN_MODEL || index.status[i] === DUPLICATE_RECORD) return;
        if (!biallelic || !allelesMatch) return index.observe(i, biallelic ? ALLELE_MISMATCH : MULTIALLELIC);
        if (index.status[i] === USED) return index.duplicate(i, rows);
        const excluded = exclusion(opts, rec.chrom, rec.ref, rec.alt);
        if (excluded) return void (index.status[i] = excluded);
        if (!parsed) {
          rec.calls(alt, ploidy);
          parsed = true;
        }
        const effectIsAlt = v.effectAllele === rec.alt;
        let sum = 0;
        let called = 0;
        for (let j = 0; j < n; j++) {
          if (ploidy[j] === 0) {
            effect[j] = NaN;
            continue;
          }
          effect[j] = effectIsAlt ? alt[j]! : ploidy[j]! - alt[j]!;
          sum += effect[j]!;
          called++;
        }
        // PLINK's mean imputation: 2p = sum / (2 × called) × 2.
        const fill = opts.noMeanImputation || called === 0 ? 0 : sum / called;
        rows.add(i, (k) => {
          const d = effect[chosen[k]!]!;
          return Number.isNaN(d) ? fill : d;
        });
        index.status[i] = USED;
      };
      for (let i = locus; i >= 0; i = index.nextAtLocus[i]!) {
        const v = model.variants[i]!;
        consider(i, (rec.ref === v.effectAllele && rec.alt === v.otherAllele) || (rec.alt === v.effectAllele && rec.ref === v.otherAllele));
      }
      for (const head of rsids) {
        for (let i = head; i >= 0; i = index.nextWithRsid[i]!) {
          const e = model.variants[i]!.effectAllele;
          consider(i, e === rec.ref || e === rec.alt);
        }
      }
    }
    return result(
      index,
      rows,
      chosen.map((j) => reader.samples[j]!),
      records,
    );
  } finally {
    await reader.close();
  }
}

/** One 23andMe file: rsID matches first, then chr:pos when the model's build is the file's. */
export async function match23andMe(model: ModelVariants, input: TextInput, opts: TwentyThreeMatchOptions = {}): Promise<GenotypeMatch> {
  let records = 0;
  const onBytes = opts.onProgress && ((bytes: number) => opts.onProgress!({ bytes, records }));
  const reader = await TwentyThreeReader.open(input, { onBytes });
  try {
    const modelBuild = modelGenomeBuild(model.metadata ?? {});
    const positions = modelBuild === undefined || modelBuild === (reader.build ?? '37');
    const index = new VariantIndex(model.variants, positions ? '23andme' : '23andme-rsid-only');
    const rows = new DosageRows(model.variants.length, 1, opts.initialRows);
    const byRsid = new Uint8Array(model.variants.length); // 1 when an rsID row decided the variant
    const copies = opts.haploidCopies ?? 2;
    // One function for every row (not a closure per row: a genome file has ~600,000 rows).
    const consider = (row: TwentyThreeRow, i: number, viaRsid: boolean) => {
      const s = index.status[i]!;
      if (s === DUPLICATE_IN_MODEL || s === DUPLICATE_RECORD) return;
      const previous = s === NOT_FOUND ? 'none' : byRsid[i] ? 'rsid' : 'position';
      if (previous === 'rsid' && !viaRsid) return;
      const v = model.variants[i]!;
      const dose = row.genotype === '' ? -NO_CALL : effectCopies(row.genotype, v, copies);
      const outcome = exclusion(opts, row.chrom, v.effectAllele, v.otherAllele) || (dose < 0 ? -dose : USED);
      if (previous === (viaRsid ? 'rsid' : 'position')) {
        // A second row of the same kind (e.g. an rs and an i ID at one position): fine if it agrees.
        const agrees = outcome === s && (outcome !== USED || rows.get(i, 0) === dose);
        if (!agrees) index.duplicate(i, rows);
        return;
      }
      // First match, or an rsID row replacing a position match.
      rows.release(i);
      index.status[i] = outcome;
      if (viaRsid) byRsid[i] = 1;
      if (outcome === USED) rows.add(i, () => dose);
    };
    for await (const batch of reader.rowBatches()) {
      for (const row of batch) {
        records++;
        for (let i = index.byRsid.get(row.id) ?? -1; i >= 0; i = index.nextWithRsid[i]!) consider(row, i, true);
        for (let i = index.byLocus.get(`${row.chrom}:${row.pos}`) ?? -1; i >= 0; i = index.nextAtLocus[i]!) consider(row, i, false);
      }
    }
    return result(index, rows, [opts.sampleName ?? 'sample'], records);
  } finally {
    await reader.close();
  }
}

/**
 * Copies of the effect allele in a 23andMe genotype, or −ALLELE_MISMATCH. D/I stand for the
 * shorter/longer allele of an indel. A single letter is a haploid call, counted `copies` times
 * (PLINK stores haploid calls as homozygous).
 *
 * A letter outside {effect, other} is a third allele of a multi-allelic site (a 1000 Genomes
 * person at G/A/T is `AT`): it counts as a non-effect copy, as PLINK 2 counts it on the split
 * biallelic rows when the effect allele is an ALT. (Where the effect allele is the REF, PLINK
 * reads the other row's ALT as REF, i.e. as an effect copy; the letters say better.) But when
 * no letter is the effect or the other allele the genotype is not used: for an SNV that is not
 * A/T or C/G, the other strand's letters are exactly the two outside the pair, and we never flip
 * (`TC` at an A/G variant may be AG read backwards). A mixed genotype cannot be a strand flip.
 * Without an other allele only the effect allele can be checked: any other letter is non-effect.
 */
function effectCopies(genotype: string, v: ModelVariant, copies: number): number {
  const { effectAllele: e, otherAllele: o } = v;
  const indel = o !== undefined && o.length !== e.length;
  const [shorter, longer] = o !== undefined && o.length < e.length ? [o, e] : [e, o];
  let count = 0;
  let known = o === undefined;
  for (const letter of genotype) {
    const allele = letter === 'D' || letter === 'I' ? (indel ? (letter === 'D' ? shorter : longer) : undefined) : letter;
    if (allele === e) count++;
    if (allele === e || allele === o) known = true;
  }
  if (!known) return -ALLELE_MISMATCH;
  return genotype.length === 1 ? count * copies : count;
}

/** The filter status a match on `chrom` with alleles {a, b} gets, or 0; b unknown is never ambiguous. */
function exclusion(f: MatchFilters, chrom: string, a: string, b: string | undefined): number {
  if (f.autosomesOnly && !/^([1-9]|1\d|2[0-2])$/.test(chrom)) return EXCLUDED_CHROMOSOME;
  if (f.excludeAmbiguous && b !== undefined) {
    const pair = a < b ? a + b : b + a;
    if (pair === 'AT' || pair === 'CG') return STRAND_AMBIGUOUS;
  }
  return 0;
}

function chooseSamples(all: readonly string[], wanted: string[] | undefined): number[] {
  if (!wanted) return all.map((_, j) => j);
  return wanted.map((name) => {
    const j = all.indexOf(name);
    if (j < 0) throw new VeilError('sample_not_found', `sample '${name}' is not in the VCF (its ${all.length} samples start ${all.slice(0, 5).join(', ')})`);
    if (all.indexOf(name, j + 1) >= 0) throw new VeilError('invalid_vcf', `sample '${name}' appears twice in the VCF header`);
    return j;
  });
}
