import { createSecureContext } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Logger } from './logger.ts';

/** What both HTTPS servers (the API, the webhook) accept: TLS 1.2 and later. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/**
 * Reads a PEM certificate and its key and checks they belong together, so a bad pair is refused
 * where it is named (at start, or at a reload that then keeps the current pair) rather than at the
 * first handshake. `fail` turns a problem into the caller's own error type.
 */
export function readTlsPair(certFile: string, keyFile: string, fail: (message: string, which: 'cert' | 'key', cause: unknown) => Error): { cert: Buffer; key: Buffer } {
  const read = (path: string, which: 'cert' | 'key') => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw fail(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, which, err);
    }
  };
  const pair = { cert: read(certFile, 'cert'), key: read(keyFile, 'key') };
  try {
    createSecureContext({ ...pair, minVersion: MIN_TLS_VERSION });
  } catch (err) {
    throw fail(`${certFile} and ${keyFile} are not a certificate and its private key (${(err as Error).message})`, 'key', err);
  }
  return pair;
}

/** A certificate and its key, as read from their files. */
export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/**
 * The reload step of an https server: re-read the pair and install it, unless the files have not
 * changed (a new context would also end TLS session resumption). A pair that cannot be read
 * throws, and the one in force stays.
 */
export function tlsReloader(read: () => TlsPair, serving: TlsPair, install: (context: TlsPair & { minVersion: typeof MIN_TLS_VERSION }) => void): () => void {
  let served = serving;
  return () => {
    const pair = read();
    if (pair.cert.equals(served.cert) && pair.key.equals(served.key)) return;
    install({ ...pair, minVersion: MIN_TLS_VERSION });
    served = pair;
  };
}

/**
 * Runs `reload` every minute and on SIGHUP, so a renewed certificate (certbot, a Kubernetes
 * Secret's symlink swap) is picked up without a restart; a failure is logged and the current pair
 * kept. `prefix` starts the log messages (`webhook: `). Returns the stop.
 */
export function reloadTlsPeriodically(reload: () => void, logger: Pick<Logger, 'debug' | 'error'>, prefix = ''): () => void {
  const run = (why: string) => {
    try {
      reload();
      logger.debug(`${prefix}TLS certificate re-read`, { why });
    } catch (err) {
      logger.error(`${prefix}cannot re-read the TLS certificate; keeping the current one`, { reason: (err as Error).message });
    }
  };
  const timer = setInterval(() => run('interval'), 60_000);
  timer.unref();
  const onHup = () => run('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => {
    clearInterval(timer);
    process.off('SIGHUP', onHup);
  };
}
