import { Packr } from 'msgpackr';
import { z } from 'zod';
import { contextIdSchema } from './api.js';
import { DATASET_KINDS, REPORT_OPS } from './dataset.js';
import { InvalidInputError } from './errors.js';
import { PACKINGS } from './layout.js';
import { LINKS } from './model.js';
import { PRESET_IDS } from './params.js';

/**
 * The versioned MessagePack wire format: public contexts, secret-key files, job submissions and
 * results. Binary fields (SEAL objects) are msgpack `bin`; everything received is validated here
 * before anything else looks at it.
 */
export const WIRE_VERSION = 1;

// Plain maps (no msgpackr records) so any msgpack implementation can read and write these.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** Bytes in the binary fields of a message (at most `depth` levels down): jobs carry them in arrays. */
function binaryBytes(value: unknown, depth: number): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (depth === 0 || value === null || typeof value !== 'object') return 0;
  let sum = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) sum += binaryBytes(v, depth - 1);
  return sum;
}

const LARGE = 1 << 20;

export function pack(value: unknown): Buffer {
  const bytes = binaryBytes(value, 3);
  if (bytes < LARGE) return packr.pack(value);
  // A job of many ciphertexts (~100 MB): packed into one buffer of the right size, where msgpackr
  // would grow its own by 1.25× at a time, copying everything each time (measured: 1.9 s of 2.5 s).
  packr.useBuffer(Buffer.allocUnsafeSlow(bytes + LARGE));
  try {
    return packr.pack(value);
  } finally {
    // msgpackr keeps writing into its last buffer: hand it a small one, so the large one is freed with the message.
    packr.useBuffer(Buffer.allocUnsafeSlow(64 * 1024));
  }
}

export function unpack(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch {
    throw new InvalidInputError('malformed_msgpack', 'the body is not valid MessagePack; send a msgpack-encoded map');
  }
}

export const bin = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary data (msgpack bin)');
const presetId = z.enum(PRESET_IDS);

/** What leaves the owner: parameters, the public key and, for CKKS, Galois keys. Never a secret key. */
export const publicContextSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    type: z.literal('veil/public-context'),
    preset: presetId,
    parms: bin,
    /** Lets devices encrypt for the owner without the secret key, and makes the id per key pair. */
    publicKey: bin,
    galoisKeys: bin.optional(),
  })
  .strict();
export type PublicContext = z.infer<typeof publicContextSchema>;

/** The owner's `secret.key` file. Only the producer reads or writes it. */
export const secretKeyFileSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    type: z.literal('veil/secret-key'),
    preset: presetId,
    contextId: z.string(),
    secretKey: bin,
  })
  .strict();
export type SecretKeyFile = z.infer<typeof secretKeyFileSchema>;

/**
 * Fixed-point metadata of coefficient-encoded inputs: public, like a CKKS scale, so it comes from
 * the op and never from the data (producer/crypto.ts): grs dosages |x| ≤ 2 at 2^-16 (valueBits 18);
 * mean readings of a declared width (default |x| < 2^12) at the finest scale the count allows.
 */
const fixedPoint = {
  /** Values were multiplied by 2^scaleBits and rounded. */
  scaleBits: z.number().int().min(0).max(40).default(0),
  /** Every encoded |value| is below 2^valueBits: bounds the result so it cannot wrap mod t. */
  valueBits: z.number().int().min(0).max(56).default(0),
};

const common = {
  v: z.literal(WIRE_VERSION),
  contextId: contextIdSchema,
  ciphertexts: z.array(bin).min(1).max(100_000),
  ...fixedPoint,
};

export const jobRequestSchema = z.discriminatedUnion('op', [
  z
    .object({
      ...common,
      op: z.literal('grs'),
      modelId: z.string().min(1).max(128),
      samples: z.number().int().min(1).max(100_000).default(1),
      /** How samples sit in the ciphertexts (shared/layout.ts; absent: 'coeff'): the owner picks, the worker follows. */
      packing: z.enum(PACKINGS).optional(),
    })
    .strict(),
  z
    .object({
      ...common,
      op: z.literal('mean'),
      count: z.number().int().min(1).max(4_194_304),
    })
    .strict(),
]);
export type JobRequest = z.infer<typeof jobRequestSchema>;
export type JobOp = JobRequest['op'];

export const jobResultSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    jobId: z.string(),
    op: z.string(),
    preset: presetId,
    /** Enough to decrypt with nothing but the keys: the layout and, for grs, the model. */
    length: z.number().int().min(1),
    samples: z.number().int().min(1),
    /** The inputs' packing when not 'coeff': it fixes where each sample's score is. */
    packing: z.enum(PACKINGS).optional(),
    modelId: z.string().optional(),
    /** grs: the model's link, so the owner finishes a score without asking for the model. */
    link: z.enum(LINKS).optional(),
    /** Coefficient encoding: the result is an integer × 2^-scaleBits (input scale + weight scale). */
    scaleBits: z.number().int().min(0).max(120),
    ciphertexts: z.array(bin).min(1),
    /** Report jobs (op `report`): what the owner needs to finish it (see datasets.ts, reports.ts). */
    report: z.lazy(() => reportInfoSchema).optional(),
  })
  .strict();
export type JobResult = z.infer<typeof jobResultSchema>;

/**
 * The public side of a report result. Exact integers that may exceed 2^53 (sums of times) are
 * decimal strings. readings: ciphertext 0 holds the block sums of Σ readings (and Σ squares for
 * variance); for trend, ciphertexts 1 and 2 hold Σ d_hi·x and Σ d_lo·x (d = seconds since
 * `origin`, d = d_hi·2^16 + d_lo). genotypes: one ciphertext per record group, scored by `modelId`.
 */
export const reportInfoSchema = z
  .object({
    dataset: z.string(),
    kind: z.enum(DATASET_KINDS),
    op: z.enum(REPORT_OPS),
    since: z.number(),
    until: z.number(),
    scheduledFor: z.number(),
    schedule: z.string().optional(),
    /** Readings (or genotype records) in the window. */
    count: z.number().int().min(0),
    origin: z.number().optional(),
    sumD: z.string().optional(),
    sumD2: z.string().optional(),
    encoding: z
      .object({ scaleBits: z.number(), valueBits: z.number(), limbBits: z.number(), xLimbs: z.number(), x2Limbs: z.number(), blockSize: z.number() })
      .optional(),
    groups: z.array(z.object({ samples: z.number().int().min(1), scaleBits: z.number().int(), ids: z.array(z.string()) })).optional(),
  })
  .strict();
export type ReportInfo = z.infer<typeof reportInfoSchema>;

/** Validate an unpacked value against a schema; a mismatch is the caller's 400 with the path named. */
export function parseWire<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(root)';
    throw new InvalidInputError('invalid_body', `${what}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
