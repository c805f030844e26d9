/**
 * The state of one match: the model's variants indexed by chr:pos and rsID with a status each
 * (used, or why not), and the dosage rows of the used ones.
 */
import type { ModelVariant } from '../../shared/model.js';

/** Why a model variant was not used. */
export type SkipReason =
  | 'not_found' // no record at its chr:pos or with its rsID
  | 'allele_mismatch' // found, but with other alleles (no strand flipping)
  | 'multiallelic' // only multi-allelic records there
  | 'duplicate_record' // matched by two records that disagree (PLINK 2 errors)
  | 'duplicate_in_model' // the model lists the same variant and effect allele twice (PLINK 2 errors)
  | 'no_match_key' // neither an rsID nor chr:pos with both alleles
  | 'excluded_chromosome' // autosomesOnly
  | 'strand_ambiguous' // excludeAmbiguous
  | 'no_call' // 23andMe `--`
  | 'build_mismatch'; // 23andMe: matchable only by position, and the builds differ

/** A model variant's status is its reason's index here, or USED. */
const REASONS: readonly SkipReason[] = [
  'not_found',
  'allele_mismatch',
  'multiallelic',
  'duplicate_record',
  'duplicate_in_model',
  'no_match_key',
  'excluded_chromosome',
  'strand_ambiguous',
  'no_call',
  'build_mismatch',
];
export const NOT_FOUND = 0;
export const ALLELE_MISMATCH = 1;
export const MULTIALLELIC = 2;
export const DUPLICATE_RECORD = 3;
export const DUPLICATE_IN_MODEL = 4;
const NO_MATCH_KEY = 5;
export const EXCLUDED_CHROMOSOME = 6;
export const STRAND_AMBIGUOUS = 7;
export const NO_CALL = 8;
const BUILD_MISMATCH = 9;
export const USED = 255;

export interface GenotypeMatch {
  samples: string[];
  variantsUsed: number;
  /** Model variants not used (= model size − variantsUsed), broken down in `reasons`. */
  variantsMissing: number;
  reasons: Partial<Record<SkipReason, number>>;
  records: number;
  /** Effect-allele dosages of samples[s] in model order, 0 for unused variants. */
  dosages(s: number): Float64Array;
}

type IndexMode = 'vcf' | '23andme' | '23andme-rsid-only';

/** The lookup part of an index: read-only once built, so it is built once per model and mode. */
interface Links {
  byLocus: Map<string, number>;
  byRsid: Map<string, number>;
  nextAtLocus: Int32Array;
  nextWithRsid: Int32Array;
  /** Statuses known before any record is read (duplicates in the model, no match key). */
  initial: Uint8Array;
}

/**
 * Built links per variant list (by identity) and mode. Scoring many files against one model (a
 * clinic's 23andMe files, the oracle tests' 5,706) then indexes the model once, not per file.
 */
const linksCache = new WeakMap<readonly ModelVariant[], Map<IndexMode, Links>>();

function linksFor(variants: readonly ModelVariant[], mode: IndexMode): Links {
  let byMode = linksCache.get(variants);
  if (!byMode) linksCache.set(variants, (byMode = new Map()));
  let links = byMode.get(mode);
  if (!links) byMode.set(mode, (links = buildLinks(variants, mode)));
  return links;
}

function buildLinks(variants: readonly ModelVariant[], mode: IndexMode): Links {
  const links: Links = {
    byLocus: new Map(),
    byRsid: new Map(),
    nextAtLocus: new Int32Array(variants.length).fill(-1),
    nextWithRsid: new Int32Array(variants.length).fill(-1),
    initial: new Uint8Array(variants.length).fill(NOT_FOUND),
  };
  const link = (heads: Map<string, number>, next: Int32Array, key: string, i: number) => {
    const v = variants[i]!;
    const head = heads.get(key) ?? -1;
    for (let j = head; j >= 0; j = next[j]!) {
      const w = variants[j]!;
      if (w.effectAllele === v.effectAllele && w.otherAllele === v.otherAllele) links.initial[i] = links.initial[j] = DUPLICATE_IN_MODEL;
    }
    next[i] = head;
    heads.set(key, i);
  };
  // Insert back to front so that chains list variants in model order.
  for (let i = variants.length - 1; i >= 0; i--) {
    const v = variants[i]!;
    const positional = v.chr !== undefined && v.pos !== undefined && v.otherAllele !== undefined;
    const usePosition = positional && mode !== '23andme-rsid-only';
    const useRsid = v.rsid !== undefined && (mode !== 'vcf' || !positional);
    if (usePosition) link(links.byLocus, links.nextAtLocus, `${v.chr}:${v.pos}`, i);
    if (useRsid) link(links.byRsid, links.nextWithRsid, v.rsid!, i);
    if (!usePosition && !useRsid) links.initial[i] = positional ? BUILD_MISMATCH : NO_MATCH_KEY;
  }
  return links;
}

