import { afterAll, describe, expect, it } from 'vitest';
import { Owner } from '../src/producer/crypto.js';
import { createValidationPool } from '../src/server/validation-pool.js';
import { DEFAULT_PRESET } from '../src/shared/params.js';
import { testKeyPair } from './helpers/stack.js';

/**
 * The API hands the pool views into a request body (msgpack bins are Buffer views of it) and keeps
 * using them: it stores the ciphertexts after validation. Whatever the pool moves to its threads,
 * the caller's bytes must stay intact.
 */
describe('validation pool', () => {
  const pool = createValidationPool(2);
  afterAll(() => pool.close());

  it("validates ciphertexts given as views of one Buffer and leaves the caller's bytes intact", async () => {
    const keys = await testKeyPair();
    const owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
    try {
      const enc = owner.encryptVectors([[1, 0, 2, 1, 0]], { purpose: 'dot' });
      const body = Buffer.concat([Buffer.from('header'), ...enc.ciphertexts, ...enc.ciphertexts]);
      let at = 6;
      const views = [...enc.ciphertexts, ...enc.ciphertexts].map((c) => {
        const view = body.subarray(at, at + c.length);
        at += c.length;
        return view;
      });
      const before = Buffer.from(body);
      await pool.checkCiphertexts(DEFAULT_PRESET, views, ['a', 'b'], true);
      expect(body.buffer.byteLength, 'the body is not detached').toBeGreaterThan(0);
      expect(body.equals(before)).toBe(true);
      views.forEach((v, i) => expect(Buffer.from(v).equals(Buffer.from(enc.ciphertexts[i % enc.ciphertexts.length]!))).toBe(true));
      // A context that is a view of a larger Buffer: validated, and the rest of that Buffer kept.
      const ctxBody = Buffer.concat([Buffer.from('xx'), keys.publicContext]);
      const canonical = await pool.canonicalContext(ctxBody.subarray(2));
      expect(canonical.contextId).toBe(keys.contextId);
      expect(ctxBody.subarray(0, 2).toString()).toBe('xx');
    } finally {
      owner.dispose();
    }
  });
});
