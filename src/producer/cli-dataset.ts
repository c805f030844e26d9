import { readFile, writeFile } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { REPORT_OPS, type ReportOp } from '../shared/dataset.js';
import { VeilError } from '../shared/errors.js';
import type { JobStatusBody } from './client.js';
import { parseNumbers, type CliContext } from './cli-context.js';
import type { Owner } from './crypto.js';
import { appendGenotypes, appendReadings, createDataset, finishReport, type GenotypeRecord, type ReadingsBatch, type ReportOutcome } from './datasets.js';
import { withOwner } from './sdk.js';

function time(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined;
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) throw new VeilError('invalid_input', `${what}: '${s}' is not an ISO-8601 time`);
  return ms;
}

/** CSV rows `time,value` (header optional): one record per distinct time. */
async function readingsCsv(file: string): Promise<ReadingsBatch[]> {
  const byTime = new Map<number, number[]>();
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== '');
  lines.forEach((line, i) => {
    const [t, v] = line.split(',').map((c) => c.trim());
    const at = Date.parse(t ?? '');
    const value = Number(v);
    if (!Number.isFinite(at) || v === undefined || !Number.isFinite(value)) {
      if (i === 0) return; // a header
      throw new VeilError('invalid_input', `${file}: line ${i + 1} is not 'ISO-time,value'`);
    }
    byTime.set(at, [...(byTime.get(at) ?? []), value]);
  });
  return [...byTime].sort(([a], [b]) => a - b).map(([at, values]) => ({ at, values }));
}

/** CSV rows `recordId,dosage1,dosage2,…` (header optional). */
async function genotypeCsv(file: string): Promise<GenotypeRecord[]> {
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== '');
  return lines.flatMap((line, i) => {
    const [id, ...rest] = line.split(',').map((c) => c.trim());
    const dosages = rest.map(Number);
    if (!id || dosages.length === 0 || dosages.some((d) => !Number.isFinite(d))) {
      if (i === 0) return [];
      throw new VeilError('invalid_input', `${file}: line ${i + 1} is not 'recordId,dosage,…'`);
    }
    return [{ id, dosages }];
  });
}

/**
 * Wait for a report and decrypt it here, with a progress bar on stderr (not with --json, nor when
 * stderr is not a terminal, where a redrawn bar would only be noise in a log). The bar says what is
 * happening after the server's 100%: a cohort's thousands of scores take seconds to download and
 * decrypt, and a bar reading "100% | done" meanwhile looks hung. A failed report leaves the bar
 * where it stopped, marked failed, never at "100% done".
 */
async function waitAndFinish(ctx: CliContext, owner: Owner, jobId: string): Promise<ReportOutcome> {
  const bar =
    ctx.json() || !process.stderr.isTTY
      ? undefined
      : new SingleBar({ format: 'report [{bar}] {percentage}% | {status}', barsize: 30, stream: process.stderr, hideCursor: true });
  // The job id (up to ~70 characters) is on its own line: inside the bar it pushed the status past
  // the edge of an 80- or 120-column terminal, where cli-progress cuts the line.
  if (bar) process.stderr.write(`report ${jobId}\n`);
  bar?.start(100, 0, { status: 'queued' });
  let status = 'failed';
  try {
    const result = await ctx.client().result(jobId, { onProgress: bar ? (s: JobStatusBody) => bar.update(s.progress, { status: s.status }) : undefined });
    bar?.update(100, { status: result.report?.kind === 'genotypes' ? `decrypting ${result.report.count} scores here` : 'decrypting here' });
    const out = await finishReport(ctx.client(), owner, result);
    status = 'done';
    return out;
  } finally {
    bar?.update({ status });
    bar?.stop();
  }
}

const SHOWN_SCORES = 10;

/** Human text for a report: the numbers, and for a cohort the first scores (all with --json or --out). */
function humanReport(r: ReportOutcome, outFile?: string): string {
  const window = `${r.since ?? 'first record'} … ${r.until}`;
  if (r.op !== 'grs') return `${r.op}: ${r.value}\ncount: ${r.count}\nwindow: ${window}\njob: ${r.jobId}`;
  const rows = r.scores
    .slice(0, SHOWN_SCORES)
    .map((s) => `  ${s.recordId}\t${s.score.toFixed(6)}${s.probability !== undefined ? `\t${s.probability.toFixed(5)}` : ''}`);
  const more = r.scores.length - rows.length;
  return [
    `grs (model ${r.modelId}): ${r.count} records, mean score ${r.mean}`,
    `window: ${window}`,
    `job: ${r.jobId}`,
    ...(rows.length ? [`scores${r.scores[0]?.probability !== undefined ? ' (recordId, score, probability)' : ' (recordId, score)'}:`, ...rows] : []),
    ...(more > 0 ? [`  … ${more} more ${outFile ? `in ${outFile}` : '(all of them: --out FILE.csv or --json)'}`] : outFile ? [`all scores in ${outFile}`] : []),
  ].join('\n');
}

