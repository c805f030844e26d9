import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/**
 * Bounded shutdown under load. `server.close()` alone waits for keep-alive connections, and a
 * busy client keeps reusing its connection forever. So once draining:
 *   1. every response still to be sent says `Connection: close`, so each busy connection ends
 *      after its current request, and /readyz answers 503 so a balancer stops sending traffic;
 *   2. idle connections are closed as they appear;
 *   3. at the deadline every remaining connection is destroyed (a long-poll, a stalled upload).
 * A request cut off at the deadline never got its 202, so no accepted job is lost.
 */
export class Drain {
  private draining = false;
  private readonly pending = new Set<Response>();

  /** Mount first: tracks responses in flight so draining can mark them too. */
  readonly middleware = (req: Request, res: Response, next: NextFunction) => {
    if (this.draining) {
      res.set('Connection', 'close');
      if (req.path === '/readyz') return res.status(503).json({ error: { code: 'draining', message: 'this API process is shutting down' } });
    } else {
      this.pending.add(res);
      res.once('close', () => this.pending.delete(res));
    }
    next();
  };

  /** Stop accepting and wait for connections to end, at most `timeoutMs`. */
  async drain(server: Server, timeoutMs: number): Promise<void> {
    this.draining = true;
    for (const res of this.pending) if (!res.headersSent) res.set('Connection', 'close');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
    try {
      await closed;
    } finally {
      clearInterval(sweep);
      clearTimeout(deadline);
    }
  }
}
