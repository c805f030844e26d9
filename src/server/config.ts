import { z } from 'zod';
import { ConfigError } from '../shared/errors.js';

/**
 * Every setting veil reads from the environment, read once and validated at start. A bad value
 * stops the process with a message naming the variable and what to set it to.
 */
const intIn = (min: number, max: number) =>
  z.coerce.number().int(`must be a whole number`).min(min, `must be ≥ ${min}`).max(max, `must be ≤ ${max}`);

const tokensSchema = z
  .string()
  .transform((s, ctx) => {
    const map = new Map<string, string>(); // token → tenant
    for (const pair of s.split(',').map((p) => p.trim()).filter(Boolean)) {
      const at = pair.indexOf(':');
      const tenant = pair.slice(0, at);
      const token = pair.slice(at + 1);
      if (at < 1 || token.length < 8 || !/^[A-Za-z0-9_.-]+$/.test(tenant)) {
        ctx.addIssue({ code: 'custom', message: `'${pair}' is not tenant:token (tenant [A-Za-z0-9_.-], token ≥ 8 chars)` });
        return z.NEVER;
      }
      map.set(token, tenant);
    }
    return map;
  });

const envSchema = z.object({
  PORT: intIn(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z.string().regex(/^(rediss?|redis\+sentinel|redis\+cluster):\/\/\S+$/, 'must be redis://, rediss://, redis+sentinel://host:port,…/master or redis+cluster://host:port,…').optional(),
  /** Key prefix for everything veil stores in Redis (queues included): lets deployments share one. */
  VEIL_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]+$/).default('veil'),
  WORKERS: intIn(1, 64).default(2),
  /** Measured best on 2 cores: 1 per process, one process per core (see README, benchmark). */
  WORKER_CONCURRENCY: intIn(1, 64).default(1),
  VEIL_TOKENS: tokensSchema.optional(),
  /** Seconds inputs, results and finished job records are kept. */
  RETENTION_SECONDS: intIn(60, 30 * 24 * 3600).default(24 * 3600),
  MAX_BODY_MB: intIn(1, 1024).default(256),
  /** BullMQ lock: a worker that dies loses its job to another after this long. */
  JOB_LOCK_MS: intIn(1000, 600_000).default(30_000),
  JOB_ATTEMPTS: intIn(1, 20).default(3),
  /** Days a dataset keeps a record (from the record's time) unless the dataset sets its own. */
  DATASET_RETENTION_DAYS: intIn(1, 3650).default(400),
  /** How often the scheduler role reconciles report schedules with BullMQ's job schedulers. */
  SCHEDULE_RECONCILE_MS: intIn(200, 3_600_000).default(30_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Omit<z.infer<typeof envSchema>, 'VEIL_TOKENS'> & { VEIL_TOKENS?: Map<string, string> };

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
