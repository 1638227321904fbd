import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { Clock } from '../../src/lib/clock.ts';
import type { Logger } from '../../src/lib/logger.ts';

export interface TestServer {
  app: App;
  /** Base URL on 127.0.0.1. */
  url: string;
  /** The admin API token this start created. */
  token: string;
  dataDir: string;
  /** fetch against the server with the admin token unless `auth: false`. */
  api(method: string, path: string, body?: unknown, opts?: { auth?: boolean; headers?: Record<string, string>; raw?: string }): Promise<{ status: number; body: any; headers: Headers }>;
  close(opts?: { keepData?: boolean }): Promise<void>;
}

/** Starts a real Airlock server (embedded store in a temp dir, port 0). */
export async function startServer(o: { clock?: Clock; flags?: Partial<ConfigInput>; dataDir?: string; env?: NodeJS.ProcessEnv; logger?: Logger } = {}): Promise<TestServer> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'airlock-test-'));
  const config = loadConfig({ env: {}, flags: { port: 0, dataDir, logLevel: 'silent', ...o.flags } });
  const app = await createApp({ config, env: o.env ?? {}, manualRotation: true, ...(o.clock ? { clock: o.clock } : {}), ...(o.logger ? { logger: o.logger } : {}) });
  await app.listen();
  const url = app.publicUrl();
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  return {
    app,
    url,
    token,
    dataDir,
    async api(method, path, body, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.auth !== false) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined = opts.raw;
      if (body !== undefined) {
        payload = JSON.stringify(body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, { method, headers, body: payload ?? null });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close(c = {}) {
      await app.close();
      if (!c.keepData && !o.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
