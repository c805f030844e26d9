import { InvalidInputError } from './errors.js';

/**
 * Datasets as owner and service both see them: named per tenant, bound to one public context,
 * holding encrypted readings or genotype records; reports run over a time window. The HTTP
 * bodies are in api-datasets.ts; how the service stores them is src/server's business.
 */
export const DATASET_KINDS = ['readings', 'genotypes'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

export const READING_OPS = ['mean', 'variance', 'trend'] as const;
export const GENOTYPE_OPS = ['grs'] as const;
export const REPORT_OPS = [...READING_OPS, ...GENOTYPE_OPS] as const;
export type ReportOp = (typeof REPORT_OPS)[number];

/** The ops a dataset of this kind supports. */
export function opsFor(kind: DatasetKind): readonly ReportOp[] {
  return kind === 'readings' ? READING_OPS : GENOTYPE_OPS;
}

export const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const SCHEDULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

export function checkDatasetName(name: string): string {
  if (!DATASET_NAME.test(name)) throw new InvalidInputError('invalid_dataset_name', `dataset name '${name}' must match ${DATASET_NAME.source}`);
  return name;
}

export function checkScheduleName(name: string): string {
  if (!SCHEDULE_NAME.test(name)) throw new InvalidInputError('invalid_schedule_name', `schedule name '${name}' must match ${SCHEDULE_NAME.source}`);
  return name;
}
