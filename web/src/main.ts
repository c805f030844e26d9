/**
 * The patient's page: wires the form to the SEAL worker and shows progress and results. Nothing
 * here touches keys, ciphertexts or the network; the worker does (seal-worker.ts).
 */
import { csvColumn, parseNumbers } from '../../src/producer/cli-context.js';
import { VeilError } from '../../src/shared/errors.js';
import { explain, STAGES } from './messages.js';
import type { FromWorker, GrsResult, ModelSummary, Reply, Request } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const bar = $<HTMLProgressElement>('progress');
const modelSelect = $<HTMLSelectElement>('model');
const genotypeFile = $<HTMLInputElement>('genotype-file');
const busyButtons = [...document.querySelectorAll<HTMLButtonElement>('button[data-needs-keys]')];

const workerUrl = document.querySelector<HTMLMetaElement>('meta[name="veil-worker"]')?.content;
const worker = new Worker(workerUrl as string, { type: 'module' });
let nextId = 0;
const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: VeilError) => void }>();

worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
  const call = pending.get(data.id);
  if (!call) return;
  if (data.kind === 'progress') {
    performance.mark(`veil:${data.stage}`); // the budget's breakdown (test/page.test.ts)
    return say(STAGES[data.stage], data.fraction);
  }
  pending.delete(data.id);
  if (data.kind === 'done') call.resolve(data.reply);
  else call.reject(new VeilError(data.code, data.message));
};
worker.onerror = () => say('The page could not start its encryption engine. Use a current Chrome, Edge, Firefox or Safari.', undefined, true);

function ask(request: Request, transfer: Transferable[] = []): Promise<Reply> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, request }, transfer);
  });
}

/** The status line: progress in words (and a bar when there is a fraction), or an error. */
function say(text: string, fraction?: number, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
  bar.hidden = fraction === undefined;
  if (fraction !== undefined) bar.value = fraction;
}

/** Runs one action with the buttons disabled; errors end up in the status line, explained. */
async function busy(action: () => Promise<void>): Promise<void> {
  for (const b of busyButtons) b.disabled = true;
  try {
    await action();
  } catch (err) {
    const e = err instanceof VeilError ? err : new VeilError('internal', String(err));
    say(explain(e.code, e.message), undefined, true);
    if (e.code === 'unauthorized') {
      $<HTMLDetailsElement>('access').open = true;
      $('token').focus();
    }
  } finally {
    for (const b of busyButtons) b.disabled = false;
  }
}

function showKeys(reply: Reply): void {
  if (reply.type !== 'keys') return;
  $('keys-state').textContent =
    `${reply.made ? 'New keys made' : 'Keys loaded'} on this device (key id ${reply.contextId.slice(0, 12)}…). Download a backup: without it, clearing this browser's data loses them.`;
  document.body.dataset.keys = 'ready';
  performance.mark('veil:keys-ready');
}

