import { z } from 'zod';

/**
 * A scoring model as both sides see it. The service holds the weights in plaintext (they are the
 * service's, or public PGS Catalog weights); the owner needs the variant list, in model order, to
 * lay out its dosages, and the link to finish a score.
 */
export const LINKS = ['identity', 'logistic'] as const;
export type Link = (typeof LINKS)[number];

export const modelVariantSchema = z
  .object({
    /** rsID (`rs123`), when the scoring file has one. */
    rsid: z.string().optional(),
    /** Chromosome without a `chr` prefix (`1`..`22`, `X`, `Y`, `MT`), harmonized if the file is. */
    chr: z.string().optional(),
    /** 1-based position, harmonized (`hm_pos`) if the file has it. */
    pos: z.number().int().optional(),
    effectAllele: z.string(),
    otherAllele: z.string().optional(),
  })
  .strict();
export type ModelVariant = z.infer<typeof modelVariantSchema>;

export interface ModelDefinition {
  name: string;
  /** `#key=value` header lines of a PGS Catalog file (pgs_id, trait_reported, genome_build, …). */
  metadata: Record<string, string>;
  variants: ModelVariant[];
  weights: Float64Array;
  bias: number;
  link: Link;
  /** JSON `"private": true` or the scoring-file header `#veil_private=true`. */
  private?: boolean;
}

export const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** POST /v1/models as JSON: a weights list, optional variants, bias and link. */
export const jsonModelSchema = z
  .object({
    id: z.string().optional(),
    name: z.string().min(1).max(200),
    weights: z.array(z.number().finite()).min(1).max(4_194_304),
    bias: z.number().finite().default(0),
    link: z.enum(LINKS).default('identity'),
    variants: z.array(modelVariantSchema).optional(),
    metadata: z.record(z.string(), z.string()).default({}),
    private: z.boolean().default(false),
  })
  .strict();
export type JsonModel = z.input<typeof jsonModelSchema>;

/** What the API says about a model (lists, uploads): everything but its arrays. */
export const modelInfoSchema = z.object({
  modelId: z.string(),
  name: z.string(),
  variants: z.number().int(),
  /** Withheld for a private model, like its weights. */
  bias: z.number().optional(),
  link: z.enum(LINKS),
  metadata: z.record(z.string(), z.string()),
  createdAt: z.string(),
  /** 1 for the first upload; each explicit replacement adds one. Jobs record the one they used. */
  version: z.number().int(),
  /** Variant list public, weights and bias never returned, jobs limited. */
  private: z.boolean(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const modelListSchema = z.object({ models: z.array(modelInfoSchema) });

/** GET /v1/models/:id: the info and, unless `?variants=false`, the variant list in model order. */
export const modelDetailSchema = modelInfoSchema.extend({ variantList: z.array(modelVariantSchema).optional() });
export type ModelDetail = z.infer<typeof modelDetailSchema>;

/** A logistic model's probability; the score itself already includes the bias (the worker adds it). */
export function applyLink(link: Link | undefined, score: number): { probability?: number } {
  return link === 'logistic' ? { probability: 1 / (1 + Math.exp(-score)) } : {};
}
