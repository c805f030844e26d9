/**
 * A scoring model as both sides see it. The service holds the weights in plaintext (they are the
 * service's, or public PGS Catalog weights); the owner needs the variant list, in model order, to
 * lay out its dosages.
 */
export type Link = 'identity' | 'logistic';

export interface ModelVariant {
  /** rsID (`rs123`), when the scoring file has one. */
  rsid?: string;
  /** Chromosome without a `chr` prefix (`1`..`22`, `X`, `Y`, `MT`), harmonized if the file is. */
  chr?: string;
  /** 1-based position, harmonized (`hm_pos`) if the file has it. */
  pos?: number;
  effectAllele: string;
  otherAllele?: string;
}

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
