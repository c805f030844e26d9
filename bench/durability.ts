/**
 * The cost of "202 means durable": seed-GRS jobs/s through the whole local stack (API, 2 worker
 * processes, the queue) with Redis fsyncing its AOF every second vs before every reply.
 *   npx tsx bench/durability.ts            (DURABILITY_JOBS=200 by default)
 * Prints one line per mode and a summary line; measured, never asserted.
 */
import { VeilClient } from '../src/producer/client.js';
import { generateKeys, Owner } from '../src/producer/crypto.js';
import { submitGrs } from '../src/producer/sdk.js';
import { WIRE_VERSION, type JobRequest } from '../src/shared/wire.js';
import { SEED_GENOTYPE, SEED_MODEL } from '../src/stack/demo.js';
import { spawnRedis, startLocalStack, type AppendFsync } from '../src/stack/local.js';

const JOBS = Number(process.env.DURABILITY_JOBS ?? 200);
const CONCURRENCY = 8;

async function measure(appendfsync: AppendFsync, owner: Owner) {
  const redis = await spawnRedis({ appendfsync });
  const stack = await startLocalStack({ redisUrl: redis.url, workers: 2, env: { LOG_LEVEL: 'warn' } });
  try {
    const client = new VeilClient({ server: stack.apiUrl });
    await client.addModelJson(SEED_MODEL);
    await submitGrs(client, owner, SEED_MODEL.id, [SEED_GENOTYPE]).then((id) => client.result(id)); // warm-up
    // One encryption, submitted JOBS times: the client's own encryption is not what is measured.
    const enc = owner.encryptVectors([SEED_GENOTYPE], { purpose: 'dot' });
    const contextId = await client.uploadContext(owner.publicContext);
    const job: JobRequest = {
      v: WIRE_VERSION,
      op: 'grs',
      contextId,
      modelId: SEED_MODEL.id,
      samples: 1,
      scaleBits: enc.scaleBits,
      valueBits: enc.valueBits,
      ciphertexts: enc.ciphertexts,
    };
    let next = 0;
    const ids: string[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < JOBS) ids.push(await client.submit(job));
      }),
    );
    const submitted = performance.now();
    await Promise.all(ids.map((id) => client.result(id, { timeoutMs: 300_000 })));
    const done = performance.now();
    return { appendfsync, acceptedPerSecond: JOBS / ((submitted - t0) / 1000), completedPerSecond: JOBS / ((done - t0) / 1000) };
  } finally {
    await stack.close();
    await redis.close();
  }
}

const keys = await generateKeys();
const owner = await Owner.fromBytes(keys.publicContext, keys.secretKeyFile);
try {
  const rows = [];
  for (const mode of ['everysec', 'always'] as const) {
    const row = await measure(mode, owner);
    rows.push(row);
    console.log(
      `appendfsync ${mode.padEnd(8)}  accepted ${row.acceptedPerSecond.toFixed(1)} jobs/s  completed ${row.completedPerSecond.toFixed(1)} jobs/s  (${JOBS} seed GRS jobs, ${CONCURRENCY} clients, 2 workers)`,
    );
  }
  const [everysec, always] = rows as [(typeof rows)[0], (typeof rows)[0]];
  console.log(
    `durability: always/everysec = ${(always.completedPerSecond / everysec.completedPerSecond).toFixed(2)} end to end, ${(always.acceptedPerSecond / everysec.acceptedPerSecond).toFixed(2)} at intake`,
  );
} finally {
  owner.dispose();
}
