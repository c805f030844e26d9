/**
 * PGS Catalog scoring files (format 2.0) → ModelDefinition, read line by line so a
 * million-variant file never exists as one string.
 *
 * Rules mirror data/pgs/prep_plink_score.py, whose output PLINK 2 `--score` was verified with:
 * coordinates come from hm_chr/hm_pos when both are non-empty, else chr_name/chr_position; a
 * leading `chr` is dropped; alleles are upper-cased; hm_inferOtherAllele is not used (it may
 * list several candidates, and the reference scores do not use it).
 *
 * Two header lines of our own carry what a PGS Catalog file cannot express:
 *   #veil_bias=-1.2        intercept added to the score (default 0)
 *   #veil_link=logistic    `identity` (default) or `logistic` (probability = sigmoid(score))
 */
import { InvalidInputError, VeilError } from './errors.js';
import { readLines, type TextInput } from './lines.js';
import type { Link, ModelDefinition, ModelVariant } from './model.js';

/** Why a scoring-file row did not become a model variant. */
export type PgsSkipReason = 'no_effect_allele' | 'no_effect_weight' | 'no_locus';

export interface PgsParseResult {
  model: ModelDefinition;
  /** Variant rows read (header and `#` lines excluded). */
  rows: number;
  skipped: Partial<Record<PgsSkipReason, number>>;
}

/** `chr1` → `1`, `23` → `X`, `M` → `MT`: one spelling per chromosome, as PLINK prints them. */
export function normalizeChrom(raw: string): string {
  if (CANONICAL_CHROMS.has(raw)) return raw; // most rows of a genome file: no trimming, no regex
  let c = raw.trim();
  if (/^chr/i.test(c)) c = c.slice(3);
  c = c.toUpperCase();
  return CHROM_ALIASES[c] ?? c;
}

const CHROM_ALIASES: Record<string, string> = { '23': 'X', '24': 'Y', '25': 'XY', '26': 'MT', M: 'MT' };
const CANONICAL_CHROMS = new Set([...Array.from({ length: 22 }, (_, i) => String(i + 1)), 'X', 'Y', 'XY', 'MT']);

/**
 * The PLINK-style identity of a model variant: `chr:pos:A1:A2` with the allele pair in ASCII
 * order (what prep_plink_score.py writes and `--set-all-var-ids '@:#:$1:$2'` gives a VCF record),
 * else its rsID, else undefined (the variant cannot be matched).
 */
export function modelVariantKey(v: ModelVariant): string | undefined {
  if (v.chr && v.pos !== undefined && v.otherAllele) {
    const [a1, a2] = [v.effectAllele, v.otherAllele].sort();
    return `${v.chr}:${v.pos}:${a1}:${a2}`;
  }
  return v.rsid;
}

