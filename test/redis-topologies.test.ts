import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VeilClient } from '../src/producer/client.js';
import { loadOwner, submitGrs, submitMean, waitAndFinish, type GrsOutcome, type MeanOutcome } from '../src/producer/sdk.js';
import { SEED_GENOTYPE, SEED_HEART_RATES, SEED_MODEL } from '../src/stack/demo.js';
import { freePort } from '../src/stack/local.js';
import { testStack, writeTestKeys } from './helpers/stack.js';

/** REDIS_URL may name a Redis Cluster or Sentinel: the seed jobs run through each, for real. */
describe('Redis Cluster and Sentinel', () => {
  const processes: ChildProcess[] = [];
  const dirs: string[] = [];
  const redisServer = async (args: string[]) => {
    const dir = await mkdtemp(join(tmpdir(), 'veil-topology-'));
    dirs.push(dir);
    const child = spawn('redis-server', [...args, '--dir', dir, '--save', '', '--bind', '127.0.0.1'], { stdio: 'ignore' });
    processes.push(child);
    return dir;
  };
  const cli = (port: number, ...args: string[]) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
  };

  // One key pair for both topologies, made once.
  let keyDir: string;
  beforeAll(async () => {
    keyDir = await mkdtemp(join(tmpdir(), 'veil-topology-keys-'));
    dirs.push(keyDir);
    await writeTestKeys(keyDir);
  });

  afterAll(async () => {
    await Promise.all(
      processes.map((p) =>
        p.exitCode !== null
          ? undefined
          : new Promise((res) => {
              p.once('exit', res);
              p.kill('SIGKILL');
            }),
      ),
    );
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function seedJobs(redisUrl: string) {
    // The API in-process (its Redis client is what is under test, not its process).
    const stack = await testStack({ workers: 1, redisUrl, inProcessApi: true, scheduler: false });
    try {
      const client = new VeilClient({ server: stack.apiUrl });
      const owner = await loadOwner(keyDir);
      await client.addModelJson(SEED_MODEL);
      const [grs] = (await waitAndFinish(client, owner, await submitGrs(client, owner, SEED_MODEL.id, [SEED_GENOTYPE]))) as GrsOutcome[];
      const [mean] = (await waitAndFinish(client, owner, await submitMean(client, owner, SEED_HEART_RATES))) as MeanOutcome[];
      owner.dispose();
      return { score: grs!.score, mean: mean!.mean };
    } finally {
      await stack.close();
    }
  }

  it('runs on a 3-node Redis Cluster (redis+cluster://)', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    for (const port of ports)
      await redisServer(['--port', String(port), '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--appendonly', 'no']);
    await until(() => ports.every((p) => cli(p, 'ping').includes('PONG')));
    spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
    await until(() => cli(ports[0]!, 'cluster', 'info').includes('cluster_state:ok'));
    const { score, mean } = await seedJobs(`redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`);
    expect(Math.abs(score - -0.03)).toBeLessThan(1e-6);
    expect(Math.abs(mean - 71.828571)).toBeLessThan(1e-5);
    // Everything veil wrote carries the {veil…} hash tag, so it lives in one slot.
    const keys = ports.flatMap((p) => cli(p, 'keys', '*').split('\n').filter(Boolean));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith('{veiltest-'))).toBe(true);
  });

  it('runs behind Redis Sentinel (redis+sentinel://host:port/master)', async () => {
    const masterPort = await freePort();
    const sentinelPort = await freePort();
    await redisServer(['--port', String(masterPort), '--appendonly', 'no']);
    await until(() => cli(masterPort, 'ping').includes('PONG'));
    const dir = await mkdtemp(join(tmpdir(), 'veil-sentinel-'));
    dirs.push(dir);
    const conf = join(dir, 'sentinel.conf');
    await writeFile(conf, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor veilmaster 127.0.0.1 ${masterPort} 1\n`);
    processes.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
    await until(() => cli(sentinelPort, 'sentinel', 'get-master-addr-by-name', 'veilmaster').includes(String(masterPort)));
    const { score, mean } = await seedJobs(`redis+sentinel://127.0.0.1:${sentinelPort}/veilmaster`);
    expect(Math.abs(score - -0.03)).toBeLessThan(1e-6);
    expect(Math.abs(mean - 71.828571)).toBeLessThan(1e-5);
  });
});
