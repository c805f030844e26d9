/**
 * 23andMe raw data (plain or gzip): `#` comment lines, then `rsid chromosome position genotype`,
 * tab-separated. IDs are rsIDs or 23andMe-internal `i…` IDs; genotypes are two letters (`AG`),
 * one letter for haploid calls (male X/Y, MT), `D`/`I` for deletion/insertion alleles, `--` for
 * no-call. Positions are on the build the header names (GRCh37 for current exports).
 */
import { VeilError } from '../../shared/errors.js';
import { readLines, type TextInput } from '../../shared/lines.js';
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
    private readonly lines: AsyncGenerator<string>,
    private readonly firstData: string | undefined,
    private lineNo: number,
  ) {}

  /** Reads the comment header, up to the first data line. */
  static async open(input: TextInput, opts: { onBytes?: (total: number) => void } = {}): Promise<TwentyThreeReader> {
    const lines = readLines(input, 'invalid_23andme', opts.onBytes);
    let build: string | undefined;
    let lineNo = 0;
    for (;;) {
      const next = await lines.next();
      if (next.done) return new TwentyThreeReader(build, lines, undefined, lineNo);
      lineNo++;
      if (!next.value.startsWith('#')) return new TwentyThreeReader(build, lines, next.value, lineNo);
      const m = /\bbuild (\d+)|\bGRCh(\d+)/i.exec(next.value);
      if (m && !build) build = m[1] ?? m[2];
    }
  }

  async *rows(): AsyncGenerator<TwentyThreeRow> {
    if (this.firstData !== undefined) {
      const row = this.parse(this.firstData, this.lineNo);
      if (row) yield row;
    }
    for await (const line of this.lines) {
      const row = this.parse(line, ++this.lineNo);
      if (row) yield row;
    }
  }

  async close(): Promise<void> {
    await this.lines.return(undefined);
  }

  private parse(line: string, lineNo: number): TwentyThreeRow | undefined {
    if (line.trim() === '' || line.startsWith('#')) return undefined;
    const fields = line.trim().split('\t');
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