/** Every score as CSV rows recordId,score[,probability]. */
async function writeScores(file: string, r: ReportOutcome): Promise<void> {
  if (r.op !== 'grs') throw new VeilError('invalid_input', '--out writes per-record scores: it takes a grs report');
  const prob = r.scores.some((s) => s.probability !== undefined);
  const lines = r.scores.map((s) => `${csvCell(s.recordId)},${s.score}${prob ? `,${s.probability ?? ''}` : ''}`);
  await writeFile(file, `recordId,score${prob ? ',probability' : ''}\n${lines.join('\n')}\n`);
}

/** Record ids are the owner's text: quote one that a CSV reader would split. */
const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

async function printReport(ctx: CliContext, r: ReportOutcome, outFile?: string): Promise<void> {
  if (outFile) await writeScores(outFile, r);
  ctx.output({ ...r }, humanReport(r, outFile));
}

export function registerDatasetCommands(program: Command, ctx: CliContext): void {
  const { client, output } = ctx;
  const ds = program.command('dataset').description('encrypted datasets: append over time, report on a schedule');

  ds.command('create <name>')
    .description("a dataset bound to this key pair's public context")
    .requiredOption('--keys <dir>', 'key directory from veil keygen')
    .addOption(new Option('--kind <kind>', 'what its records are').choices(['readings', 'genotypes']).default('readings'))
    .option('--variants <n>', 'genotypes: dosages per record', (v) => Number(v))
    .option('--model <id>', 'genotypes: take the number of dosages from this model')
    .option('--retention-days <d>', 'days a record is kept (server default 400)', (v) => Number(v))
    .option('--value-bits <b>', 'readings: |value| < 2^b (default 12, i.e. < 4096)', (v) => Number(v))
    .action(
      async (
        name: string,
        o: { keys: string; kind: 'readings' | 'genotypes'; variants?: number; model?: string; retentionDays?: number; valueBits?: number },
      ) => {
        await withOwner(o.keys, async (owner) => {
          const meta = await createDataset(client(), owner, name, {
            kind: o.kind,
            variants: o.variants,
            modelId: o.model,
            retentionDays: o.retentionDays,
            valueBits: o.valueBits,
          });
          output({ dataset: meta.dataset, contextId: meta.contextId, kind: meta.kind, retentionDays: meta.retentionDays });
        });
      },
    );

  ds.command('list')
    .description('your datasets')
    .action(async () => {
      const list = await client().listDatasets();
      output(
        { datasets: list.map((d) => ({ dataset: d.dataset, kind: d.kind, contextId: d.contextId })) },
        list.map((d) => `${d.dataset}\t${d.kind}`).join('\n') || 'no datasets',
      );
    });

  ds.command('append <name>')
    .description('encrypt records here and append them')
    .requiredOption('--keys <dir>', 'key directory from veil keygen')
    .option('--values <list>', 'readings taken at --at, e.g. 61.5,62,60.8')
    .option('--at <iso>', 'time of --values (default now)')
    .option('--csv <file>', 'readings as rows ISO-time,value')
    .option('--genotype <list>', "one genotype record: dosages in the dataset's variant order")
    .option('--record-id <id>', 'id of the --genotype record')
    .option('--genotype-csv <file>', 'genotype records as rows recordId,dosage,…')
    .option('--idempotency-key <key>', 'a retried append with the same key stores nothing twice')
    .action(
      async (
        name: string,
        o: { keys: string; values?: string; at?: string; csv?: string; genotype?: string; recordId?: string; genotypeCsv?: string; idempotencyKey?: string },
      ) => {
        await withOwner(o.keys, async (owner) => {
          let out;
          if (o.genotype || o.genotypeCsv) {
            const records = o.genotypeCsv
              ? await genotypeCsv(o.genotypeCsv)
              : [{ id: o.recordId ?? '', dosages: parseNumbers(o.genotype as string, '--genotype') }];
            if (records.some((r) => !r.id)) throw new VeilError('invalid_input', 'give --record-id with --genotype');
            out = await appendGenotypes(client(), owner, name, records, { at: time(o.at, '--at'), idempotencyKey: o.idempotencyKey });
          } else {
            const batches = o.csv ? await readingsCsv(o.csv) : o.values ? [{ values: parseNumbers(o.values, '--values'), at: time(o.at, '--at') }] : undefined;
            if (!batches) throw new VeilError('invalid_input', 'give --values (with --at), --csv, --genotype or --genotype-csv');
            out = await appendReadings(client(), owner, name, batches, { idempotencyKey: o.idempotencyKey });
          }
          output({ dataset: out.dataset, records: out.records });
        });
      },
    );

  ds.command('run <name>')
    .description('a report now over a time window; waits, then decrypts here')
    .addOption(new Option('--op <op>', 'statistic').choices([...REPORT_OPS]).makeOptionMandatory())
    .requiredOption('--keys <dir>', 'key directory from veil keygen')
    .option('--since <iso>', 'window start (default: the first record)')
    .option('--until <iso>', 'window end, exclusive (default: now)')
    .option('--model <id>', 'grs: the model')
    .option('--no-wait', 'request only; print the job id')
    .option('--out <file>', "grs: write every record's score to this CSV")
    .action(async (name: string, o: { op: ReportOp; keys: string; since?: string; until?: string; model?: string; wait: boolean; out?: string }) => {
      time(o.since, '--since');
      time(o.until, '--until');
      const jobId = await client().requestReport(name, { op: o.op, since: o.since, until: o.until, modelId: o.model });
      if (!o.wait) return output({ jobId, op: o.op });
      await withOwner(o.keys, async (owner) => {
        await printReport(ctx, await waitAndFinish(ctx, owner, jobId), o.out);
      });
    });

  ds.command('result <job>')
    .description('collect a report by job id and decrypt it here (veil result does the same)')
    .requiredOption('--keys <dir>', 'key directory from veil keygen')
    .option('--out <file>', "grs: write every record's score to this CSV")
    .action(async (jobId: string, o: { keys: string; out?: string }) => {
      await withOwner(o.keys, async (owner) => {
        await printReport(ctx, await waitAndFinish(ctx, owner, jobId), o.out);
      });
    });

  ds.command('schedule <name>')
    .description('a report on a cron schedule in a time zone, e.g. --cron "0 2 * * *" --tz Europe/Berlin')
    .addOption(new Option('--op <op>', 'statistic').choices([...REPORT_OPS]).makeOptionMandatory())
    .requiredOption('--cron <expr>', 'cron pattern (5 fields, or 6 with seconds first)')
    .option('--tz <zone>', 'IANA time zone', 'UTC')
    .option('--name <schedule>', 'schedule name (default: the op); the same name replaces it')
    .option('--window-days <d>', 'report on the last D days before each run (default: every record)', (v) => Number(v))
    .option('--model <id>', 'grs: the model')
    .action(async (name: string, o: { op: ReportOp; cron: string; tz: string; name?: string; windowDays?: number; model?: string }) => {
      const s = await client().putSchedule(name, o.name ?? o.op, {
        op: o.op,
        cron: o.cron,
        tz: o.tz,
        ...(o.windowDays ? { windowDays: o.windowDays } : {}),
        ...(o.model ? { modelId: o.model } : {}),
      });
      output({ dataset: name, schedule: s.schedule, schedulerId: s.schedulerId, next: s.next });
    });

  ds.command('schedules <name>')
    .description("the dataset's report schedules and their next runs")
    .action(async (name: string) => {
      const list = await client().listSchedules(name);
      output({ dataset: name, schedules: list }, list.map((s) => `${s.schedule}\t${s.op}\t${s.cron}\t${s.tz}\tnext ${s.next}`).join('\n') || 'no schedules');
    });

  ds.command('unschedule <name>')
    .description('delete a schedule (reports already made stay)')
    .requiredOption('--name <schedule>', 'schedule name (the op, unless you named it)')
    .action(async (name: string, o: { name: string }) => {
      await client().deleteSchedule(name, o.name);
      output({ dataset: name, schedule: o.name, deleted: true });
    });

  ds.command('reports <name>')
    .description('reports made so far, newest first')
    .option('--limit <n>', 'at most this many', (v) => Number(v), 100)
    .action(async (name: string, o: { limit: number }) => {
      const reports = await client().listReports(name, o.limit);
      output({ reports }, reports.map((r) => `${r.jobId}\t${r.op}\t${r.scheduledFor}\t${r.status}\t${r.progress}%`).join('\n') || 'no reports');
    });

  ds.command('delete <name>')
    .description('delete the dataset, its records and its schedules')
    .action(async (name: string) => {
      await client().deleteDataset(name);
      output({ dataset: name, deleted: true });
    });
}
