import { parentPort, type MessagePort } from 'node:worker_threads';
import { loadCiphertext, presetContext } from '../shared/context.js';
import { getPreset } from '../shared/params.js';
import { canonicalContext } from '../shared/public-context.js';
import { getSeal, type Seal } from '../shared/seal.js';
import type { ValidationReply, ValidationTask } from './validation-pool.js';

/**
 * One thread of the API's validation pool: SEAL's full checks (loading ciphertexts and keys,
 * re-serializing contexts) run here, off the event loop that answers /healthz. Every input
 * already passed the byte-level checks (seal-bytes.ts) on the event loop, so what SEAL expands
 * here is bounded by the preset's exact sizes.
 */
const port = parentPort;
if (!port) throw new Error('validation-thread.ts runs as a worker thread');

let instance: Seal | undefined;

port.on('message', (task: ValidationTask) => void validate(port, task));

/** One task, answered on `port`; never throws (every failure is a reply). */
async function validate(port: MessagePort, task: ValidationTask): Promise<void> {
  try {
    const seal = (instance ??= await getSeal());
    if (task.kind === 'context') {
      const canonical = canonicalContext(seal, task.bytes, (p) => presetContext(seal, p).ctx);
      const { contextId, preset } = canonical;
      const bytes = new Uint8Array(canonical.bytes); // its own buffer, to transfer: msgpackr's may be shared
      const reply: ValidationReply = { id: task.id, ok: true, context: { contextId, bytes, preset: preset.id } };
      port.postMessage(reply, [bytes.buffer]);
    } else {
      const ec = presetContext(seal, getPreset(task.preset));
      task.ciphertexts.forEach((bytes, i) => loadCiphertext(seal, ec, bytes, task.labels[i] ?? `ciphertext ${i}`).delete());
      port.postMessage({ id: task.id, ok: true } satisfies ValidationReply);
    }
  } catch (err) {
    port.postMessage({ id: task.id, ok: false, error: replyError(err) } satisfies ValidationReply);
    // SEAL aborts its WASM instance on some malformed inputs, sometimes inside a call whose
    // error was caught and answered as invalid input; an aborted instance fails every later call.
    // So after any failure, one cheap call proves the instance sound, or the thread exits and
    // the pool starts a fresh one.
    if (isWasmTrap(err) || !sealIsSound()) process.exit(1);
  }
}

function replyError(err: unknown): (ValidationReply & { ok: false })['error'] {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; status?: unknown };
  if (typeof e.code === 'string' && typeof e.status === 'number') return { name: String(e.name), code: e.code, message: String(e.message), status: e.status };
  // A trap while SEAL read this request's bytes: the bytes are at fault, not the service.
  if (isWasmTrap(err)) return { name: 'InvalidInputError', code: 'unreadable_input', message: 'SEAL could not read the uploaded objects; send them as SEAL saved them', status: 400 };
  // Anything else is a bug; its text stays in the server log.
  return { name: 'Error', code: 'internal', message: String(e.message ?? err), status: 500 };
}

function sealIsSound(): boolean {
  try {
    instance?.CipherText().delete();
    return true;
  } catch {
    return false;
  }
}

/** WebAssembly.RuntimeError: a trap or an abort inside SEAL. */
function isWasmTrap(err: unknown): boolean {
  return err instanceof Error && err.name === 'RuntimeError';
}