let models: ModelSummary[] = [];
function showModels(reply: Reply): void {
  if (reply.type !== 'models') return;
  models = reply.models;
  modelSelect.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.variants} variants)`, m.modelId)));
  describeModel();
}
function describeModel(): void {
  const m = models.find((x) => x.modelId === modelSelect.value);
  $('model-info').textContent = m
    ? `${m.modelId}: ${m.variants} genetic variants${m.link === 'logistic' ? '; gives a probability' : ''}.`
    : 'No models are available on the service yet.';
}

const fmt = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(5) : x.toExponential(4));

function showGrs(result: GrsResult): void {
  $('score').textContent = fmt(result.score);
  $('score').dataset.value = String(result.score); // full precision, for tests and copy-paste
  $('probability').textContent = result.probability === undefined ? 'not given by this model' : result.probability.toFixed(5);
  const skipped = Object.entries(result.skipped).map(([why, n]) => `${n} ${why.replace(/_/g, ' ')}`);
  $('variants').textContent =
    `${result.variantsUsed} used, ${result.variantsMissing} missing${skipped.length ? ` (${skipped.join(', ')})` : ''}${result.sample ? `; sample ${result.sample}` : ''}`;
  $('grs-result').hidden = false;
  performance.mark('veil:grs-done');
}

async function computeGrs(): Promise<void> {
  performance.mark('veil:grs-start');
  const modelId = modelSelect.value;
  if (!modelId) throw new VeilError('model_not_found', 'no model chosen');
  const file = genotypeFile.files?.[0];
  const reply = file
    ? await readFileAndAsk(file, (bytes) => ({ type: 'grs-file', modelId, fileName: file.name, bytes }))
    : await ask({ type: 'grs', modelId, dosages: parseNumbers($<HTMLTextAreaElement>('genotype').value, 'genotype') });
  if (reply.type !== 'grs') return;
  showGrs(reply.result);
  say('Done. Your result was decrypted on this device.', undefined);
}

async function readFileAndAsk(file: File, request: (bytes: Uint8Array) => Request): Promise<Reply> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  return ask(request(bytes), [bytes.buffer]); // moved, not copied: genotype files are large
}

async function computeMean(): Promise<void> {
  const reply = await ask({ type: 'mean', values: parseNumbers($<HTMLTextAreaElement>('values').value, 'readings') });
  if (reply.type !== 'mean') return;
  $('mean').textContent = `${fmt(reply.mean)} (${reply.count} readings)`;
  say('Done. Your average was decrypted on this device.');
}

/** Readings from a CSV file go into the text box (read here, never sent), ready to average. */
async function readingsFromCsv(input: HTMLInputElement): Promise<void> {
  const file = input.files?.[0];
  if (!file) return;
  let values: number[];
  try {
    values = csvColumn(await file.text(), file.name);
  } catch (err) {
    throw new VeilError('invalid_csv', (err as Error).message);
  }
  $<HTMLTextAreaElement>('values').value = values.join(', ');
  say(`${values.length} readings read from ${file.name}. Check them, then compute the average.`);
}

async function downloadBackup(): Promise<void> {
  const reply = await ask({ type: 'export-keys' });
  if (reply.type !== 'key-backup') return;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([reply.bytes as BlobPart], { type: 'application/octet-stream' }));
  link.download = 'veil-keys.backup';
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  say('Key backup downloaded. Keep it private: anyone with it can read your results.');
}

async function importKeys(input: HTMLInputElement): Promise<void> {
  const files = await Promise.all([...(input.files ?? [])].map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
  input.value = '';
  showKeys(await ask({ type: 'import-keys', files }));
  say('Keys imported.');
}

$('compute').addEventListener('click', () => busy(computeGrs));
$('compute-mean').addEventListener('click', () => busy(computeMean));
$('key-backup').addEventListener('click', () => busy(downloadBackup));
$('keygen').addEventListener('click', () =>
  busy(async () => {
    if (!confirm('Make new keys? Results made with the old keys can then only be read with their backup.')) return;
    showKeys(await ask({ type: 'keygen' }));
    say('New keys ready.');
  }),
);
$<HTMLInputElement>('key-import').addEventListener('change', (e) => busy(() => importKeys(e.target as HTMLInputElement)));
$<HTMLInputElement>('values-file').addEventListener('change', (e) => busy(() => readingsFromCsv(e.target as HTMLInputElement)));
modelSelect.addEventListener('change', describeModel);
$('save-token').addEventListener('click', () =>
  busy(async () => {
    showModels(await ask({ type: 'token', token: $<HTMLInputElement>('token').value }));
    $<HTMLInputElement>('token').value = '';
    say('Access code saved. Ready.');
  }),
);
genotypeFile.addEventListener('change', () => {
  $('file-name').textContent = genotypeFile.files?.[0] ? `Chosen: ${genotypeFile.files[0].name}` : '';
});

// A file dropped anywhere on the drop zone is used as if chosen.
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer?.files.length) {
    genotypeFile.files = e.dataTransfer.files;
    genotypeFile.dispatchEvent(new Event('change'));
  }
});

void busy(async () => {
  const keys = ask({ type: 'start' });
  const list = ask({ type: 'models' });
  list.catch(() => {}); // reported below, after the keys
  showKeys(await keys);
  showModels(await list);
  say('Ready. Your keys stay on this device.');
});
