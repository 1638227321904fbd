// How the server hands out the console: an allowlist of built files and page paths, with a CSP;
// everything else (the API, the issuers, unknown paths) is unchanged.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';

describe('web console assets', () => {
  let s: TestServer;
  let plain: TestServer;
  let dir: string;
  before(async () => {
    // A build directory as bin/ui.js writes one.
    dir = mkdtempSync(join(tmpdir(), 'airlock-ui-build-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc.js"></script>');
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'notes.txt'), 'not a console file type');
    writeFileSync(join(dir, 'secret.json'), '{}');
    s = await startServer({ env: { AIRLOCK_UI_DIR: dir } });
    plain = await startServer();
  });
  after(async () => {
    await s.close();
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: { name: string; path: string; status: number; type?: RegExp; csp?: boolean }[] = [
    { name: 'the root is the console', path: '/', status: 200, type: /^text\/html/, csp: true },
    { name: 'a Deployment page is the console', path: '/deployments/etl', status: 200, type: /^text\/html/, csp: true },
    { name: 'the clusters page is the console', path: '/clusters', status: 200, type: /^text\/html/, csp: true },
    { name: 'a built script', path: '/assets/index-abc.js', status: 200, type: /^text\/javascript/, csp: true },
    { name: 'a file of another type under assets/ is not served', path: '/assets/notes.txt', status: 404, type: /json/ },
    { name: 'a file beside index.html is not served', path: '/secret.json', status: 404, type: /json/ },
    { name: 'no path traversal', path: '/assets/..%2fsecret.json', status: 404, type: /json/ },
    { name: 'below a page is not a page', path: '/deployments/etl/x', status: 404, type: /json/ },
    { name: "a cluster's issuer path stays the issuer's", path: '/clusters/nope/.well-known/openid-configuration', status: 404, type: /json/ },
    { name: 'the API is unchanged', path: '/api/v1/deployments', status: 401, type: /json/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await fetch(s.url + c.path);
      assert.equal(r.status, c.status);
      if (c.type) assert.match(r.headers.get('content-type') ?? '', c.type);
      if (c.csp) {
        const csp = r.headers.get('content-security-policy') ?? '';
        assert.match(csp, /script-src 'self'(;|$)/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
        assert.equal(r.headers.get('x-frame-options'), 'DENY');
      }
    });
  }

  it('index.html is revalidated, hashed files are cached for good', async () => {
    assert.equal((await fetch(s.url + '/')).headers.get('cache-control'), 'no-cache');
    assert.match((await fetch(s.url + '/assets/index-abc.js')).headers.get('cache-control') ?? '', /immutable/);
  });

  it('without a build the server answers the API alone', async () => {
    const r = await fetch(plain.url + '/');
    assert.equal(r.status, 404);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'ERR_ROUTE_NOT_FOUND');
  });
});
