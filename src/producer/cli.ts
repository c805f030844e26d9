#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { VeilError } from '../shared/errors.js';
import { PRESET_IDS, DEFAULT_PRESET, type PresetId } from '../shared/params.js';
import { VeilClient } from './client.js';
import type { Owner } from './crypto.js';
import { registerDatasetCommands } from './cli-dataset.js';
import { registerGrsCommand } from './cli-grs.js';
import { csvColumn, parseNumbers } from './cli-context.js';
import { finish, withOwner, submitMean, waitAndFinish, writeKeys } from './sdk.js';

/** `veil`: the data owner's CLI. The service's role commands start from src/stack/main.ts (bin/veil.js). */
const program = new Command('veil')
  .description('compute on encrypted health data: keys stay here, only ciphertexts leave')
  .addOption(new Option('--server <url>', 'veil API').env('VEIL_SERVER').default('http://127.0.0.1:8080'))
  .addOption(new Option('--token <token>', 'bearer token of your tenant').env('VEIL_TOKEN'))
  .option('--json', 'machine output: one JSON object on stdout')
  .showHelpAfterError()
  .addHelpText('after', '\nService roles (own entry point): veil api | worker | scheduler | start | demo [--json]');

type Globals = { server: string; token?: string; json?: boolean };
const globals = () => program.opts<Globals>();
let runClient: VeilClient | undefined;
/** One client per run: its model and context caches then save every repeat request. */
const client = () => (runClient ??= new VeilClient({ server: globals().server, token: globals().token }));

/** Print `obj` as JSON (--json) or as `key: value` lines. */
function output(obj: Record<string, unknown>, human?: string): void {
  if (globals().json) process.stdout.write(`${JSON.stringify(obj)}\n`);
  else
    process.stdout.write(
      `${
        human ??
        Object.entries(obj)
          .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v as string | number | boolean)}`)
          .join('\n')
      }\n`,
    );
}

async function readCsvColumn(file: string, column?: string): Promise<number[]> {
  return csvColumn(await readFile(file, 'utf8'), file, column);
}

program
  .command('keygen')
  .description('make a new key pair: DIR/secret.key (0600, never leaves you) and DIR/public.ctx')
  .requiredOption('--out <dir>', 'directory for the keys')
  .addOption(new Option('--preset <id>', 'parameter preset').choices([...PRESET_IDS]).default(DEFAULT_PRESET))
  .action(async (o: { out: string; preset: PresetId }) => {
    const { contextId } = await writeKeys(o.out, o.preset);
    output({ contextId, preset: o.preset, dir: o.out }, `keys written to ${o.out} (context ${contextId}, preset ${o.preset})`);
  });

const models = program.command('models').description('scoring models on the server');
models
  .command('add <file>')
  .description('upload a PGS Catalog scoring file (plain or .gz) or a JSON model')
  .option('--id <id>', "model id (default: the file's pgs_id or name)")
  .action(async (file: string, o: { id?: string }) => {
    const bytes = await readFile(file);
    const info = file.endsWith('.json')
      ? await client().addModelJson({ ...JSON.parse(bytes.toString('utf8')), ...(o.id ? { id: o.id } : {}) })
      : await client().addModelFile(bytes, o.id);
    output({ modelId: info.modelId, variants: info.variants, name: info.name });
  });
models
  .command('list')
  .description('models on the server')
  .action(async () => {
    const list = await client().listModels();
    output(
      { models: list.map((m) => ({ modelId: m.modelId, variants: m.variants, name: m.name })) },
      list.map((m) => `${m.modelId}\t${m.variants} variants\t${m.name}`).join('\n') || 'no models',
    );
  });

async function submitAndReport(keys: string, submit: (owner: Owner) => Promise<string>, wait: boolean): Promise<void> {
  await withOwner(keys, async (owner) => {
    const jobId = await submit(owner);
    if (!wait) return output({ jobId });
    for (const outcome of await waitAndFinish(client(), owner, jobId)) output({ ...outcome });
  });
}

program
  .command('mean')
  .description('mean of encrypted readings')
  .requiredOption('--keys <dir>', 'key directory from veil keygen')
  .option('--values <list>', 'comma-separated readings, e.g. 72.5,71,73.2')
  .option('--csv <file>', 'CSV file of readings')
  .option('--column <name>', 'CSV column (default: the first non-time column)')
  .option('--no-wait', 'submit only; print the job id')
  .action(async (o: { keys: string; values?: string; csv?: string; column?: string; wait: boolean }) => {
    const values = o.values ? parseNumbers(o.values, '--values') : o.csv ? await readCsvColumn(o.csv, o.column) : undefined;
    if (!values) throw new VeilError('invalid_input', 'give --values or --csv');
    await submitAndReport(o.keys, (owner) => submitMean(client(), owner, values), o.wait);
  });

program
  .command('status <job>')
  .description('state and progress of a job')
  .action(async (job: string) => {
    const s = await client().status(job);
    output({ jobId: s.jobId, status: s.status, progress: s.progress, ...(s.error ? { error: s.error } : {}) });
  });

program
  .command('result <job>')
  .description("fetch a job's encrypted result and decrypt it here")
  .requiredOption('--keys <dir>', 'key directory from veil keygen')
  .action(async (job: string, o: { keys: string }) => {
    await withOwner(o.keys, async (owner) => {
      for (const outcome of await finish(client(), owner, await client().result(job))) output({ ...outcome });
    });
  });

const cliContext = { client, output, json: () => Boolean(globals().json) };
registerGrsCommand(program, cliContext);
registerDatasetCommands(program, cliContext);

program.parseAsync().catch((err: unknown) => {
  const msg = err instanceof VeilError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`veil: ${msg}\n`);
  process.exit(1);
});
