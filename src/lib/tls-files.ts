import { createSecureContext } from 'node:tls';
import { readFileSync } from 'node:fs';

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
