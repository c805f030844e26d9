import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { VeilError } from '../shared/errors.js';
import { PACKINGS, type Packing } from '../shared/layout.js';
import { parseNumbers, type CliContext } from './cli-context.js';
import { matchVcf, match23andMe, type GenotypeMatch } from './genomics/match.js';
import { scoreSamples } from './genomics/score.js';
import { withOwner, submitGrs, waitAndFinish } from './sdk.js';

interface GrsOptions {
  model: string;
  keys: string;
  genotype?: string;
  vcf?: string;
  sample?: string;
  allSamples?: boolean;
  '23andme'?: string;
  meanImputation: boolean;
  ds?: boolean;
  autosomesOnly?: boolean;
  excludeAmbiguous?: boolean;
  wait: boolean;
  packing: string;
}

/** A progress bar on stderr for people; nothing for --json or a pipe. */
function progressBar(ctx: CliContext, label: string): SingleBar | undefined {
  if (ctx.json() || !process.stderr.isTTY) return undefined;
  return new SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total}`, stream: process.stderr, hideCursor: true });
}

/** Read and match a VCF or 23andMe file to the model's variants, here on the owner's machine. */
async function matchFile(ctx: CliContext, o: GrsOptions): Promise<GenotypeMatch> {
  const model = await ctx.client().getModel(o.model);
  const file = (o.vcf ?? o['23andme']) as string;
  const size = (
    await stat(file).catch(() => {
      throw new VeilError('file_not_found', `cannot read ${file}`);
    })
  ).size;
  const bar = progressBar(ctx, `reading ${file}`);
  bar?.start(size, 0);
  const onProgress = ({ bytes }: { bytes: number }) => bar?.update(bytes);
  try {
    const modelVariants = { variants: model.variantList, metadata: model.metadata };
    const filters = { autosomesOnly: o.autosomesOnly, excludeAmbiguous: o.excludeAmbiguous };
    if (o['23andme']) return await match23andMe(modelVariants, createReadStream(file), { ...filters, onProgress });
    return await matchVcf(modelVariants, createReadStream(file), {
      ...filters,
      samples: o.sample ? [o.sample] : undefined,
      noMeanImputation: !o.meanImputation,
      dosageField: o.ds ? 'DS' : undefined,
      onProgress,
    });
  } finally {
    bar?.stop();
  }
}

export function registerGrsCommand(program: Command, ctx: CliContext): void {
  program
    .command('grs')
    .description('genetic risk score: encrypt dosages here, score on the server, decrypt here')
    .requiredOption('--model <id>', 'model id')
    .requiredOption('--keys <dir>', 'key directory from veil keygen')
    .option('--genotype <list>', "effect-allele dosages in the model's variant order, e.g. 1,0,2,1,0")
    .option('--vcf <file>', 'VCF (plain or bgzip), matched to the model like PLINK 2 --score')
    .option('--sample <name>', 'the VCF sample to score')
    .option('--all-samples', 'score every sample of the VCF (one JSON line or TSV row each)')
    .option('--23andme <file>', '23andMe raw data (positions on the build its header names, GRCh37 if none)')
    .option('--no-mean-imputation', 'missing calls count 0 (default: 2 × the effect-allele frequency, as PLINK 2)')
    .option('--ds', 'use the VCF DS (dosage) field instead of GT, like plink2 --vcf dosage=DS')
    .option('--autosomes-only', 'use chr1-22 only')
    .option('--exclude-ambiguous', "skip strand-ambiguous A/T and C/G SNPs (with --autosomes-only: the PGS Catalog Calculator's variant set)")
    .option('--packing <layout>', 'with --all-samples: auto (fewer ciphertexts), coeff (samples side by side) or sample (one ciphertext per variant)', 'auto')
    .option('--no-wait', 'submit only; print the job id')
    .action(async (o: GrsOptions) => {
      const sources = [o.genotype, o.vcf, o['23andme']].filter(Boolean).length;
      if (sources !== 1) throw new VeilError('invalid_input', 'give exactly one of --genotype, --vcf, --23andme');
      await withOwner(o.keys, async (owner) => {
        if (o.genotype) {
          const dosages = parseNumbers(o.genotype, '--genotype');
          const jobId = await submitGrs(ctx.client(), owner, o.model, [dosages]);
          if (!o.wait) return ctx.output({ jobId });
          const [r] = await waitAndFinish(ctx.client(), owner, jobId);
          return ctx.output({ ...r, variantsUsed: dosages.length, variantsMissing: 0 });
        }
        const match = await matchFile(ctx, o);
        const coverage = { variantsUsed: match.variantsUsed, variantsMissing: match.variantsMissing, skipped: match.reasons };
        if (match.samples.length > 1 && !o.allSamples) {
          throw new VeilError('invalid_input', `${o.vcf} has ${match.samples.length} samples: name one with --sample or pass --all-samples`);
        }
        if (!o.allSamples) {
          // 23andMe has hard calls only: declared as such, the weights get 16 more bits.
          const jobId = await submitGrs(ctx.client(), owner, o.model, [match.dosages(0)], { hardCalls: Boolean(o['23andme']) });
          if (!o.wait) return ctx.output({ jobId, ...coverage });
          const [r] = await waitAndFinish(ctx.client(), owner, jobId);
          return ctx.output({ ...r, ...coverage });
        }
        const bar = progressBar(ctx, 'scoring');
        bar?.start(match.samples.length, 0);
        if (o.packing !== 'auto' && !(PACKINGS as readonly string[]).includes(o.packing))
          throw new VeilError('invalid_input', `--packing must be auto, ${PACKINGS.join(' or ')}`);
        const packing = o.packing === 'auto' ? undefined : (o.packing as Packing);
        const scores = await scoreSamples(ctx.client(), owner, o.model, match, (done) => bar?.update(done), { packing });
        bar?.stop();
        if (ctx.json()) for (const s of scores) ctx.output({ ...s });
        else {
          const prob = scores.some((s) => s.probability !== undefined);
          process.stdout.write(`sample\tscore${prob ? '\tprobability' : ''}\n`);
          for (const s of scores) process.stdout.write(`${s.sample}\t${s.score}${prob ? `\t${s.probability}` : ''}\n`);
          process.stderr.write(
            `${scores.length} samples; ${match.variantsUsed} variants used, ${match.variantsMissing} missing (${JSON.stringify(match.reasons)})\n`,
          );
        }
      });
    });
}
