import { pack, WIRE_VERSION } from '../../src/shared/wire.js';
import { deepNesting, hugeDeclared, mapWithPairs, randomValue } from '../lib/msgpack-bytes.js';
import type { Rng } from '../lib/rng.js';
import { constantC1, CT_PARMS_ID_AT, CT_SIZE_AT, withDeclaredSize, zeroC1 } from '../lib/seal-bytes.js';
import { flipBits, MSGPACK, mutate, post, type Family, type FuzzCase, type Target } from './target.js';

/** Hostile public contexts, job submissions and dataset records: the routes that take SEAL bytes. */

const MSGPACK_TYPES = ['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack'];

const context = (t: Target, fields: Record<string, unknown>) => pack({ ...t.m.contextFields, ...fields });
const ctxPost = (rng: Rng, t: Target, body: Uint8Array) => post('/v1/contexts', t, rng.pick(MSGPACK_TYPES), body);

/** Secret-key material hidden in a context: every one of these must be refused. */
const SMUGGLERS: [string, (t: Target) => Uint8Array][] = [
  ['pk_then_sk', (t) => context(t, { publicKey: Buffer.concat([t.m.contextFields.publicKey, t.m.secretKey]) })],
  ['pk_is_sk', (t) => context(t, { publicKey: t.m.secretKey })],
  ['galois_sk', (t) => context(t, { galoisKeys: t.m.secretKey })],
  ['galois_prefix_sk', (t) => context(t, { galoisKeys: Buffer.concat([Buffer.from([0]), t.m.secretKey]) })],
  ['galois_sk_file', (t) => context(t, { galoisKeys: t.m.secretKeyFile })],
  [
    'dup_publicKey',
    (t) =>
      mapWithPairs([
        ['v', 1],
        ['type', 'veil/public-context'],
        ['preset', t.m.contextFields.preset],
        ['parms', t.m.contextFields.parms],
        ['publicKey', t.m.secretKey],
        ['publicKey', t.m.contextFields.publicKey],
      ]),
  ],
  [
    'dup_publicKey_sk_last',
    (t) =>
      mapWithPairs([
        ['v', 1],
        ['type', 'veil/public-context'],
        ['preset', t.m.contextFields.preset],
        ['parms', t.m.contextFields.parms],
        ['publicKey', t.m.contextFields.publicKey],
        ['publicKey', t.m.secretKey],
      ]),
  ],
  ['extra_secretKey', (t) => context(t, { secretKey: t.m.secretKey })],
  ['extra_field_sk', (t) => context(t, { notes: t.m.secretKey })],
  ['trailing_sk', (t) => Buffer.concat([t.m.publicContext, t.m.secretKey])],
];

const BOMBS: [string, (t: Target) => Uint8Array][] = [
  ['zlib', (t) => t.m.bombs.zlib],
  ['zstd', (t) => t.m.bombs.zstd],
  ['zstd_declared', (t) => t.m.bombs.zstdDeclared],
];

