/**
 * Streaming VCF reader (plain or bgzip). Records are split only up to ALT; the sample columns are
 * parsed on demand (`calls`), so records no model needs cost a few substrings.
 *
 * Calls follow PLINK 2's `--vcf` import defaults:
 * - GT only. FORMAT/DS is ignored unless `dosageField: 'DS'` (PLINK's `dosage=DS`); then DS is
 *   used where present and GT where DS is `.`, and a haploid DS is doubled like a haploid call.
 * - `|` and `/` are the same. A haploid call (`0`, `1`) is stored as homozygous, so it counts 0 or
 *   2 ALT copies; `haploidCopies: 1` counts 0 or 1 (PLINK with sex known and `--xchr-model 1`).
 * - `.`, `./.` are missing; a half call (`0/.`) or ploidy > 2 is an error (PLINK's
 *   `--vcf-half-call error` and `--polyploid-mode error` defaults).
 */
import { VeilError } from '../../shared/errors.js';
import { readLines, type TextInput } from '../../shared/lines.js';
import { normalizeChrom } from '../../shared/pgs.js';

export interface VcfOptions {
  dosageField?: 'DS';
  haploidCopies?: 1 | 2;
  /** Running count of input (compressed) bytes read. */
  onBytes?: (total: number) => void;
}

export class VcfRecord {
  constructor(
    readonly lineNo: number,
    /** Normalized (`chr` dropped, see normalizeChrom). */
    readonly chrom: string,
    readonly pos: number,
    /** The ID column as written: `.`, `rs123`, or `rs1;rs2`. */
    readonly id: string,
    /** Upper-cased. */
    readonly ref: string,
    /** Upper-cased; a comma means a multi-allelic record. */
    readonly alt: string,
    private readonly line: string,
    private readonly afterAlt: number,
    private readonly reader: VcfReader,
  ) {}

  /**
   * ALT dosage of every sample (file order) into `alt`, and its ploidy into `ploidy`:
   * 2 for diploid calls, `haploidCopies` for haploid ones, 0 (and NaN dosage) for missing.
   * Only for biallelic records.
   */
  calls(alt: Float64Array, ploidy: Uint8Array): void {
    const { line, lineNo } = this;
    let p = this.afterAlt;
    for (let k = 0; k < 3 && p > 0; k++) p = line.indexOf('\t', p) + 1; // past QUAL, FILTER, INFO
    const formatEnd = p > 0 ? line.indexOf('\t', p) : -1;
    if (formatEnd < 0) fail(lineNo, 'no FORMAT and sample columns');
    const keys = line.slice(p, formatEnd).split(':');
    const gtIdx = keys.indexOf('GT');
    const dsIdx = this.reader.dosageField ? keys.indexOf(this.reader.dosageField) : -1;
    const n = this.reader.samples.length;
    let start = formatEnd + 1;
    for (let j = 0; j < n; j++) {
      let end = line.indexOf('\t', start);
      if (end < 0) {
        if (j < n - 1) fail(lineNo, `${j + 1} sample columns but the header names ${n} samples`);
        end = line.length;
      } else if (j === n - 1) fail(lineNo, `more sample columns than the ${n} samples the header names`);
      this.parseCall(start, end, gtIdx, dsIdx, j, alt, ploidy);
      start = end + 1;
    }
  }

