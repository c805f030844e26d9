import type { IncomingMessage } from 'node:http';
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { errorBody, VeilError } from '../shared/errors.js';

export const MSGPACK_TYPES = ['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack'];
/** A PGS Catalog scoring file, plain or gzipped (POST/PUT /v1/models). */
export const PGS_TYPES = ['text/tab-separated-values', 'text/plain', 'application/gzip', 'application/x-gzip', 'application/octet-stream'];

/**
 * Request bodies are read as sent, never decoded: a Content-Encoding other than identity is 415.
 * Decoding first and counting after let a 1 MiB gzip body fill MAX_BODY_MB of memory per request
 * (the fuzzer's concurrent ones took the API past 2 GiB); ciphertexts are compressed already, and
 * a gzip scoring file is sent as the body itself (Content-Type: application/gzip).
 */
export function refuseContentEncoding(req: IncomingMessage): void {
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    throw new VeilError(
      'unsupported_content_encoding',
      'send the body without Content-Encoding (ciphertexts are compressed already; a gzip scoring file goes as Content-Type: application/gzip)',
      415,
    );
  }
}

/** A raw-bytes body parser that insists on one of `types` (415 otherwise) and on no Content-Encoding. */
export function rawBody(types: string[], limitBytes: number) {
  const parse = express.raw({ type: () => true, limit: limitBytes, inflate: false });
  return (req: Request, res: Response, next: NextFunction) => {
    refuseContentEncoding(req);
    if (!req.is(types)) {
      return next(new VeilError('unsupported_media_type', `send Content-Type: ${types[0]} (accepted: ${types.join(', ')})`, 415));
    }
    parse(req, res, next);
  };
}

/** A JSON body parser with the same rule on Content-Encoding. */
export function jsonBody(limitBytes: number): ReturnType<typeof express.json> {
  const parse = express.json({ limit: limitBytes, inflate: false });
  return (req, res, next) => {
    refuseContentEncoding(req);
    parse(req, res, next);
  };
}

export function bodyBytes(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** Errors to `{"error":{code,message}}`. Only a bug gives a 5xx; its details go to the log only. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let status = 500;
    let body = errorBody(err);
    if (err instanceof VeilError) status = err.status;
    else if (err?.type === 'entity.too.large') {
      status = 413;
      body = { code: 'body_too_large', message: `the body exceeds the limit of ${err.limit} bytes; split the job or raise MAX_BODY_MB` };
    } else if (err?.type === 'entity.parse.failed') {
      status = 400;
      body = { code: 'malformed_json', message: 'the body is not valid JSON' };
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      // body-parser and express errors (aborted, bad encoding …): the client's fault.
      status = err.status;
      body = { code: String(err.type ?? 'bad_request').replace(/\W+/g, '_'), message: String(err.message) };
    }
    // 503s (Redis down or full) were logged, briefly, where they were recognised.
    if (status >= 500 && status !== 503) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    // A body refused part-read (too large, …) leaves its rest on the connection: close it rather
    // than make the client's next request wait behind bytes nobody reads.
    if (!req.complete) res.set('Connection', 'close');
    res.status(status).json({ error: body });
  };
}
