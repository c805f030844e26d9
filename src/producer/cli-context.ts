import { VeilError } from '../shared/errors.js';
import type { VeilClient } from './client.js';

/** What subcommand modules get from the CLI entry: the client, output, and the --json flag. */
export interface CliContext {
  client: () => VeilClient;
  output: (obj: Record<string, unknown>, human?: string) => void;
  json: () => boolean;
}

/** `72.5,71,73.2` → numbers; anything else is the user's error, named by the option. */
export function parseNumbers(list: string, what: string): number[] {
  const values = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v)))
    throw new VeilError('invalid_input', `${what}: '${list}' is not a comma-separated list of numbers`);
  return values;
}

/**
 * One column of a CSV of readings as numbers: `column` by name, else the first column that is not
 * a time (with a text header) or the first column (without one). `name` labels errors. No
 * Node-only imports: the browser page reads CSV files with it too.
 */
export function csvColumn(text: string, name: string, column?: string): number[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const headerIsText = header.some((h) => h !== '' && !Number.isFinite(Number(h)));
  const idx = column === undefined ? (headerIsText ? header.findIndex((h) => h !== '' && !/^(time|date|timestamp|at)$/i.test(h)) : 0) : header.indexOf(column);
  if (idx < 0) throw new VeilError('invalid_input', `${name}: no column '${column}' (columns: ${header.join(', ')})`);
  return (headerIsText ? lines.slice(1) : lines).map((l, i) => {
    const v = Number(l.split(',')[idx]);
    if (!Number.isFinite(v)) throw new VeilError('invalid_input', `${name}: line ${i + (headerIsText ? 2 : 1)} has no number in column ${idx + 1}`);
    return v;
  });
}
