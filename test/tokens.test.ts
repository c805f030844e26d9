import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/server/config.js';
import { tokenBits } from '../src/server/tokens.js';
import { spawnRedis, type LocalRedis } from '../src/stack/local.js';
import { spawnApi, type ApiProcess } from './helpers/api-process.js';
import { call } from './helpers/stack.js';

const hex = () => randomBytes(16).toString('hex');
const configError = (env: Record<string, string>) => {
  try {
    parseConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('token configuration', () => {
  it('accepts 128-bit random tokens with scopes and matches only the exact token', () => {
    const [owner, models, admin] = [hex(), randomBytes(24).toString('base64url'), hex()];
    const { VEIL_TOKENS: table } = parseConfig({ VEIL_TOKENS: `clinic:${owner},lab:${models}:models, ops:${admin}:admin` });
    expect(table?.size).toBe(3);
    expect(table?.match(owner)).toMatchObject({ tenant: 'clinic', scope: 'owner' });
    expect(table?.match(models)).toMatchObject({ tenant: 'lab', scope: 'models' });
    expect(table?.match(admin)).toMatchObject({ tenant: 'ops', scope: 'admin' });
    expect(table?.match(admin)?.tokenId).not.toBe(table?.match(owner)?.tokenId);
    expect(table?.match(`${owner}x`)).toBeUndefined();
    expect(table?.match(owner.slice(0, -1))).toBeUndefined();
  });

  it.each([
    ['8 characters', 'clinic:abcd1234'],
    ['31 hex characters (124 bits)', `clinic:${hex().slice(1)}`],
    ['a long token of few distinct characters', `clinic:${'ab'.repeat(40)}`],
    ['characters outside hex/base64', `clinic:${hex()}!!`],
  ])('refuses %s without printing the token', (_what, entry) => {
    const message = configError({ VEIL_TOKENS: `ok:${hex()},${entry}` });
    expect(message).toContain('VEIL_TOKENS');
    expect(message).toContain("entry 2 (tenant 'clinic')");
    expect(message).not.toContain(entry.slice(7));
  });

  it('refuses unknown scopes, malformed entries, duplicates and a weak admin token, naming entries only', () => {
    const token = hex();
    expect(configError({ VEIL_TOKENS: `a:${token}:root` })).toMatch(/scope 'root' is not one of owner, models, admin/);
    expect(configError({ VEIL_TOKENS: token })).toMatch(/entry 1 is not tenant:token/);
    expect(configError({ VEIL_TOKENS: `a:${token},b:${token}` })).toMatch(/appears twice/);
    const weak = configError({ VEIL_ADMIN_TOKEN: 'admin-password' });
    expect(weak).toContain('VEIL_ADMIN_TOKEN');
    expect(weak).not.toContain('admin-password');
    for (const m of [configError({ VEIL_TOKENS: `a:${token}:root` }), configError({ VEIL_TOKENS: token })]) expect(m).not.toContain(token);
  });

  it('counts bits by alphabet', () => {
    expect(tokenBits(hex())).toBe(128);
    expect(tokenBits(randomBytes(16).toString('base64'))).toBe(132);
    expect(tokenBits('a'.repeat(100))).toBe(0);
  });
});

/** Scopes and the admin guard, end to end through a real API process and Redis. */
describe('scopes and /metrics', () => {
  const tokens = { owner: hex(), models: hex(), admin: hex(), operator: hex() };
  let redis: LocalRedis;
  let api: ApiProcess;
  const as = (who: keyof typeof tokens | 'nobody', method: string, path: string, body?: { type: string; data: string }) =>
    call(api.url, method, path, body, who === 'nobody' ? {} : { authorization: `Bearer ${tokens[who]}` });
  const model = (id: string) => ({ type: 'application/json', data: JSON.stringify({ id, name: id, weights: [0.1, 0.2] }) });

  beforeAll(async () => {
    redis = await spawnRedis();
    api = await spawnApi({
      REDIS_URL: redis.url,
      VEIL_TOKENS: `clinic:${tokens.owner},clinic:${tokens.models}:models,clinic:${tokens.admin}:admin`,
      VEIL_ADMIN_TOKEN: tokens.operator,
    });
  });
  afterAll(async () => {
    await api?.stop();
    await redis?.close();
  });

  it('owner tokens use contexts and jobs but cannot change models; models tokens the reverse; admin both', async () => {
    expect((await as('owner', 'POST', '/v1/models', model('m1'))).json.error?.code).toBe('forbidden_scope');
    expect((await as('models', 'POST', '/v1/models', model('m1'))).status).toBe(201);
    expect((await as('admin', 'POST', '/v1/models', model('m2'))).status).toBe(201);
    // Everyone reads models: owners need the variant layout.
    expect((await as('owner', 'GET', '/v1/models/m1')).status).toBe(200);
    expect((await as('models', 'GET', '/v1/models')).status).toBe(200);
    // A garbage context gets past auth for owners (400), not for a models token (403).
    const garbage = { type: 'application/msgpack', data: 'x' };
    expect((await as('owner', 'POST', '/v1/contexts', garbage)).status).toBe(400);
    expect((await as('admin', 'POST', '/v1/contexts', garbage)).status).toBe(400);
    const refused = await as('models', 'POST', '/v1/contexts', garbage);
    expect(refused.status).toBe(403);
    expect(refused.json.error?.code).toBe('forbidden_scope');
    expect((await as('models', 'GET', '/v1/jobs/00000000-0000-0000-0000-000000000000')).status).toBe(403);
  });

  it('never echoes a presented token, and the operator token is no tenant token', async () => {
    // One character off; the last character differs whatever the token ends with.
    const wrong = `${tokens.owner.slice(0, -1)}${tokens.owner.endsWith('0') ? '1' : '0'}`;
    const res = await call(api.url, 'GET', '/v1/models', undefined, { authorization: `Bearer ${wrong}` });
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.json)).not.toContain(wrong);
    expect((await as('operator', 'GET', '/v1/models')).status).toBe(401);
    expect(api.output()).not.toContain(tokens.owner);
  });

  it('guards /metrics with the admin token or an admin-scope token', async () => {
    expect((await as('nobody', 'GET', '/metrics')).status).toBe(401);
    expect((await as('owner', 'GET', '/metrics')).status).toBe(401);
    expect((await as('models', 'GET', '/metrics')).status).toBe(401);
    const ok = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${tokens.operator}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('veil_http_requests_total');
    expect((await as('admin', 'GET', '/metrics')).status).toBe(200);
  });
  it('an upload the client abandons mid-body is its fault, not a logged server error', async () => {
    const { port } = new URL(api.url);
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `POST /v1/models?id=gone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.models}\r\n` +
        'Content-Type: text/tab-separated-values\r\nContent-Length: 100000\r\n\r\nrsID\teffect_allele\teffect_weight\n',
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 500));
    expect((await as('models', 'GET', '/v1/models/gone')).status).toBe(404);
    expect(api.output()).not.toMatch(/"level":50/);
  });
});
