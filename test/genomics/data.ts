import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/**
 * The real PGS test data (PGS Catalog files, 1000 Genomes/CINECA VCFs, PLINK 2 scores), kept outside
 * the repo: ../shared/data/pgs, or VEIL_PGS_DATA (a git worktree has no ../shared next to it).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DATA_DIR = process.env.VEIL_PGS_DATA ? resolve(process.env.VEIL_PGS_DATA) : resolve(root, '..', 'shared', 'data', 'pgs');
export const hasData = existsSync(DATA_DIR);

export function warnIfNoData(suite: string): void {
  if (!hasData) console.warn(`${suite}: skipped, the PGS test data folder ${DATA_DIR} is missing`);
}

export const dataPath = (file: string): string => resolve(DATA_DIR, file);

/** Rows of a (possibly gzipped) delimited table with a header line, as column → value. */
export function readTable(file: string, sep = '\t'): Record<string, string>[] {
  const raw = readFileSync(dataPath(file));
  const [header, ...lines] = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').trim().split('\n');
  const columns = header!.split(sep);
  return lines.map((line) => Object.fromEntries(line.split(sep).map((v, i) => [columns[i], v])));
}

/** Σ weight × dosage: the plaintext score that the encrypted pipeline computes. */
export function dot(weights: Float64Array, dosages: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i]! * dosages[i]!;
  return sum;
}