/** Genome build of a model's positions (`37`, `38`, …) from its header, when it says. */
export function modelGenomeBuild(metadata: Record<string, string>): string | undefined {
  const build = metadata.HmPOS_build || metadata.genome_build || '';
  const m = /^(?:GRCh|hg|NCBI)?(\d+)$/i.exec(build.trim());
  if (!m) return undefined;
  return ({ '19': '37', '18': '36' } as Record<string, string>)[m[1]!] ?? m[1];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const POSITIVE_INT = /^[1-9]\d*$/;

/** Bounds for files from untrusted senders (the API); the CLI reads its own files unbounded. */
export interface PgsLimits {
  /** More usable variant rows than this: 413 `too_many_variants`. */
  maxVariants?: number;
  /** More text than this after decompression: 413 `decompressed_too_large`. */
  maxTextBytes?: number;
  /** A gzip file that inflates more than this many times: 413 `decompressed_too_large`. */
  maxInflation?: number;
}

/** Parse a scoring file. `fallbackName` names the model when the header has no pgs_name/pgs_id. */
export async function parsePgsScoringFile(input: TextInput, fallbackName = 'unnamed model', limits: PgsLimits = {}): Promise<PgsParseResult> {
  const maxVariants = limits.maxVariants ?? Infinity;
  const metadata: Record<string, string> = {};
  const variants: ModelVariant[] = [];
  let weights = new Float64Array(1024);
  const skipped: Partial<Record<PgsSkipReason, number>> = {};
  let columns: Columns | undefined;
  let lineNo = 0;
  let rows = 0;

  for await (const raw of readLines(input, 'invalid_model', undefined, limits.maxTextBytes, limits.maxInflation)) {
    lineNo++;
    const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (line.startsWith('#')) {
      const m = /^#([^#=][^=]*)=(.*)$/.exec(line);
      if (m) metadata[m[1]!.trim()] = m[2]!.trim();
      continue;
    }
    if (line.trim() === '') continue;
    const fields = line.split('\t');
    if (!columns) {
      columns = headerColumns(fields, lineNo);
      continue;
    }
    rows++;
    if (fields.length > columns.count && fields.slice(columns.count).some((f) => f.trim() !== '')) {
      fail(lineNo, `${fields.length} tab-separated fields but the header has ${columns.count}`);
    }
    const row = parseRow(fields, columns, lineNo);
    if (typeof row === 'string') {
      skipped[row] = (skipped[row] ?? 0) + 1;
      continue;
    }
    if (variants.length === maxVariants) throw tooManyVariants(maxVariants);
    if (variants.length === weights.length) {
      const grown = new Float64Array(weights.length * 2);
      grown.set(weights);
      weights = grown;
    }
    weights[variants.length] = row.weight;
    variants.push(row.variant);
  }

  if (!columns) fail(lineNo, 'no column header line found; expected a tab-separated header with effect_allele and effect_weight');
  if (variants.length === 0) fail(lineNo, `no usable variant rows (${rows} rows read, skipped: ${JSON.stringify(skipped)})`);
  const model: ModelDefinition = {
    name: metadata.pgs_name || metadata.pgs_id || fallbackName,
    metadata,
    variants,
    weights: weights.slice(0, variants.length),
    bias: parseBias(metadata.veil_bias),
    link: parseLink(metadata.veil_link),
  };
  return { model, rows, skipped };
}

/** Column indexes of the fields we read; -1 when absent. */
interface Columns {
  count: number;
  rsid: number;
  hmRsid: number;
  chr: number;
  pos: number;
  hmChr: number;
  hmPos: number;
  effect: number;
  other: number;
  weight: number;
}

function headerColumns(fields: string[], lineNo: number): Columns {
  const at = (name: string) => fields.findIndex((f) => f.trim() === name);
  const c: Columns = {
    count: fields.length,
    rsid: at('rsID'),
    hmRsid: at('hm_rsID'),
    chr: at('chr_name'),
    pos: at('chr_position'),
    hmChr: at('hm_chr'),
    hmPos: at('hm_pos'),
    effect: at('effect_allele'),
    other: at('other_allele'),
    weight: at('effect_weight'),
  };
  if (c.effect < 0 || c.weight < 0) {
    fail(lineNo, `the column header needs effect_allele and effect_weight columns (found: ${fields.join(', ')})`);
  }
  const hasLocus = (c.chr >= 0 && c.pos >= 0) || (c.hmChr >= 0 && c.hmPos >= 0);
  if (!hasLocus && c.rsid < 0 && c.hmRsid < 0) {
    fail(lineNo, 'the column header needs rsID or chr_name and chr_position (or hm_chr and hm_pos) columns');
  }
  return c;
}

function parseRow(fields: string[], c: Columns, lineNo: number): { variant: ModelVariant; weight: number } | PgsSkipReason {
  const effectAllele = field(fields, c.effect).toUpperCase();
  if (!effectAllele) return 'no_effect_allele';
  const weightText = field(fields, c.weight);
  if (!weightText) return 'no_effect_weight';
  if (!NUMBER.test(weightText)) fail(lineNo, `effect_weight '${weightText}' is not a number`);

  const variant: ModelVariant = { effectAllele };
  const otherAllele = field(fields, c.other).toUpperCase();
  if (otherAllele) variant.otherAllele = otherAllele;
  const rsid = field(fields, c.hmRsid) || field(fields, c.rsid);
  if (rsid && rsid !== '.') variant.rsid = rsid;
  // hm_chr/hm_pos as a pair: mixing a harmonized chromosome with an unharmonized position is never right.
  const harmonized = field(fields, c.hmChr) !== '' && field(fields, c.hmPos) !== '';
  const [chrCol, posCol] = harmonized ? [c.hmChr, c.hmPos] : [c.chr, c.pos];
  const chr = field(fields, chrCol);
  const pos = field(fields, posCol);
  if (chr && pos) {
    if (!POSITIVE_INT.test(pos)) fail(lineNo, `${harmonized ? 'hm_pos' : 'chr_position'} '${pos}' is not a positive integer`);
    variant.chr = normalizeChrom(chr);
    variant.pos = Number(pos);
  }
  if (variant.pos === undefined && !variant.rsid) return 'no_locus';
  return { variant, weight: Number(weightText) };
}

function field(fields: string[], i: number): string {
  return i >= 0 ? (fields[i] ?? '').trim() : '';
}

function parseBias(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!NUMBER.test(text)) throw new InvalidInputError('invalid_model', `header line #veil_bias=${text}: the bias must be a number, e.g. #veil_bias=-1.2`);
  return Number(text);
}

function parseLink(text: string | undefined): Link {
  if (text === undefined || text === '' || text === 'identity') return 'identity';
  if (text === 'logistic') return 'logistic';
  throw new InvalidInputError('invalid_model', `header line #veil_link=${text}: the link must be identity or logistic`);
}

export const tooManyVariants = (max: number) =>
  new VeilError('too_many_variants', `the model has more than ${max} variants (MAX_MODEL_VARIANTS); split it or raise the limit`, 413);

function fail(lineNo: number, message: string): never {
  throw new InvalidInputError('invalid_model', `line ${lineNo}: ${message}`);
}
