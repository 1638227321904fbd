import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { killAll, spawnGroup, type Spawned } from '../helpers/processes.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Debian's chromium (.ci/run installs it when missing). */
export const CHROMIUM = process.env.AIRLOCK_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of each test; outside the repository unless AIRLOCK_TEST_ARTIFACTS says where. */
export const ARTIFACTS = process.env.AIRLOCK_TEST_ARTIFACTS ?? join(tmpdir(), 'airlock-ui-artifacts');

export interface Console {
  url: string;
  token: string;
  server: Spawned;
  browser: Browser;
  /** The API with the admin token; `body` typed by the caller (the API's JSON). */
  api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** A fresh browser context (own session storage) at 1280×800 unless told otherwise. */
  page(o?: { width?: number; height?: number }): Promise<Page>;
  /** Signs in through the form. */
  signIn(page: Page): Promise<void>;
  shot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts `airlock serve` as `npm start` does (bin/airlock.js: CLI bundle and web console built
 * when stale) on an ephemeral port with its own data directory, and a headless Chromium.
 */
export async function startConsole(): Promise<Console> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-ui-'));
  const storeDir = join(dataDir, 'data');
  mkdirSync(ARTIFACTS, { recursive: true });
  // The CLI bundle and the console build go to this run's own directory: a cache shared with other
  // checkouts (or a concurrent run) may be pruned by their build while this server still loads it.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AIRLOCK_LOG_LEVEL: 'info',
    AIRLOCK_COMPILE_CACHE: join(dataDir, 'cache', 'cli'),
    AIRLOCK_UI_CACHE: join(dataDir, 'cache', 'ui'),
  };
  const server = spawnGroup(process.execPath, [join(ROOT, 'bin', 'airlock.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', storeDir], { env, cwd: ROOT });
  let url: string | undefined;
  for (let i = 0; i < 1800 && !url; i++) {
    const m = /"msg":"airlock is serving","url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.stderr());
    if (m) url = m[1];
    else {
      if (server.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!url) {
    server.kill();
    throw new Error(`airlock serve did not start\nstderr: ${server.stderr()}`);
  }
  const token = readFileSync(join(storeDir, 'admin-token'), 'utf8').trim();
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  } catch (err) {
    // The suite's after() never sees a console that did not start: stop the server here, or the
    // test file keeps running (and npm test with it) for as long as the server does.
    server.kill();
    await killAll();
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`Chromium did not start from ${CHROMIUM} (.ci/run installs Debian's chromium; AIRLOCK_TEST_CHROMIUM names another)`, { cause: err });
  }
  const base = url;
  return {
    url,
    token,
    server,
    browser,
    async api<T>(method: string, path: string, body?: unknown) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(base + path, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* text */
      }
      return { status: res.status, body: parsed as T };
    },
    async page(o = {}) {
      const ctx = await browser.newContext({ viewport: { width: o.width ?? 1280, height: o.height ?? 800 }, baseURL: base });
      const page = await ctx.newPage();
      page.setDefaultTimeout(30_000);
      return page;
    },
    async signIn(page) {
      await page.goto('/');
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
    },
    async shot(page, name) {
      await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close().catch(() => undefined);
      server.kill();
      await killAll();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
