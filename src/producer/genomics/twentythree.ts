/**
 * 23andMe raw data (plain or gzip): `#` comment lines, then `rsid chromosome position genotype`,
 * tab-separated. IDs are rsIDs or 23andMe-internal `i…` IDs; genotypes are two letters (`AG`),
 * one letter for haploid calls (male X/Y, MT), `D`/`I` for deletion/insertion alleles, `--` for
 * no-call. Positions are on the build the header names (GRCh37 for current exports).
 */
import { VeilError } from '../../shared/errors.js';
import { readLineBatches, type TextInput } from '../../shared/lines.js';
import { normalizeChrom } from '../../shared/pgs.js';

export interface TwentyThreeRow {
  lineNo: number;
  /** `rs…`, or an internal `i…` ID that only a position can match. */
  id: string;
  chrom: string;
  pos: number;
  /** Upper-case allele letters (1 or 2), or '' for a no-call. */
  genotype: string;
}

const GENOTYPE = /^[ACGTDI]{1,2}$/;

export class TwentyThreeReader {
  private constructor(
    /** Genome build of the positions (`36`, `37`, `38`), when the header names it. */
    readonly build: string | undefined,
    private readonly batches: AsyncGenerator<string[]>,
    /** The lines of the batch the header ended in, from the first data line on. */
    private pending: string[],
    private lineNo: number,
  ) {}

  /** Reads the comment header, up to the first data line. */
  static async open(input: TextInput, opts: { onBytes?: (total: number) => void } = {}): Promise<TwentyThreeReader> {
    const batches = readLineBatches(input, 'invalid_23andme', opts.onBytes);
    let build: string | undefined;
    let lineNo = 0;
    // next() by hand: leaving a for-await loop would close the generator the rows still need.
    for (let next = await batches.next(); !next.done; next = await batches.next()) {
      const batch = next.value;
      for (let k = 0; k < batch.length; k++) {
        const line = batch[k]!;
        if (!line.startsWith('#')) return new TwentyThreeReader(build, batches, batch.slice(k), lineNo);
        lineNo++;
        const m = /\bbuild (\d+)|\bGRCh(\d+)/i.exec(line);
        if (m && !build) build = m[1] ?? m[2];
      }
    }
    return new TwentyThreeReader(build, batches, [], lineNo);
  }

  /** The data rows, as many at a time as the reader has decoded (one async step per batch). */
  async *rowBatches(): AsyncGenerator<TwentyThreeRow[]> {
    const parse = (lines: string[]) => {
      const rows: TwentyThreeRow[] = [];
      for (const line of lines) {
        const row = this.parse(line, ++this.lineNo);
        if (row) rows.push(row);
      }
      return rows;
    };
    const first = this.pending;
    this.pending = [];
    yield parse(first);
    for await (const lines of this.batches) yield parse(lines);
  }

  async close(): Promise<void> {
    await this.batches.return(undefined);
  }

  private parse(line: string, lineNo: number): TwentyThreeRow | undefined {
    const text = line.trim();
    if (text === '' || line.startsWith('#')) return undefined;
    const fields = text.split('\t');
    if (fields[0] === 'rsid') return undefined; // some exports repeat the header without '#'
    if (fields.length !== 4) {
      fail(lineNo, `${fields.length} tab-separated columns; a 23andMe file has 4 (rsid, chromosome, position, genotype)`);
    }
    const [id, chrom, posText, genotypeText] = fields as [string, string, string, string];
    const pos = Number(posText);
    if (!Number.isInteger(pos) || pos < 0) fail(lineNo, `position '${posText}' is not a number`);
    const genotype = genotypeText.toUpperCase();
    if (genotype !== '--' && !GENOTYPE.test(genotype)) {
      fail(lineNo, `genotype '${genotypeText}' is not one or two of the letters A, C, G, T, D, I (or -- for a no-call)`);
    }
    return { lineNo, id, chrom: normalizeChrom(chrom), pos, genotype: genotype === '--' ? '' : genotype };
  }
}

function fail(lineNo: number, message: string): never {
  throw new VeilError('invalid_23andme', `23andMe line ${lineNo}: ${message}`);
}
