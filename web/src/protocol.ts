/**
 * Messages between the page (main.ts) and the SEAL worker (seal-worker.ts). The worker holds the
 * keys and does all crypto and all network; the page only shows what it is told.
 */
export interface ModelSummary {
  modelId: string;
  name: string;
  variants: number;
  link: 'identity' | 'logistic';
}

export type Request =
  /** Load the keys from IndexedDB, or make and store new ones when there are none. */
  | { type: 'start' }
  | { type: 'keygen' }
  | { type: 'export-keys' }
  | { type: 'import-keys'; files: { name: string; bytes: Uint8Array }[] }
  | { type: 'models' }
  /** The access code (bearer token) of a service that has VEIL_TOKENS; answered with the models. */
  | { type: 'token'; token: string }
  | { type: 'grs'; modelId: string; dosages: number[] }
  | { type: 'grs-file'; modelId: string; fileName: string; bytes: Uint8Array }
  | { type: 'mean'; values: number[] };

export type Stage = 'keys' | 'reading' | 'encrypting' | 'queued' | 'computing' | 'decrypting';

export interface GrsResult {
  score: number;
  probability?: number;
  variantsUsed: number;
  variantsMissing: number;
  /** Why variants were skipped (file input only): reason → count. */
  skipped: Record<string, number>;
  /** The VCF sample scored, when the file has names. */
  sample?: string;
}

export type Reply =
  | { type: 'keys'; contextId: string; made: boolean }
  | { type: 'key-backup'; bytes: Uint8Array }
  | { type: 'models'; models: ModelSummary[] }
  | { type: 'grs'; result: GrsResult }
  | { type: 'mean'; mean: number; count: number };

/** The worker's messages: progress while a request runs, then its reply or an error. */
export type FromWorker =
  | { id: number; kind: 'progress'; stage: Stage; fraction?: number }
  | { id: number; kind: 'done'; reply: Reply }
  | { id: number; kind: 'error'; code: string; message: string };

export type ToWorker = { id: number; request: Request };
