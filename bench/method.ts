import { getSeal } from '../src/shared/seal.js';
import { SEED_GENOTYPE, SEED_MODEL } from '../src/stack/demo.js';
import { cpuNow, log, now, round, stats, type Stats } from './util.js';

export interface MethodResult {
  runs: number;
  /** encode weights, multiply_plain, rescale, rotate-and-sum, bias: median per job. */
  methodMs: Stats;
  /** The same plus loading the (seeded, zstd) input and saving the result (zstd). */
  methodWithIoMs: Stats;
  /** methodMs in CPU time of this process (steadier on a shared machine). */
  methodCpuMs: Stats;
  maxAbsError: number;
}

/**
 * The seed tutorial's method on the seed GRS, in the same node-seal as veil's worker: CKKS 8192 /
 * [60,40,40,60] / 2^40, weights encoded per job, multiply_plain, rescale, rotate-and-sum over the
 * 5 slots (steps 1, 2, 4), bias added. The yardstick `seedServerMs` is compared with.
 */
export async function seedMethod(runs: number): Promise<MethodResult> {
  const seal = await getSeal();
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  parms.setPolyModulusDegree(8192);
  const coeff = seal.CoeffModulus.Create(8192, Int32Array.from([60, 40, 40, 60]));
  parms.setCoeffModulus(coeff);
  const ctx = seal.Context(parms, true, seal.SecurityLevel.tc128);
  const kg = seal.KeyGenerator(ctx);
  const sk = kg.secretKey();
  const pk = kg.createPublicKey();
  const gk = kg.createGaloisKeys(Int32Array.from([1, 2, 4]));
  const encoder = seal.CKKSEncoder(ctx);
  const encryptor = seal.Encryptor(ctx, pk, sk);
  const decryptor = seal.Decryptor(ctx, sk);
  const ev = seal.Evaluator(ctx);
  const scale = 2 ** 40;
  const slots = encoder.slotCount;
  const objs: { delete(): void }[] = [parms, coeff, ctx, kg, sk, pk, gk, encoder, encryptor, decryptor, ev];
  try {
    const x = new Float64Array(slots);
    SEED_GENOTYPE.forEach((v, i) => (x[i] = v));
    const xPlain = seal.PlainText();
    encoder.encode(x, scale, xPlain);
    // A few distinct encryptions, as an owner sends them (seeded, zstd).
    const inputs = Array.from({ length: 8 }, () => {
      const s = encryptor.encryptSymmetricSerializable(xPlain);
      const bytes = s.saveArray(seal.ComprModeType.zstd);
      s.delete();
      return bytes;
    });
    xPlain.delete();
    const want = SEED_MODEL.weights.reduce((a, w, i) => a + w * (SEED_GENOTYPE[i] as number), SEED_MODEL.bias);
    let maxAbsError = 0;
    const method: number[] = [];
    const withIo: number[] = [];
    const methodCpu: number[] = [];
    for (let r = -3; r < runs; r++) {
      const t0 = now();
      const ct = seal.CipherText();
      ct.loadArray(ctx, inputs[(r + 3) % inputs.length] as Uint8Array);
      const t1 = now();
      const c1 = cpuNow();
      const w = new Float64Array(slots);
      SEED_MODEL.weights.forEach((v, i) => (w[i] = v));
      const wPlain = seal.PlainText();
      encoder.encode(w, scale, wPlain);
      ev.multiplyPlain(ct, wPlain, ct);
      ev.rescaleToNext(ct, ct);
      const tmp = seal.CipherText();
      for (let step = 1; step < SEED_GENOTYPE.length; step *= 2) {
        ev.rotateVector(ct, step, gk, tmp);
        ev.add(ct, tmp, ct);
      }
      const b = new Float64Array(slots).fill(SEED_MODEL.bias);
      const bPlain = seal.PlainText();
      const ctParms = ct.parmsId;
      encoder.encode(b, ct.scale, bPlain);
      ev.plainModSwitchTo(bPlain, ctParms, bPlain);
      ev.addPlain(ct, bPlain, ct);
      const c2 = cpuNow();
      const t2 = now();
      const out = ct.saveArray(seal.ComprModeType.zstd);
      const t3 = now();
      ctParms.delete();
      for (const o of [wPlain, tmp, bPlain]) o.delete();
      if (r >= 0) {
        method.push(t2 - t1);
        methodCpu.push(c2 - c1);
        withIo.push(t3 - t0);
      }
      // Check the answer (slot 0) outside the timing.
      const res = seal.CipherText();
      res.loadArray(ctx, out);
      const plain = seal.PlainText();
      decryptor.decrypt(res, plain);
      const got = encoder.decode(plain)[0] as number;
      maxAbsError = Math.max(maxAbsError, Math.abs(got - want));
      for (const o of [ct, res, plain]) o.delete();
    }
    const result = { runs, methodMs: stats(method), methodWithIoMs: stats(withIo), methodCpuMs: stats(methodCpu), maxAbsError: round(maxAbsError, 12) };
    log(
      `seed tutorial method (CKKS rotate-and-sum): ${result.methodMs.median.toFixed(2)} ms median, ${result.methodWithIoMs.median.toFixed(2)} with load/save, ${result.methodCpuMs.median.toFixed(2)} ms CPU`,
    );
    return result;
  } finally {
    for (const o of objs.reverse()) o.delete();
  }
}
