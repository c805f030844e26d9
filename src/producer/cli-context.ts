import type { VeilClient } from './client.js';

/** What subcommand modules get from the CLI entry: the client, output, and the --json flag. */
export interface CliContext {
  client: () => VeilClient;
  output: (obj: Record<string, unknown>, human?: string) => void;
  json: () => boolean;
}
