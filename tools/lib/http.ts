import { Agent, request } from 'node:http';
import { connect } from 'node:net';

/** One request as the fuzzer sends it: through node:http, or as raw bytes on a socket. */
export interface WireRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Bytes written as-is to a fresh socket (malformed HTTP that node:http refuses to send). */
  raw?: Uint8Array;
}

/** What came back: a status, or no status (connection reset, timeout) and why. */
export interface WireResponse {
  status?: number;
  error?: string;
  ms: number;
  body?: Buffer;
}

/** Sees every answer `send` gets (the tests check /v1 ones against the OpenAPI document). */
export type ResponseObserver = (req: WireRequest, res: { status: number; contentType: string; body: Buffer }) => void;
const observers: ResponseObserver[] = [];

export function observeResponses(observer: ResponseObserver): void {
  observers.push(observer);
}

/**
 * Send `req` to `base` (http://host:port). Never rejects: a transport error is a result too, since
 * the fuzzer judges the server by status codes and by whether it stays alive.
 */
export function send(base: string, req: WireRequest, opts: { agent?: Agent; timeoutMs?: number; keepBody?: boolean } = {}): Promise<WireResponse> {
  const url = new URL(base);
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  if (req.raw) return sendRaw(url.hostname, Number(url.port), req.raw, timeoutMs, started);
  return new Promise((resolve) => {
    const done = (r: Omit<WireResponse, 'ms'>) => resolve({ ...r, ms: performance.now() - started });
    let out;
    try {
      out = request(
        { host: url.hostname, port: url.port, method: req.method, path: req.path, headers: req.headers, agent: opts.agent, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          const keep = opts.keepBody || observers.length > 0;
          res.on('data', (c: Buffer) => keep && chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            for (const o of observers) o(req, { status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body });
            done({ status: res.statusCode, ...(opts.keepBody ? { body } : {}) });
          });
          res.on('error', (err) => done({ status: res.statusCode, error: err.message }));
        },
      );
    } catch (err) {
      // node:http refused to build it (an invalid header): nothing reached the server.
      return done({ error: `client: ${(err as Error).message}` });
    }
    out.on('timeout', () => out.destroy(new Error('timeout')));
    out.on('error', (err) => done({ error: err.message }));
    out.end(req.body);
  });
}

/** Write raw bytes and read the status line of the first response, if any comes. */
function sendRaw(host: string, port: number, bytes: Uint8Array, timeoutMs: number, started: number): Promise<WireResponse> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let head = '';
    let settled = false;
    const done = (r: Omit<WireResponse, 'ms'>) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ ...r, ms: performance.now() - started });
    };
    // Raw cases are small and often incomplete on purpose: wait briefly, not for a full timeout.
    socket.setTimeout(Math.min(timeoutMs, 3000), () => done({ error: 'no response (timeout)' }));
    socket.on('error', (err) => done({ error: err.message }));
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m) done({ status: Number(m[1]) });
      else if (head.length > 64) done({ error: 'not an HTTP response' });
    });
    socket.on('end', () => done({ error: 'closed without a response' }));
    socket.write(bytes);
  });
}
