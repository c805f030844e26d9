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
  const values = list.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new VeilError('invalid_input', `${what}: '${list}' is not a comma-separated list of numbers`);
  return values;
}
