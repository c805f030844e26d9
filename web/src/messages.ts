/**
 * What the page says, in words a patient understands. Error codes come from the server, the
 * genotype readers and the worker (src/shared/errors.ts); unknown ones fall back to their message.
 */
import type { Stage } from './protocol.js';

export const STAGES: Record<Stage, string> = {
  keys: 'Preparing your private keys on this device…',
  reading: 'Reading your genotype file on this device…',
  encrypting: 'Encrypting on this device and sending the encrypted data…',
  queued: 'Waiting in line at the service…',
  computing: 'The service is computing on your encrypted data…',
  decrypting: 'Decrypting your result on this device…',
};

const ERRORS: Record<string, string> = {
  unauthorized: 'This service needs an access code. Enter the one you were given under “Access code” and press Save.',
  server_unreachable: 'We cannot reach the veil service. Check your internet connection and try again in a minute.',
  model_not_found: 'That risk model is no longer on the service. Reload the page to see the current list.',
  wrong_length: 'The number of values does not match the model. Enter one value per variant of the model, in its order.',
  invalid_input: 'Please enter numbers separated by commas, for example 1, 0, 2.',
  file_not_recognised: 'We could not recognise this file. Choose the raw data file from 23andMe (.txt or .zip unpacked) or a VCF file.',
  invalid_23andme: 'This 23andMe file looks damaged or incomplete. Download your raw data from 23andMe again and retry.',
  invalid_vcf: 'This VCF file looks damaged or incomplete. Check that it is the right file.',
  no_variants_matched: 'None of the model’s genetic variants are in your file, so no score can be computed.',
  invalid_csv: 'We could not read numbers from this CSV file. It should hold one reading per line (a time column is fine).',
  keys_not_recognised: 'This is not a veil key backup. Choose the file you saved with “Download a key backup”.',
  keys_incomplete: 'Choose your key backup file (or both secret.key and public.ctx).',
  key_mismatch: 'These two key files do not belong together. Choose files that were saved together.',
  no_keys: 'Your private keys are not ready yet. Wait a moment and try again.',
  job_failed: 'The service could not finish the calculation. Please try again later.',
  rate_limited: 'The service is busy. Please wait a minute and try again.',
};

export function explain(code: string, message: string): string {
  return ERRORS[code] ?? `Something went wrong: ${message}`;
}
