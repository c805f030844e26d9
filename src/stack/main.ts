import { Command } from 'commander';
import { VeilError } from '../shared/errors.js';

/**
 * `veil api|worker|scheduler|start|demo`: the service's role commands. bin/veil.js sends these
 * here and everything else to the owner's CLI (src/producer/cli.ts), so the owner side never
 * loads service code. Each role's modules are imported only when it runs.
 */
export const ROLE_COMMANDS = ['api', 'worker', 'scheduler', 'start', 'demo'] as const;

const program = new Command('veil')
  .description("veil service roles (the data owner's commands: veil --help)")
  .option('--json', 'demo: print one JSON object on stdout')
  .showHelpAfterError();

for (const role of ['api', 'worker', 'scheduler'] as const) {
  program
    .command(role)
    .description(`run the ${role} role (configured by environment; see README)`)
    .action(async () => (await import('./roles.js')).runRole(role));
}

program
  .command('start')
  .description('the whole local stack (Redis, API, workers, scheduler) until Ctrl-C')
  .action(async () => (await import('./start.js')).start());

program
  .command('demo')
  .description('run the two seed scenarios end to end on a local stack')
  .option('--json', 'print one JSON object on stdout')
  .action(async (o: { json?: boolean }) => (await import('./demo.js')).demo({ json: Boolean(o.json ?? program.opts<{ json?: boolean }>().json) }));

program.parseAsync().catch((err: unknown) => {
  const msg = err instanceof VeilError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`veil: ${msg}\n`);
  process.exit(1);
});
