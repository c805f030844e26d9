import { parentPort, type MessagePort } from 'node:worker_threads';
import { loadCiphertext, refusedAfterLoad, type EvalContext } from '../shared/context.js';
import { InvalidInputError } from '../shared/errors.js';
import { buildParms, getPreset, type Preset } from '../shared/params.js';
import { canonicalContext } from '../shared/public-context.js';
import { freshSeal, type Seal } from '../shared/seal.js';
import { prepareUpload } from './model-upload.js';
import { variantListJson } from './models.js';
import type { ValidationReply, ValidationTask } from './validation-pool.js';

/**
 * One thread of the API's validation pool: SEAL's full checks (loading ciphertexts and keys,
 * re-serializing contexts), model uploads and variant lists run here, off the event loop that
 * answers /healthz.
 * Every SEAL input already passed the byte-level checks (seal-bytes.ts) on the event loop, so what
 * SEAL expands here is bounded by the preset's exact sizes.
 */
const port = parentPort;
if (!port) throw new Error('validation-thread.ts runs as a worker thread');

/** This thread's SEAL instance; replaced by a fresh one (a new heap) after every refusal SEAL took part in. */
let instance = renewed();

function renewed(): Promise<Seal> {
  const next = freshSeal();
  // A thread that cannot make an instance is of no use: it exits, and the pool starts another.
  next.catch(() => process.exit(1));
  return next;
}

port.on('message', (task: ValidationTask) => void validate(port, task));

/** One task, answered on `port`; never throws (every failure is a reply). */
async function validate(port: MessagePort, task: ValidationTask): Promise<void> {
  try {
    if (task.kind === 'model') {
      const model = await prepareUpload(task.upload);
      port.postMessage({ id: task.id, ok: true, model } satisfies ValidationReply, [model.weights.buffer as ArrayBuffer, model.variants.buffer as ArrayBuffer]);
      return;
    }
    if (task.kind === 'variants') {
      const json = variantListJson(task.packed);
      port.postMessage({ id: task.id, ok: true, json } satisfies ValidationReply, [json.buffer as ArrayBuffer]);
      return;
    }
    const seal = await instance;
    if (task.kind === 'context') {
      const canonical = canonicalContext(seal, task.bytes, (p) => checkingContext(seal, p).ctx);
      const { contextId, preset } = canonical;
      const bytes = new Uint8Array(canonical.bytes); // its own buffer, to transfer: msgpackr's may be shared
      const reply: ValidationReply = { id: task.id, ok: true, context: { contextId, bytes, preset: preset.id } };
      port.postMessage(reply, [bytes.buffer]);
    } else {
      const ec = checkingContext(seal, getPreset(task.preset));
      task.ciphertexts.forEach((bytes, i) => loadCiphertext(seal, ec, bytes, task.labels[i] ?? `ciphertext ${i}`).delete());
      port.postMessage({ id: task.id, ok: true } satisfies ValidationReply);
    }
  } catch (err) {
    // SEAL can be left damaged by malformed input without any sign: an abort inside a call whose
    // error was caught, or a heap corrupted by a bit-flipped key that fails only later, honest
    // loads (the fuzzer found both). So after a refusal SEAL took part in, the next task gets a new
    // instance (a new heap, from the compiled module: seal.ts); honest uploads never pay for it,
    // nor do ciphertexts SEAL loaded cleanly and veil's own checks refused (size, level, c1 = 0).
    const error = replyError(err);
    if ((task.kind === 'context' || task.kind === 'ciphertexts') && !BEFORE_SEAL.has(error.code) && !refusedAfterLoad(err)) instance = renewed();
    port.postMessage({ id: task.id, ok: false, error } satisfies ValidationReply);
  }
}

/**
 * A preset's SEAL context for checking only: keys and ciphertexts are loaded at the key and top
 * levels, so the modulus chain below is not built (expand_mod_chain = false). That halves the
 * cost of building it (~0.3 s instead of ~0.5), which a fresh instance pays again.
 */
const checking = new WeakMap<Seal, Map<string, EvalContext>>();
function checkingContext(seal: Seal, preset: Preset): EvalContext {
  let contexts = checking.get(seal);
  if (!contexts) checking.set(seal, (contexts = new Map()));
  let ec = contexts.get(preset.id);
  if (!ec) {
    const parms = buildParms(seal, preset);
    const ctx = seal.Context(parms, false, seal.SecurityLevel.tc128);
    parms.delete();
    if (!ctx.parametersSet()) throw new InvalidInputError('insecure_parameters', `preset ${preset.id} is not 128-bit secure`, 422);
    ec = { contextId: `check:${preset.id}`, preset, ctx, evaluator: seal.Evaluator(ctx), dispose() {} };
    contexts.set(preset.id, ec);
  }
  return ec;
}

/** Refusals decided from the bytes alone, before SEAL read anything: the instance is untouched. */
const BEFORE_SEAL = new Set([
  'malformed_msgpack',
  'duplicate_key',
  'msgpack_too_deep',
  'invalid_body',
  'unknown_field',
  'unexpected_field',
  'unsupported_parameters',
  'missing_galois_keys',
]);

function replyError(err: unknown): (ValidationReply & { ok: false })['error'] {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; status?: unknown };
  if (typeof e.code === 'string' && typeof e.status === 'number') return { name: String(e.name), code: e.code, message: String(e.message), status: e.status };
  // A trap while SEAL read this request's bytes: the bytes are at fault, not the service.
  if (isWasmTrap(err))
    return {
      name: 'InvalidInputError',
      code: 'unreadable_input',
      message: 'SEAL could not read the uploaded objects; send them as SEAL saved them',
      status: 400,
    };
  // Anything else is a bug; its text stays in the server log.
  return { name: 'Error', code: 'internal', message: String(e.message ?? err), status: 500 };
}

/** WebAssembly.RuntimeError: a trap or an abort inside SEAL. */
function isWasmTrap(err: unknown): boolean {
  return err instanceof Error && err.name === 'RuntimeError';
}