export const cryptoFamilies: Family[] = [
  { name: 'contexts/random_bytes', weight: 4, make: (rng, t) => ({ family: '', req: ctxPost(rng, t, rng.bytes(rng.int(0, 4096))) }) },
  { name: 'contexts/mutated', weight: 6, make: (rng, t) => ({ family: '', req: ctxPost(rng, t, mutate(rng, t.m.publicContext)) }) },
  {
    name: 'contexts/pk_bitflip',
    weight: 4,
    make: (rng, t) => ({ family: '', req: ctxPost(rng, t, context(t, { publicKey: flipBits(rng, t.m.contextFields.publicKey, rng.int(1, 8)) })) }),
  },
  {
    name: 'contexts/wrong_types',
    weight: 4,
    make: (rng, t) => ({
      family: '',
      req: ctxPost(rng, t, context(t, { [rng.pick(['v', 'type', 'preset', 'parms', 'publicKey', 'galoisKeys'])]: randomValue(rng) })),
    }),
  },
  {
    name: 'contexts/unknown_field',
    weight: 1,
    make: (rng, t) => ({ family: '', req: ctxPost(rng, t, context(t, { [`x${rng.int(0, 99)}`]: rng.int(0, 9) })), mustReject: true }),
  },
  {
    name: 'contexts/secret_smuggling',
    weight: 5,
    make: (rng, t) => {
      const [name, build] = rng.pick(SMUGGLERS);
      return { family: `contexts/secret_smuggling/${name}`, req: ctxPost(rng, t, build(t)), mustReject: true };
    },
  },
  {
    name: 'contexts/bomb',
    weight: 0.15,
    make: (rng, t) => {
      const [name, bomb] = rng.pick(BOMBS);
      const where = rng.pick(['publicKey', 'galoisKeys', 'ckksGaloisKeys'] as const);
      const body = where === 'ckksGaloisKeys' ? pack({ ...t.m.ckksContextFields, galoisKeys: bomb(t) }) : context(t, { [where]: bomb(t) });
      return { family: `contexts/bomb/${where}_${name}`, req: ctxPost(rng, t, body), mustReject: true };
    },
  },
  {
    name: 'contexts/huge_declared_size',
    weight: 2,
    make: (rng, t) => ({
      family: '',
      req: ctxPost(
        rng,
        t,
        context(t, { [rng.pick(['publicKey', 'parms'])]: withDeclaredSize(t.m.contextFields.publicKey, rng.pick([2n ** 62n, 2n ** 40n, 2n ** 32n])) }),
      ),
      mustReject: true,
    }),
  },
  { name: 'jobs/random_bytes', weight: 4, make: (rng, t) => ({ family: '', req: post('/v1/jobs', t, rng.pick(MSGPACK_TYPES), rng.bytes(rng.int(0, 2048))) }) },
  { name: 'jobs/mutated', weight: 6, make: (rng, t) => ({ family: '', req: post('/v1/jobs', t, MSGPACK, mutate(rng, pack(grsJob(t)))) }) },
  {
    name: 'jobs/wrong_types',
    weight: 6,
    make: (rng, t) => {
      const job = grsJob(t) as Record<string, unknown>;
      job[rng.pick([...Object.keys(job), 'count', 'extra'])] = randomValue(rng);
      return { family: '', req: post('/v1/jobs', t, MSGPACK, pack(job)) };
    },
  },
  {
    name: 'jobs/bad_shape',
    weight: 4,
    make: (rng, t) => {
      const variants: Record<string, unknown>[] = [
        { ...grsJob(t), samples: rng.pick([0, 2, 100_000, -1]) },
        { ...grsJob(t), modelId: rng.pick(['../../etc/passwd', 'nope', '*', 'x'.repeat(128), 'seed-grs\u0000']) },
        { ...grsJob(t), contextId: rng.pick(['0'.repeat(64), 'f'.repeat(64), '../' + t.contextId]) },
        { ...grsJob(t), ciphertexts: Array.from({ length: rng.int(2, 64) }, () => t.m.grsCiphertext) },
        { ...grsJob(t), op: 'mean', count: rng.pick([1, 5, 4_194_304]) },
        { ...grsJob(t), op: rng.pick(['report', 'GRS', '__proto__', 'constructor']) },
        { ...grsJob(t), scaleBits: rng.pick([40, 41, -1]), valueBits: rng.pick([56, 57, 0]) },
        { __proto__: { polluted: true }, ...grsJob(t) },
      ];
      return { family: '', req: post('/v1/jobs', t, MSGPACK, pack(rng.pick(variants))) };
    },
  },
  { name: 'jobs/forged_ciphertext', weight: 10, make: (rng, t) => forgedJob(rng, t) },
  {
    name: 'jobs/bomb',
    weight: 0.15,
    make: (rng, t) => {
      const [name, bomb] = rng.pick(BOMBS);
      return { family: `jobs/bomb/${name}`, req: post('/v1/jobs', t, MSGPACK, pack({ ...grsJob(t), ciphertexts: [bomb(t)] })), mustReject: true };
    },
  },
  {
    name: 'jobs/hostile_msgpack',
    weight: 3,
    make: (rng, t) => {
      const body = rng.pick([
        () => deepNesting(rng.pick([1000, 100_000, 1_000_000]), rng.pick(['array', 'map'] as const)),
        () => hugeDeclared(rng),
        () => mapWithPairs([...Object.entries(grsJob(t)), ['ciphertexts', []], ['ciphertexts', [t.m.grsCiphertext]]]),
        () => Buffer.concat([pack(grsJob(t)), pack(grsJob(t))]),
        () => pack(Array.from({ length: 100_000 }, () => 0)),
        () => pack({ ...grsJob(t), ciphertexts: Array.from({ length: 100_000 }, () => Buffer.alloc(0)) }),
      ])();
      return { family: '', req: post('/v1/jobs', t, rng.pick(MSGPACK_TYPES), body) };
    },
  },
  {
    name: 'jobs/honest',
    weight: 0.3,
    make: (rng, t) => ({ family: '', req: post('/v1/jobs', t, MSGPACK, pack(grsJob(t)), rng.bool() ? { 'idempotency-key': `fuzz-${rng.int(0, 50)}` } : {}) }),
  },
  { name: 'datasets/records_forged', weight: 4, make: (rng, t) => forgedRecords(rng, t) },
  {
    name: 'datasets/records_garbage',
    weight: 3,
    make: (rng, t) => {
      const body = rng.pick([
        () => rng.bytes(rng.int(0, 1024)),
        () => mutate(rng, pack(records(t, t.m.grsCiphertext))),
        () => pack({ v: 1, records: [{ count: randomValue(rng), ciphertexts: [t.m.grsCiphertext] }] }),
        () => pack({ v: 1, records: Array.from({ length: 10_001 }, () => ({ count: 1, ciphertexts: [Buffer.alloc(1)] })) }),
        () => pack({ v: 1, records: [{ count: 1, ciphertexts: [t.m.grsCiphertext], at: rng.pick([2 ** 53, Date.now() + 1e9, -1]) }] }),
        () => deepNesting(100_000, 'array'),
      ])();
      return { family: '', req: post(`/v1/datasets/${t.dataset}/records`, t, MSGPACK, body, rng.bool(0.2) ? { 'idempotency-key': '\u00ff'.repeat(3) } : {}) };
    },
  },
];