  private parseCall(start: number, end: number, gtIdx: number, dsIdx: number, j: number, alt: Float64Array, ploidy: Uint8Array): void {
    const { line } = this;
    const copies = this.reader.haploidCopies;
    // GT: allele indexes separated by '/' or '|'.
    let alleles = 0;
    let missing = 0;
    let altCount = 0;
    const gt = subfield(line, start, end, gtIdx);
    for (let i = gt[0]; i < gt[1];) {
      const c = line.charCodeAt(i);
      if (c === 46 /* . */) {
        missing++;
        i++;
      } else if (isDigit(c)) {
        let index = 0;
        for (; i < gt[1] && isDigit(line.charCodeAt(i)); i++) index = index * 10 + line.charCodeAt(i) - 48;
        if (index > 1) fail(this.lineNo, `GT '${line.slice(gt[0], gt[1])}' names allele ${index} but the record has one ALT`);
        altCount += index;
      } else fail(this.lineNo, `GT '${line.slice(gt[0], gt[1])}' is not a genotype (like 0/1, 1|1, 0 or ./.)`);
      alleles++;
      if (i < gt[1]) {
        const sep = line.charCodeAt(i);
        if (sep !== 47 /* / */ && sep !== 124 /* | */) fail(this.lineNo, `GT '${line.slice(gt[0], gt[1])}' is not a genotype (like 0/1, 1|1, 0 or ./.)`);
        i++;
      }
    }
    if (alleles > 2) fail(this.lineNo, `GT '${line.slice(gt[0], gt[1])}' has ploidy ${alleles}; only haploid and diploid calls are supported`);
    if (missing > 0 && missing < alleles)
      fail(this.lineNo, `half call '${line.slice(gt[0], gt[1])}' (sample ${j + 1}); PLINK 2 rejects these too: make it fully missing or fully called`);
    const haploid = alleles === 1;

    if (dsIdx >= 0) {
      const ds = subfield(line, start, end, dsIdx);
      const text = line.slice(ds[0], ds[1]);
      if (text !== '' && text !== '.' && text !== '?') {
        const value = Number(text);
        const max = haploid ? 1 : 2;
        if (!Number.isFinite(value) || value < 0 || value > max) fail(this.lineNo, `DS '${text}' is not a dosage between 0 and ${max}`);
        alt[j] = haploid ? value * copies : value;
        ploidy[j] = haploid ? copies : 2;
        return;
      }
    }
    if (alleles === 0 || missing > 0) {
      alt[j] = NaN;
      ploidy[j] = 0;
    } else {
      alt[j] = haploid ? altCount * copies : altCount;
      ploidy[j] = haploid ? copies : 2;
    }
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** [start, end) of the `index`-th ':'-separated subfield of line[start, end); empty when absent. */
function subfield(line: string, start: number, end: number, index: number): [number, number] {
  if (index < 0) return [start, start];
  let s = start;
  for (let k = 0; k < index; k++) {
    const colon = line.indexOf(':', s);
    if (colon < 0 || colon >= end) return [end, end];
    s = colon + 1;
  }
  const colon = line.indexOf(':', s);
  return [s, colon < 0 || colon > end ? end : colon];
}

export class VcfReader {
  readonly dosageField: 'DS' | undefined;
  readonly haploidCopies: 1 | 2;

  private constructor(
    /** Sample names of the #CHROM line, in file order. */
    readonly samples: readonly string[],
    private readonly lines: AsyncGenerator<string>,
    private lineNo: number,
    opts: VcfOptions,
  ) {
    this.dosageField = opts.dosageField;
    this.haploidCopies = opts.haploidCopies ?? 2;
  }

  /** Reads the header (up to and including #CHROM). */
  static async open(input: TextInput, opts: VcfOptions = {}): Promise<VcfReader> {
    const lines = readLines(input, 'invalid_vcf', opts.onBytes);
    let lineNo = 0;
    for (;;) {
      const next = await lines.next();
      if (next.done) fail(lineNo, 'the file ended before the #CHROM header line; is this a VCF?');
      lineNo++;
      const line = next.value;
      if (line.startsWith('##')) continue;
      if (!line.startsWith('#CHROM')) {
        await lines.return(undefined);
        fail(lineNo, 'expected the #CHROM header line before any record; is this a VCF?');
      }
      const samples = line.split('\t').slice(9);
      if (samples.length === 0) {
        await lines.return(undefined);
        fail(lineNo, 'the VCF has no sample columns (a sites-only VCF has no genotypes)');
      }
      return new VcfReader(samples, lines, lineNo, opts);
    }
  }

  async *records(): AsyncGenerator<VcfRecord> {
    let lastRaw = '';
    let lastChrom = '';
    for await (const line of this.lines) {
      const lineNo = ++this.lineNo;
      if (line === '') continue;
      const t1 = line.indexOf('\t');
      const t2 = line.indexOf('\t', t1 + 1);
      const t3 = line.indexOf('\t', t2 + 1);
      const t4 = line.indexOf('\t', t3 + 1);
      const t5 = line.indexOf('\t', t4 + 1);
      if (t1 < 0 || t2 < 0 || t3 < 0 || t4 < 0 || t5 < 0) fail(lineNo, 'fewer than the 10 tab-separated columns of a VCF record with samples');
      const rawChrom = line.slice(0, t1);
      if (rawChrom !== lastRaw) [lastRaw, lastChrom] = [rawChrom, normalizeChrom(rawChrom)];
      const pos = Number(line.slice(t1 + 1, t2));
      if (!Number.isInteger(pos) || pos < 0) fail(lineNo, `POS '${line.slice(t1 + 1, t2)}' is not a position`);
      const ref = line.slice(t3 + 1, t4).toUpperCase();
      const alt = line.slice(t4 + 1, t5).toUpperCase();
      yield new VcfRecord(lineNo, lastChrom, pos, line.slice(t2 + 1, t3), ref, alt, line, t5 + 1, this);
    }
  }

  /** Stops reading (closes the input) when records() is not run to the end. */
  async close(): Promise<void> {
    await this.lines.return(undefined);
  }
}

function fail(lineNo: number, message: string): never {
  throw new VeilError('invalid_vcf', `VCF line ${lineNo}: ${message}`);
}
