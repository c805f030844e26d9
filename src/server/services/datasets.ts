import type { AppendRecords, Appended, DatasetMeta, createDatasetSchema } from '../../shared/api-datasets.js';
import { checkDatasetName } from '../../shared/dataset.js';
import { InvalidInputError, NotFoundError } from '../../shared/errors.js';
import { vectorLayout } from '../../shared/layout.js';
import { getPreset } from '../../shared/params.js';
import { readingChunks, readingsEncoding } from '../../shared/readings.js';
import type { z } from 'zod';
import { appendGroups } from '../append.js';
import { DatasetStore } from '../datasets.js';
import type { ServiceDeps } from '../deps.js';
import { getModelMeta } from '../models.js';
import { admitDataset } from '../quotas.js';
import { schedulerIdOf } from '../schedules.js';

/** A reading may be stamped this far in the future (clock skew between device and service). */
const FUTURE_SLACK_MS = 5 * 60_000;

export async function createDataset(deps: ServiceDeps, tenant: string, body: z.output<typeof createDatasetSchema>): Promise<DatasetMeta> {
  const name = checkDatasetName(body.name);
  const presetId = await deps.store.getContextPreset(tenant, body.contextId);
  if (!presetId) throw new NotFoundError('context', body.contextId);
  const preset = getPreset(presetId);
  if (preset.encoding !== 'coeff')
    throw new InvalidInputError('unsupported_parameters', `datasets need the coefficient-encoding preset (bfv-coeff-8192), not ${preset.id}`, 422);
  let variants = body.variants;
  if (body.kind === 'genotypes') {
    if (body.modelId) variants = (await getModelMeta(deps.store, tenant, body.modelId)).variants;
    if (!variants) throw new InvalidInputError('variants_required', 'a genotype dataset needs variants (dosages per record) or modelId');
  }
  const meta: DatasetMeta = {
    dataset: name,
    kind: body.kind,
    contextId: body.contextId,
    preset: preset.id,
    retentionDays: body.retentionDays ?? deps.config.DATASET_RETENTION_DAYS,
    createdAt: new Date().toISOString(),
    ...(body.kind === 'readings' ? { encoding: readingsEncoding(preset.polyModulusDegree, body.valueBits, body.scaleBits) } : { variants }),
  };
  const ds = new DatasetStore(deps.store);
  await admitDataset(ds, deps.config, tenant);
  await ds.create(tenant, meta);
  return meta;
}

/** Every check an append gets before anything is stored: times, counts, ids, ciphertexts. */
async function checkRecords(deps: ServiceDeps, meta: DatasetMeta, body: AppendRecords, now: number): Promise<void> {
  const preset = getPreset(meta.preset);
  body.records.forEach((r, i) => {
    const where = `records.${i}`;
    if (r.at !== undefined && r.at > now + FUTURE_SLACK_MS) throw new InvalidInputError('future_timestamp', `${where}.at is in the future`);
    const expected = meta.kind === 'readings' ? readingChunks(meta.encoding!, r.count) : vectorLayout(preset, meta.variants!, r.count).ciphertexts;
    if (r.ciphertexts.length !== expected)
      throw new InvalidInputError(
        'wrong_ciphertext_count',
        `${where}: ${r.count} ${meta.kind === 'readings' ? 'readings' : 'records'} take ${expected} ciphertexts in this dataset, got ${r.ciphertexts.length}`,
      );
    if (meta.kind === 'genotypes') {
      if (!r.ids || r.ids.length !== r.count) throw new InvalidInputError('invalid_ids', `${where}: give one record id per genotype record (${r.count})`);
      if (new Set(r.ids).size !== r.ids.length) throw new InvalidInputError('invalid_ids', `${where}: record ids repeat`);
    } else if (r.ids) {
      throw new InvalidInputError('invalid_ids', `${where}: readings take no record ids`);
    }
  });
  // SEAL's checks run in the validation pool's threads (or in the worker, per VALIDATE_CIPHERTEXTS).
  await deps.validation.checkCiphertexts(
    preset.id,
    body.records.flatMap((r) => r.ciphertexts),
    body.records.flatMap((r, i) => r.ciphertexts.map((_, j) => `records.${i}.ciphertexts.${j}`)),
    deps.config.VALIDATE_CIPHERTEXTS === 'api',
  );
  const seen = new Set<string>();
  for (const id of body.records.flatMap((r) => r.ids ?? [])) {
    if (seen.has(id)) throw new InvalidInputError('invalid_ids', `record id '${id}' appears twice in this append`);
    seen.add(id);
  }
}

/**
 * Append records, all groups or none; a retry with the same Idempotency-Key stores each group
 * once (see append.ts). Nothing is claimed before the write, so a request that dies half-way
 * does not make its retry answer "duplicate" for records that were never stored.
 */
export async function appendRecords(deps: ServiceDeps, tenant: string, name: string, body: AppendRecords, idempotencyKey?: string): Promise<Appended> {
  const ds = new DatasetStore(deps.store);
  const meta = await ds.get(tenant, name);
  const now = Date.now();
  await checkRecords(deps, meta, body, now);
  const out = await appendGroups(
    ds,
    tenant,
    meta,
    body.records.map((r) => ({
      group: {
        at: r.at ?? now,
        count: r.count,
        ciphertexts: r.ciphertexts.length,
        ...(r.ids ? { ids: r.ids, scaleBits: r.scaleBits ?? 0, valueBits: r.valueBits ?? 0 } : {}),
      },
      ciphertexts: r.ciphertexts,
    })),
    { ...(idempotencyKey ? { idempotencyKey } : {}), nowMs: now },
  );
  return { dataset: meta.dataset, records: out.records, groups: out.groups, ...(out.duplicate ? { duplicate: true } : {}) };
}

/** Delete a dataset, its records, and its schedules (ours and BullMQ's). */
export async function deleteDataset(deps: ServiceDeps, tenant: string, name: string): Promise<void> {
  const ds = new DatasetStore(deps.store);
  const meta = await ds.get(tenant, name);
  for (const d of await ds.delete(tenant, meta.dataset)) await deps.queue.removeJobScheduler(schedulerIdOf(d.tenant, d.dataset, d.schedule));
}
