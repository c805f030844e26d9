import type { WireRequest } from '../lib/http.js';
import type { Rng } from '../lib/rng.js';
import { authed, mutate, post, type Family, type Target } from './target.js';

/** Hostile requests that carry no SEAL bytes: ids, queries, JSON, scoring files, headers, auth. */

const HOSTILE_IDS = [
  '..',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2f',
  '%00',
  'a%00b',
  '%',
  '%zz',
  '%c0%ae%c0%ae',
  '*',
  '?',
  'bull:jobs:1',
  'veil:*',
  '__proto__',
  'constructor',
  '%E2%80%AE',
  '\u00e9'.normalize('NFD'),
  'x'.repeat(300),
  'A'.repeat(8000),
  '1;DROP',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '%0d%0aSet-Cookie:x',
  '.%2e/',
  '00000000-0000-0000-0000-000000000000',
];

const enc = (s: string) => (/%|\//.test(s) ? s : encodeURIComponent(s));

function get(path: string, t: Target, headers: Record<string, string> = {}): WireRequest {
  return { method: 'GET', path, headers: authed(t, headers) };
}

const json = (path: string, t: Target, body: string | Uint8Array, method = 'POST', headers: Record<string, string> = {}): WireRequest => ({
  method,
  path,
  headers: authed(t, { 'content-type': 'application/json', ...headers }),
  body: typeof body === 'string' ? Buffer.from(body) : body,
});

function hostileJson(rng: Rng): string {
  return rng.pick([
    () => '{',
    () => '{"a":',
    () => 'null',
    () => '[]',
    () => '"x"',
    () => '{"__proto__":{"polluted":1}}',
    () => '['.repeat(rng.pick([1000, 100_000])) + ']'.repeat(10),
    () => '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000),
    () => `{"name":"${'\\u0000'.repeat(100)}"}`,
    () => `{"x":${'1'.repeat(5000)}}`,
    () => '\uFEFF{"a":1}',
    () => `{"a":"\\ud800"}`,
    () => JSON.stringify({ a: 'x'.repeat(rng.int(1, 70_000)) }),
  ])();
}

const SCORING_HEAD = '#pgs_id=PGS_FUZZ\nrsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n';

function scoringFile(rng: Rng): string {
  const rows = Array.from({ length: rng.int(1, 20) }, (_, i) => `rs${i}\t1\t${1000 + i}\tA\tG\t0.${i}`).join('\n');
  return rng.pick([
    () => SCORING_HEAD + rows,
    () => '#veil_bias=NaN\n#veil_link=exp\n' + SCORING_HEAD + rows,
    () => SCORING_HEAD + 'rs1\t1\t1000\tA\tG\tNaN\nrs2\t1\t-5\t\t\t1e999',
    () => SCORING_HEAD + 'rs1\t1\t1000\tA\tG\t0.1\t\t\tEXTRA',
    () => 'rsID\teffect_weight\n' + rows,
    () => '#' + 'x'.repeat(rng.int(1000, 300_000)) + '\n' + SCORING_HEAD + rows,
    () => SCORING_HEAD + 'rs1\t1\t1000\tA\tG\t0.' + '1'.repeat(200_000),
    () => '\u0000\u0001\u0002binary',
    () => '',
  ])();
}

export const webFamilies: Family[] = [
  {
    name: 'jobs/get_hostile_id',
    weight: 6,
    make: (rng, t) => ({
      family: '',
      req: { ...get(`/v1/jobs/${enc(rng.pick(HOSTILE_IDS))}${rng.pick(['', '/result', '/result?wait=0'])}`, t), method: rng.pick(['GET', 'GET', 'DELETE']) },
    }),
  },
  {
    name: 'jobs/result_query',
    weight: 4,
    make: (rng, t) => {
      const q = rng.pick([
        'wait=abc',
        'wait=-5',
        'wait=1e309',
        'wait=NaN',
        'wait=0.001',
        'wait[]=1&wait=2',
        'wait=0x10',
        `wait=${'9'.repeat(400)}`,
        `x=${'y'.repeat(rng.int(1000, 60_000))}`,
        Array.from({ length: 2000 }, (_, i) => `a${i}=1`).join('&'),
      ]);
      return { family: '', req: get(`/v1/jobs/${rng.pick([t.jobId, 'nope'])}/result?${q}`, t) };
    },
  },
  {
    name: 'jobs/get_other_tenant',
    weight: 1,
    make: (_rng, t) => ({
      family: '',
      req: { method: 'GET', path: `/v1/jobs/${t.jobId}`, headers: { authorization: `Bearer ${t.otherToken}` } },
      mustReject: true,
    }),
  },
  {
    name: 'models/json_hostile',
    weight: 4,
    make: (rng, t) => {
      const body = rng.pick([
        () => hostileJson(rng),
        () =>
          JSON.stringify({
            name: 'm',
            weights: rng.pick([[], ['1'], [null], Array.from({ length: 5 }, () => rng.next())]),
            link: rng.pick(['logistic', 'exp', 1]),
          }),
        () => '{"name":"m","weights":[1e309,-1e400]}',
        () => JSON.stringify({ name: 'm', weights: [0.1], variants: [{ effectAllele: 'A' }, { effectAllele: 'C' }] }),
        () => JSON.stringify({ id: rng.pick(['../x', '', 'x'.repeat(500), 'seed-grs', '__proto__']), name: 'm', weights: [0.1] }),
        () => `{"name":"big","weights":[${'0,'.repeat(rng.pick([10_000, 1_000_000]))}0]}`,
      ])();
      return { family: '', req: json(`/v1/models${rng.bool(0.3) ? `?id=${enc(rng.pick(HOSTILE_IDS))}` : ''}`, t, body) };
    },
  },
  {
    name: 'models/scoring_file',
    weight: 4,
    make: (rng, t) => {
      const text = Buffer.from(scoringFile(rng));
      const type = rng.pick(['text/tab-separated-values', 'text/plain', 'application/octet-stream', 'application/gzip', 'text/csv']);
      return { family: '', req: post(`/v1/models?id=fuzz-${rng.int(0, 20)}`, t, type, rng.bool(0.3) ? mutate(rng, text) : text) };
    },
  },
  {
    name: 'models/gzip_bomb',
    weight: 0.05,
    make: (rng, t) => ({
      family: 'models/gzip_bomb',
      req: post(`/v1/models?id=bomb-${rng.int(0, 3)}`, t, rng.pick(['application/gzip', 'text/tab-separated-values']), t.m.bombs.gzipScoring),
      mustReject: true,
    }),
  },
  { name: 'models/get_hostile_id', weight: 3, make: (rng, t) => ({ family: '', req: get(`/v1/models/${enc(rng.pick(HOSTILE_IDS))}`, t) }) },
  {
    name: 'datasets/json_hostile',
    weight: 5,
    make: (rng, t) => {
      const name = rng.pick([t.dataset, ...HOSTILE_IDS]);
      const pick = rng.int(0, 3);
      if (pick === 0) {
        const body = rng.bool()
          ? hostileJson(rng)
          : JSON.stringify({
              name: rng.pick(HOSTILE_IDS),
              contextId: rng.pick([t.contextId, 'x']),
              kind: rng.pick(['readings', 'genotypes', 'x']),
              variants: rng.pick([0, 4_194_304, 1e12]),
              valueBits: rng.int(-1, 60),
            });
        return { family: 'datasets/create_hostile', req: json('/v1/datasets', t, body) };
      }
      if (pick === 1) {
        const body = rng.bool()
          ? hostileJson(rng)
          : JSON.stringify({
              op: rng.pick(['mean', 'grs', 'trend', 'x']),
              since: rng.pick(['yesterday', -1, 1e20, '2020-01-01']),
              until: rng.pick([0, '9999-99-99']),
            });
        return { family: 'datasets/reports_hostile', req: json(`/v1/datasets/${enc(name)}/reports`, t, body) };
      }
      if (pick === 2) {
        const cron = rng.pick(['* * * * * *', '*/0 * * * *', 'x'.repeat(200), '0 0 31 2 *', '@reboot', '0 3 * * *', '60 * * * *']);
        const body = rng.bool(0.3)
          ? hostileJson(rng)
          : JSON.stringify({
              op: 'mean',
              cron,
              tz: rng.pick(['UTC', 'Mars/Olympus', '../../etc/localtime', 'x'.repeat(64)]),
              windowDays: rng.pick([1, 0, 99_999]),
            });
        return {
          family: 'datasets/schedule_hostile',
          req: json(`/v1/datasets/${enc(name)}/schedules/${enc(rng.pick(['nightly', ...HOSTILE_IDS]))}`, t, body, 'PUT'),
        };
      }
      return {
        family: 'datasets/get_hostile',
        req: {
          ...get(`/v1/datasets/${enc(name)}${rng.pick(['', '/reports?limit=' + rng.pick(['-1', 'abc', '1e9', '0']), '/schedules'])}`, t),
          method: rng.pick(['GET', 'GET', 'DELETE']),
        },
      };
    },
  },
  {
    name: 'http/content_encoding_bomb',
    weight: 0.1,
    make: (rng, t) => {
      const [path, type] = rng.pick([
        ['/v1/jobs', 'application/msgpack'],
        ['/v1/contexts', 'application/msgpack'],
        ['/v1/datasets', 'application/json'],
        ['/v1/models', 'application/json'],
        [`/v1/datasets/${t.dataset}/reports`, 'application/json'],
      ]);
      return { family: 'http/content_encoding_bomb', req: post(path, t, type, t.m.bombs.gzipBody, { 'content-encoding': 'gzip' }), mustReject: true };
    },
  },
  {
    name: 'http/content_type',
    weight: 3,
    make: (rng, t) => {
      const type = rng.pick([
        '',
        'application/msgpack; charset=utf-7',
        'application/json; charset=ebcdic',
        'multipart/form-data; boundary=x',
        'text/html',
        'application/msgpack, application/json',
        'x'.repeat(2000),
        '*/*',
        'application/x-www-form-urlencoded',
      ]);
      const path = rng.pick(['/v1/jobs', '/v1/contexts', '/v1/models', '/v1/datasets', `/v1/datasets/${t.dataset}/records`]);
      return {
        family: '',
        req: post(
          path,
          t,
          type,
          rng.bytes(rng.int(0, 256)),
          rng.bool(0.2) ? { 'content-encoding': rng.pick(['br', 'deflate', 'zstd', 'gzip, gzip', 'x']) } : {},
        ),
      };
    },
  },
  {
    name: 'http/auth',
    weight: 4,
    make: (rng, t) => {
      const auth = rng.pick([
        '',
        'Bearer',
        'Bearer ',
        `Bearer ${t.token.slice(0, -1)}`,
        `Bearer ${t.token}x`,
        `bearer  ${t.token.toUpperCase()}`,
        `Basic ${Buffer.from('a:b').toString('base64')}`,
        `Bearer ${'a'.repeat(8000)}`,
        `Bearer ${t.token} ${t.token}`,
        'Bearer \u00ff\u00fe',
      ]);
      const path = rng.pick(['/v1/models', `/v1/jobs/${t.jobId}`, '/v1/datasets', '/v1/contexts', '/metrics', '/admin/queues']);
      const headers: Record<string, string> = auth ? { authorization: auth } : {};
      return { family: '', req: { method: rng.pick(['GET', 'POST', 'DELETE']), path, headers, body: Buffer.alloc(0) } };
    },
  },
  {
    name: 'http/misc_routes',
    weight: 3,
    make: (rng, t) => ({
      family: '',
      req: {
        ...get(
          rng.pick([
            '/',
            '/healthz',
            '/readyz',
            '/metrics',
            '/v1/openapi.json',
            '/admin/queues',
            '/v1',
            '/v1/',
            '//v1//jobs',
            '/%2e%2e/%2e%2e/etc/passwd',
            '/v1/jobs/%E0%A4%A',
            `/${'a/'.repeat(2000)}`,
            `/?${'q='.repeat(20_000)}`,
          ]),
          t,
        ),
        method: rng.pick(['GET', 'HEAD', 'OPTIONS', 'PATCH', 'PUT', 'TRACE', 'PROPFIND']),
      },
    }),
  },
  { name: 'http/raw', weight: 3, make: (rng, t) => ({ family: '', req: { method: 'RAW', path: '', raw: rawRequest(rng, t) } }) },
];

/** Malformed HTTP/1.1 on the wire. */
function rawRequest(rng: Rng, t: Target): Buffer {
  const auth = `Authorization: Bearer ${t.token}\r\n`;
  return Buffer.from(
    rng.pick([
      () => 'GET / HTTP/1.1\r\n\r\n',
      () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(rng.pick([20_000, 100_000]))}\r\n\r\n`,
      () => `POST /v1/jobs HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/msgpack\r\nContent-Length: abc\r\n\r\n`,
      () => `POST /v1/jobs HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/msgpack\r\nContent-Length: -1\r\n\r\n`,
      () => `POST /v1/jobs HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/msgpack\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello`,
      () => `POST /v1/jobs HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/msgpack\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      () => `POST /v1/contexts HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/msgpack\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
      () => `POST /v1/jobs HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/msgpack\r\nContent-Length: 1073741824\r\n\r\n\x92\x01`,
      () => `GET /v1/models HTTP/1.1\r\nHost: x\r\n${auth}Bad Header\r\n\r\n`,
      () => `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x00${t.token}\r\n\r\n`,
      () => `GET /\x00/../ HTTP/1.1\r\nHost: x\r\n\r\n`,
      () => `BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n`,
      () => `GET / HTTP/9.9\r\n\r\n`,
      () => `GET /${'x'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      () => 'GET /healthz\r\n\r\n',
      () => '\r\n\r\n\r\n',
      () => rng.bytes(rng.int(1, 512)).toString('latin1'),
    ])(),
    'latin1',
  );
}
