import { z } from 'zod';
import { parseTokens, TokenTable, tokenProblem } from './tokens.js';
import { ConfigError } from '../shared/errors.js';

/**
 * Every setting veil reads from the environment, read once and validated at start. A bad value
 * stops the process with a message naming the variable and what to set it to.
 */
const intIn = (min: number, max: number) => z.coerce.number().int(`must be a whole number`).min(min, `must be ≥ ${min}`).max(max, `must be ≤ ${max}`);

/** `tenant:token[:scope],…`: kept as hashes; a problem names the entry, never the token. */
const tokensSchema = z.string().transform((s, ctx) => {
  const parsed = parseTokens(s);
  if ('table' in parsed) return parsed.table;
  for (const message of parsed.problems) ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
});

/** The operator's token for /metrics and /admin/queues: one admin-scope entry, no tenant, kept as a hash. */
const adminTokenSchema = z.string().transform((token, ctx) => {
  const problem = tokenProblem(token);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  const table = new TokenTable();
  table.add(token, { tenant: '', scope: 'admin' });
  return table;
});

const envSchema = z.object({
  PORT: intIn(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z
    .string()
    .regex(
      /^(rediss?|redis\+sentinel|redis\+cluster):\/\/\S+$/,
      'must be redis://, rediss://, redis+sentinel://host:port,…/master or redis+cluster://host:port,…',
    )
    .optional(),
  /** Key prefix for everything veil stores in Redis (queues included): lets deployments share one. */
  VEIL_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/)
    .default('veil'),
  WORKERS: intIn(1, 64).default(2),
  /** Measured best on 2 cores: 1 per process, one process per core (see README, benchmark). */
  WORKER_CONCURRENCY: intIn(1, 64).default(1),
  VEIL_TOKENS: tokensSchema.optional(),
  VEIL_ADMIN_TOKEN: adminTokenSchema.optional(),
  /** Seconds inputs, results and finished job records are kept. */
  RETENTION_SECONDS: intIn(60, 30 * 24 * 3600).default(24 * 3600),
  MAX_BODY_MB: intIn(1, 1024).default(256),
  /** Nesting of a MessagePack body; veil's deepest (dataset records) is 4. */
  MAX_MSGPACK_DEPTH: intIn(1, 64).default(8),
  /** Variants of one model (PGS Catalog's largest scores have ~7M; 4M take ~1 GB of API heap to parse). */
  MAX_MODEL_VARIANTS: intIn(1, 16_777_216).default(4_194_304),
  /** Bytes a scoring file may decompress to (a 0.6 MB gzip can hold 30M rows). */
  MAX_MODEL_TEXT_MB: intIn(1, 8192).default(1024),
  /**
   * Threads that run SEAL's checks of uploads and parse models off the API's event loop (~40 MB of
   * memory each). Two: a hostile upload replaces its thread's SEAL instance (~0.35 s of CPU), and
   * with one thread every upload queued behind those (fuzz: 16 → 25 requests/s with two).
   */
  VALIDATION_THREADS: intIn(1, 16).default(2),
  /** Per-tenant quotas (429 + Retry-After beyond): unfinished jobs, datasets, report schedules. */
  QUOTA_JOBS_IN_FLIGHT: intIn(1, 1_000_000).default(1000),
  /** Input bytes of a tenant's unfinished jobs: what a tenant can pile into Redis through the queue. */
  QUOTA_JOB_BYTES: intIn(1, 2 ** 50).default(2 ** 30),
  QUOTA_DATASETS: intIn(1, 1_000_000).default(100),
  QUOTA_SCHEDULES: intIn(1, 1_000_000).default(100),
  /** The shortest interval a report schedule may fire at. */
  MIN_SCHEDULE_INTERVAL_S: intIn(1, 31 * 24 * 3600).default(3600),
  /** Private models: samples per job, and jobs per token per model per UTC day (429 beyond). */
  PRIVATE_MODEL_MAX_SAMPLES: intIn(1, 1_000_000).default(1),
  PRIVATE_MODEL_JOBS_PER_DAY: intIn(1, 1_000_000).default(50),
  /** On SIGTERM the API finishes requests for at most this long, then closes every connection. */
  DRAIN_TIMEOUT_MS: intIn(100, 600_000).default(10_000),
  /**
   * Where ciphertexts get SEAL's full check (load, size 2, top level, form, c1 ≠ 0). `api`: in the
   * validation pool, so a forged one is a 400 at submission. `worker`: only headers and sizes at
   * the API; the worker, which loads every input anyway, fails the job with invalid_ciphertext.
   */
  VALIDATE_CIPHERTEXTS: z.enum(['api', 'worker']).default('api'),
  /** BullMQ lock: a worker that dies loses its job to another after this long. */
  JOB_LOCK_MS: intIn(1000, 600_000).default(30_000),
  JOB_ATTEMPTS: intIn(1, 20).default(3),
  /** Days a dataset keeps a record (from the record's time) unless the dataset sets its own. */
  DATASET_RETENTION_DAYS: intIn(1, 3650).default(400),
  /** How often the scheduler role reconciles report schedules with BullMQ's job schedulers. */
  SCHEDULE_RECONCILE_MS: intIn(200, 3_600_000).default(30_000),
  /** Origins (scheme://host[:port]) whose pages may call the API from a browser; none by default. */
  VEIL_CORS_ORIGINS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s,]+$/, "must be a comma-separated list of origins such as https://app.example.com (no path, no '*')")))
    .default([]),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Omit<z.infer<typeof envSchema>, 'VEIL_TOKENS' | 'VEIL_ADMIN_TOKEN'> & { VEIL_TOKENS?: TokenTable; VEIL_ADMIN_TOKEN?: TokenTable };

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as docker-compose writes them for `VAR:` with no value.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}\nfix these variables (see README, Configuration) and start again`);
  }
  return parsed.data;
}

let cached: Config | undefined;
/** The process's configuration, validated on first use. */
export function config(): Config {
  return (cached ??= parseConfig());
}