/**
 * Model variants chained by chr:pos and by rsID (head in a Map, rest in an Int32Array: far
 * smaller than a Map of arrays for a million variants), plus this match's status per variant.
 * 'vcf': chr:pos for variants with both alleles, rsID for the rest (PLINK's ID rule).
 * '23andme': rsID for every variant that has one, chr:pos too. '-rsid-only': positions unusable.
 */
export class VariantIndex {
  readonly byLocus: ReadonlyMap<string, number>;
  readonly byRsid: ReadonlyMap<string, number>;
  readonly nextAtLocus: Int32Array;
  readonly nextWithRsid: Int32Array;
  readonly status: Uint8Array;

  constructor(variants: readonly ModelVariant[], mode: IndexMode) {
    const links = linksFor(variants, mode);
    this.byLocus = links.byLocus;
    this.byRsid = links.byRsid;
    this.nextAtLocus = links.nextAtLocus;
    this.nextWithRsid = links.nextWithRsid;
    this.status = links.initial.slice();
  }

  /** A record with other alleles at the variant's locus: say so unless something better is known. */
  observe(i: number, status: number): void {
    if (this.status[i] === NOT_FOUND) this.status[i] = status;
  }

  duplicate(i: number, rows: DosageRows): void {
    this.status[i] = DUPLICATE_RECORD;
    rows.release(i);
  }
}

/**
 * Dosage rows of used variants (row-major: one value per chosen sample), grown by doubling. The
 * buffer is private: a row is written only inside add(), after any growth, so no caller can hold
 * the array that growth replaces (`rows.data[rows.add(i)] = d` once wrote every 64th dosage there).
 */
export class DosageRows {
  private data: Float64Array;
  private readonly rowOf: Int32Array;
  private count = 0;

  constructor(
    modelSize: number,
    private readonly width: number,
    initialRows = 64,
  ) {
    this.rowOf = new Int32Array(modelSize).fill(-1);
    this.data = new Float64Array(Math.max(1, width) * Math.max(1, initialRows));
  }

  /** A new row for model variant i, holding valueOf(k) for chosen sample k. */
  add(i: number, valueOf: (k: number) => number): void {
    if ((this.count + 1) * this.width > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const start = this.count * this.width;
    for (let k = 0; k < this.width; k++) this.data[start + k] = valueOf(k);
    this.rowOf[i] = this.count++;
  }

  /** Variant i's dosage for chosen sample k, or undefined when it has no row. */
  get(i: number, k: number): number | undefined {
    const r = this.rowOf[i]!;
    return r < 0 ? undefined : this.data[r * this.width + k];
  }

  release(i: number): void {
    this.rowOf[i] = -1;
  }

  sampleVector(s: number): Float64Array {
    const out = new Float64Array(this.rowOf.length);
    for (let i = 0; i < out.length; i++) out[i] = this.get(i, s) ?? 0;
    return out;
  }
}

export function result(index: VariantIndex, rows: DosageRows, samples: string[], records: number): GenotypeMatch {
  const reasons: GenotypeMatch['reasons'] = {};
  let variantsUsed = 0;
  for (const s of index.status) {
    if (s === USED) variantsUsed++;
    else {
      const reason = REASONS[s]!;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
  }
  return {
    samples,
    variantsUsed,
    variantsMissing: index.status.length - variantsUsed,
    reasons,
    records,
    dosages: (s) => {
      if (!Number.isInteger(s) || s < 0 || s >= samples.length) throw new RangeError(`sample index ${s} is not in 0..${samples.length - 1}`);
      return rows.sampleVector(s);
    },
  };
}
