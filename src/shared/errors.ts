/**
 * Typed errors with a stable `code`. The code (and `name`, which survives BullMQ's sandbox and
 * process boundaries) is what callers branch on; the message says what to do about it.
 */
export class VeilError extends Error {
  override readonly name: string = 'VeilError';
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status when this error reaches a client. 4xx: the caller's fault. */
    readonly status = 400,
  ) {
    super(message);
  }
}

/** Input that can never succeed: the job fails at once and is not retried. */
export class InvalidInputError extends VeilError {
  override readonly name = 'InvalidInputError';
}

export class NotFoundError extends VeilError {
  override readonly name = 'NotFoundError';
  constructor(what: string, id: string) {
    super(`${what}_not_found`, `${what} '${id}' does not exist (or belongs to another tenant)`, 404);
  }
}

export class ConfigError extends VeilError {
  override readonly name = 'ConfigError';
  constructor(message: string) {
    super('invalid_config', message, 500);
  }
}

/** Names of errors that mean "this input is bad", recognised after crossing a thread or process. */
const PERMANENT_ERROR_NAMES = new Set(['InvalidInputError', 'NotFoundError', 'UnrecoverableError']);

export function isPermanentError(err: unknown): boolean {
  return err instanceof Error && PERMANENT_ERROR_NAMES.has(err.name);
}

/** The `{code, message}` a client sees; never a stack, never data. */
export function errorBody(err: unknown): { code: string; message: string } {
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') {
    return { code: (err as VeilError).code, message: err.message };
  }
  return { code: 'internal', message: 'internal error; see the server log' };
}
