/**
 * The web console's files, as the server hands them out. The build (bin/ui.js, Vite) writes
 * index.html and hashed files under assets/; this module reads exactly those at start, so the
 * server answers an allowlist of paths from memory and never turns a URL into a file path.
 * Client routes (the console's own pages) are answered with index.html; everything else stays
 * the API's JSON 404.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface WebAsset {
  body: Buffer;
  contentType: string;
  /** Hashed names never change content, so they are cached for good; index.html is revalidated. */
  cacheControl: string;
}

export interface WebAssets {
  /** Files by URL path (`/assets/index-B2J3.js`). */
  files: ReadonlyMap<string, WebAsset>;
  /** The console's page paths (fastify syntax), each answered with index.html. */
  pages: readonly string[];
  index: WebAsset;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Pages of ui/src/router.tsx. `/clusters/…` below the list is the issuers', never the console's. */
export const CONSOLE_PAGES = ['/', '/sign-in', '/deployments', '/deployments/:name', '/clusters', '/environment', '/tokens', '/audit', '/backups'] as const;

/**
 * No inline script or style, nothing from another origin: the bundle is all same-origin files.
 * `connect-src 'self'` keeps the API token from being sent anywhere but this server.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every console answer carries. */
export const WEB_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Reads a build directory: index.html and the files under assets/ with a known type. */
export function loadWebAssets(dir: string): WebAssets {
  const files = new Map<string, WebAsset>();
  for (const name of readdirSync(join(dir, 'assets'))) {
    const type = TYPES[extname(name)];
    if (!type || !/^[\w.-]+$/.test(name)) continue;
    files.set(`/assets/${name}`, { body: readFileSync(join(dir, 'assets', name)), contentType: type, cacheControl: 'public, max-age=31536000, immutable' });
  }
  const index: WebAsset = { body: readFileSync(join(dir, 'index.html')), contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache' };
  return { files, pages: CONSOLE_PAGES, index };
}