function grsJob(t: Target) {
  return {
    v: WIRE_VERSION,
    op: 'grs',
    contextId: t.contextId,
    modelId: t.modelId,
    samples: 1,
    scaleBits: t.m.grsScaleBits,
    valueBits: t.m.grsValueBits,
    ciphertexts: [t.m.grsCiphertext],
  };
}

function records(t: Target, ct: Uint8Array) {
  return { v: 1, records: [{ count: 1, ciphertexts: [ct] }] };
}

/** A ciphertext that SEAL may well load but that no honest encryptor makes. */
function forgedCiphertext(rng: Rng, t: Target): { name: string; bytes: Uint8Array; mustReject: boolean } {
  const plain = t.m.grsCiphertextPlain;
  const n = t.m.polyModulusDegree;
  const forgeries: [string, () => Uint8Array, boolean][] = [
    ['zero_c1', () => zeroC1(plain), true],
    ['constant_c1', () => constantC1(plain, BigInt(rng.int(1, 2 ** 30)), n), false],
    ['wrong_parms_id', () => flipBits(rng, plain, 1, CT_PARMS_ID_AT, CT_PARMS_ID_AT + 31), true],
    ['truncated', () => plain.subarray(0, rng.int(1, plain.length - 1)), true],
    [
      'size_3',
      () => {
        const b = Buffer.from(plain);
        b.writeBigUInt64LE(3n, CT_SIZE_AT);
        return b;
      },
      true,
    ],
    [
      'size_huge',
      () => {
        const b = Buffer.from(plain);
        b.writeBigUInt64LE(2n ** 40n, CT_SIZE_AT);
        return b;
      },
      true,
    ],
    ['header_bitflip', () => flipBits(rng, plain, 1, 0, 15), false],
    ['data_bitflip', () => flipBits(rng, plain, rng.int(1, 32), 200), false],
    ['declared_size_huge', () => withDeclaredSize(t.m.grsCiphertext, rng.pick([2n ** 63n, 2n ** 36n])), true],
    ['secret_key_as_ct', () => t.m.secretKey, true],
    ['empty', () => Buffer.alloc(0), true],
  ];
  const [name, build, mustReject] = rng.pick(forgeries);
  return { name, bytes: build(), mustReject };
}

function forgedJob(rng: Rng, t: Target): FuzzCase {
  const f = forgedCiphertext(rng, t);
  return {
    family: `jobs/forged_ciphertext/${f.name}`,
    req: post('/v1/jobs', t, MSGPACK, pack({ ...grsJob(t), ciphertexts: [f.bytes] })),
    mustReject: f.mustReject,
  };
}

function forgedRecords(rng: Rng, t: Target): FuzzCase {
  const f = forgedCiphertext(rng, t);
  return {
    family: `datasets/records_forged/${f.name}`,
    req: post(`/v1/datasets/${t.dataset}/records`, t, MSGPACK, pack(records(t, f.bytes))),
    mustReject: f.mustReject,
  };
}
