import { Worker } from 'node:worker_threads';
import { InvalidInputError, VeilError } from '../shared/errors.js';
import { invalidCiphertext } from '../shared/context.js';
import type { PresetId } from '../shared/params.js';
import { SEAL_OBJECT_BYTES, sealObjectProblem } from '../shared/seal-bytes.js';
import type { ModelUpload } from './model-upload.js';
import type { PreparedModel } from './models.js';

/**
 * A small pool of worker threads for the API's CPU-heavy work (validation-thread.ts): SEAL's
 * checks, ~1 ms per ciphertext, ~10 ms per BFV context and ~0.7 s per CKKS context, and model
 * uploads, ~1.5 s per million variants. On the event loop a 1M-variant job (123 ciphertexts) or
 * model would hold /healthz for that long. Tasks queue here and go to the first idle thread; a
 * thread that dies fails its task with a 400 unreadable_input and is replaced as tasks need threads.
 */
export type ValidationTask = { id: number } & TaskBody;
type TaskBody =
  | { kind: 'context'; bytes: Uint8Array }
  | { kind: 'ciphertexts'; preset: PresetId; ciphertexts: Uint8Array[]; labels: string[] }
  | { kind: 'model'; upload: ModelUpload }
  | { kind: 'variants'; packed: Uint8Array };

export type ValidationReply =
  | { id: number; ok: true; context?: CanonicalContext; model?: PreparedModel; json?: Uint8Array }
  | { id: number; ok: false; error: { name: string; code: string; message: string; status: number } };

export interface CanonicalContext {
  contextId: string;
  preset: PresetId;
  /** What veil stores: re-serialized from SEAL's loaded objects. */
  bytes: Uint8Array;
}

export interface ValidationPool {
  /** Check an uploaded context and return its canonical form; `bytes` is transferred. */
  canonicalContext(bytes: Uint8Array): Promise<CanonicalContext>;
  /**
   * Check each ciphertext's bytes (header, sizes) here and, when `full`, load it under the preset
   * in a thread (SEAL's own checks, size, level, form, c1 ≠ 0). `labels` name them in errors.
   */
  checkCiphertexts(preset: PresetId, ciphertexts: Uint8Array[], labels: string[], full: boolean): Promise<void>;
  /** Parse an uploaded model and serialize it for storage (model-upload.ts); its body is transferred. */
  prepareModel(upload: ModelUpload): Promise<PreparedModel>;
  /** A stored variant list (msgpack columns) as JSON text (models.ts variantListJson). */
  variantListJson(packed: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

interface Pending {
  task: ValidationTask;
  transfer: ArrayBuffer[];
  resolve(reply: ValidationReply & { ok: true }): void;
  reject(err: Error): void;
}

// Run from source (vitest, tsx), this module is a .ts file and a worker thread cannot load a .ts
// sibling: it takes the built thread (npm run build) instead.
const THREAD_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/server/validation-thread.js', import.meta.url)
  : new URL('./validation-thread.js', import.meta.url);

export function createValidationPool(threads: number): ValidationPool {
  const queue: Pending[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, Pending>();
  let nextId = 1;
  let closed = false;
  let live = 0;

  function spawn(): void {
    live += 1;
    const worker = new Worker(THREAD_URL);
    worker.on('message', (reply: ValidationReply) => {
      const job = busy.get(worker);
      busy.delete(worker);
      idle.push(worker);
      if (job) settle(job, reply);
      dispatch();
    });
    worker.on('error', () => {}); // 'exit' follows; the task is failed there
    worker.on('exit', () => {
      live -= 1;
      const job = busy.get(worker);
      busy.delete(worker);
      const at = idle.indexOf(worker);
      if (at >= 0) idle.splice(at, 1);
      // The thread died inside this task: SEAL aborted on the input (a retry would abort again),
      // so it is the client's bytes that are unreadable, not the service that is unavailable.
      job?.reject(new VeilError('unreadable_input', 'SEAL could not read the uploaded objects; send them as SEAL saved them', 400));
      if (!closed) dispatch();
    });
    idle.push(worker);
  }

  /**
   * Threads start when a task finds none idle, up to `threads`: each loads SEAL (~0.35 s of CPU),
   * which an API that validates now and then (a read replica, a short-lived test stack) should pay
   * once, not `threads` times.
   */
  function dispatch(): void {
    while (queue.length > idle.length && live < threads) spawn();
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop() as Worker;
      const job = queue.shift() as Pending;
      busy.set(worker, job);
      worker.postMessage(job.task, job.transfer);
    }
  }

  function run(task: TaskBody, transfer: ArrayBuffer[] = []): Promise<ValidationReply & { ok: true }> {
    if (closed) return Promise.reject(new VeilError('validation_unavailable', 'the API is shutting down', 503));
    return new Promise((resolve, reject) => {
      queue.push({ task: { ...task, id: nextId++ }, transfer, resolve, reject });
      dispatch();
    });
  }

  return {
    async canonicalContext(bytes) {
      const own = ownBuffer(bytes);
      const reply = await run({ kind: 'context', bytes: own }, [own.buffer as ArrayBuffer]);
      return reply.context as CanonicalContext;
    },
    async checkCiphertexts(preset, ciphertexts, labels, full) {
      // Bytes first, on the event loop (O(zstd blocks) each): what SEAL then expands is bounded.
      const max = SEAL_OBJECT_BYTES[preset].ciphertext as number;
      ciphertexts.forEach((bytes, i) => {
        const why = sealObjectProblem(bytes, max);
        if (why !== null) throw invalidCiphertext(labels[i] ?? `ciphertext ${i}`, why);
      });
      if (!full) return;
      // Copied into buffers of their own and transferred: posting views of the request body made
      // V8 serialize them, ~1.2 ms per 216 KB job (profiled), where a copy costs a memcpy.
      const copies = ciphertexts.map((c) => new Uint8Array(c)); // a copy (Buffer#slice would be a view)
      await run(
        { kind: 'ciphertexts', preset, ciphertexts: copies, labels },
        copies.map((c) => c.buffer),
      );
    },
    async prepareModel(upload) {
      const bytes = ownBuffer(upload.bytes);
      const reply = await run({ kind: 'model', upload: { ...upload, bytes } }, [bytes.buffer as ArrayBuffer]);
      return reply.model as PreparedModel;
    },
    async variantListJson(packed) {
      const bytes = ownBuffer(packed);
      return (await run({ kind: 'variants', packed: bytes }, [bytes.buffer as ArrayBuffer])).json as Uint8Array;
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new VeilError('validation_unavailable', 'the API is shutting down', 503));
      await Promise.all([...idle, ...busy.keys()].map((w) => w.terminate()));
    },
  };
}

/** Bytes in an ArrayBuffer of their own, to transfer (a Buffer can be a slice of a shared pool). */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  // new Uint8Array(view) copies; Buffer#slice would return a view of the same (pooled) memory.
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** A thread's error as the typed error it was, so the client gets its code and status. */
function settle(job: Pending, reply: ValidationReply): void {
  if (reply.ok) return job.resolve(reply);
  const { name, code, message, status } = reply.error;
  if (name === 'InvalidInputError') job.reject(new InvalidInputError(code, message, status));
  else if (status < 500) job.reject(new VeilError(code, message, status));
  else job.reject(new Error(`validation thread: ${code}: ${message}`));
}
