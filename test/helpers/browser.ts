import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Request } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (no browser download): .ci/run installs the
 * `chromium` package when it is missing. CHROMIUM_PATH overrides the binary.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // This machine has no network but loopback: keep Chromium from dialling out at start.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** One request the page made, as it left the browser. */
export interface Recorded {
  method: string;
  url: string;
  body: Buffer | null;
  request: Request;
}

/** Every request of a browser context (the page's and its workers'), in order. */
export function recordRequests(context: BrowserContext): Recorded[] {
  const log: Recorded[] = [];
  context.on('request', (request) => log.push({ method: request.method(), url: request.url(), body: request.postDataBuffer(), request }));
  return log;
}
