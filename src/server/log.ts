import { pino, type Logger } from 'pino';

/**
 * The one logger factory for veil's server roles. Log lines never carry request bodies,
 * ciphertexts, weights or Redis command arguments: ioredis errors hold the failed command with
 * its arguments (a whole ciphertext, a model's weights), so errors are reduced to name, code and
 * a clipped message, and the fields that can hold payloads are removed wherever they appear.
 */
export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    serializers: { err: safeError, error: safeError },
    redact: { paths: PAYLOAD_FIELDS, remove: true },
  });
}

const PAYLOAD_FIELDS = ['body', 'args', 'command', 'ciphertexts', 'weights', 'data', 'payload'].flatMap((f) => [f, `*.${f}`]);
const MAX_MESSAGE = 300;

export interface SafeError {
  type: string;
  message: string;
  code?: string;
  stack?: string;
}

/** An error as a log may show it: its kind, code and message, and where it came from — nothing it carries. */
export function safeError(err: unknown): SafeError {
  if (!(err instanceof Error)) return { type: typeof err, message: 'non-Error thrown' };
  const code = (err as { code?: unknown }).code;
  const message = err.message.length > MAX_MESSAGE ? `${err.message.slice(0, MAX_MESSAGE)}…` : err.message;
  // Frames only: the first stack line repeats the (unclipped) message.
  const frames = (err.stack ?? '')
    .split('\n')
    .filter((l) => l.startsWith('    at '))
    .slice(0, 15)
    .join('\n');
  return { type: err.name, message, ...(typeof code === 'string' ? { code } : {}), ...(frames ? { stack: frames } : {}) };
}
