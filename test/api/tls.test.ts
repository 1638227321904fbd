import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { startServer, type TestServer } from '../helpers/app.ts';
import { killAll, spawnGroup } from '../helpers/processes.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

/** A certificate for 127.0.0.1, and its key. */
async function certificate(name: string): Promise<{ cert: string; key: string }> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 86400_000),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7 as const, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** GET over TLS trusting exactly `ca`: the status, the body, and who the server said it was. */
function get(url: string, ca: string): Promise<{ status: number; body: any; subject: string }> {
  return new Promise((resolve, reject) => {
    // A new connection each time (no agent): each one sees the certificate in force.
    const req = request(url, { ca, agent: false, minVersion: 'TLSv1.2' }, (res) => {
      const subject = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN as string;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, subject }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `airlock serve` with tlsCert/tlsKey: https itself, issuers on https, renewals picked up without a restart. */
describe('the server over TLS (tlsCert, tlsKey)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-tls-'));
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  let a: { cert: string; key: string };
  let b: { cert: string; key: string };
  let s: TestServer;
  const use = (pair: { cert: string; key: string }) => {
    writeFileSync(certFile, pair.cert);
    writeFileSync(keyFile, pair.key, { mode: 0o600 });
  };

  before(async () => {
    [a, b] = await Promise.all([certificate('airlock-a'), certificate('airlock-b')]);
    use(a);
    s = await startServer({ flags: { tlsCert: certFile, tlsKey: keyFile } });
  });
  after(async () => {
    await killAll();
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves https, and its issuers are https URLs', async () => {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await get(`${s.url}/healthz`, a.cert);
    assert.deepEqual([health.status, health.body, health.subject], [200, { status: 'ok' }, 'airlock-a']);
    const c = await s.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1' }).catch(() => undefined);
    assert.equal(c, undefined, 'plain fetch does not trust the certificate: the test must pass a CA');
    const created = await new Promise<{ id: string; oidcIssuerUrl: string }>((resolve, reject) => {
      const req = request(`${s.url}/api/v1/clusters`, { method: 'POST', ca: a.cert, headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (x) => (text += x));
        res.on('end', () => resolve(JSON.parse(text)));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ name: 'prod-aws', cloud: 'aws', region: 'us-east-1' }));
    });
    assert.equal(created.oidcIssuerUrl, `${s.url}/clusters/${created.id}`);
    const discovery = await get(`${created.oidcIssuerUrl}/.well-known/openid-configuration`, a.cert);
    assert.equal(discovery.body.issuer, created.oidcIssuerUrl);
    assert.equal(discovery.body.jwks_uri, `${created.oidcIssuerUrl}/openid/v1/jwks`);
  });

  it('a renewed pair is served to new connections after a reload; a broken one is refused and the current pair kept', async () => {
    use(b);
    s.app.reloadTls();
    assert.equal((await get(`${s.url}/healthz`, b.cert)).subject, 'airlock-b');
    await assert.rejects(get(`${s.url}/healthz`, a.cert), 'the old certificate is no longer served');

    // Half-written renewal: A's certificate with B's key.
    writeFileSync(certFile, a.cert);
    assert.throws(() => s.app.reloadTls(), (err: Error & { code?: string; field?: string }) => {
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.equal(err.field, 'tlsKey');
      assert.match(err.message, /are not a certificate and its private key/);
      return true;
    });
    assert.equal((await get(`${s.url}/healthz`, b.cert)).subject, 'airlock-b', 'still serving the last good pair');
  });

  it('refuses to start on a lone tlsCert, an unreadable file or a mismatched pair, naming the setting', async () => {
    await assert.rejects(startServer({ flags: { tlsCert: certFile } }), (err: Error & { code?: string }) => err.code === 'ERR_CONFIG_INVALID' && /tlsKey/.test(err.message) && /together/.test(err.message));
    await assert.rejects(startServer({ flags: { tlsCert: certFile, tlsKey: keyFile, publicUrl: 'http://airlock.example.com' } }), /publicUrl.*must be https when the server serves TLS itself/s);
    use({ cert: a.cert, key: b.key });
    for (const [flags, field, message] of [
      [{ tlsCert: join(dir, 'missing.crt'), tlsKey: keyFile }, 'tlsCert', /cannot read .*missing\.crt \(ENOENT\)/],
      [{ tlsCert: certFile, tlsKey: keyFile }, 'tlsKey', /are not a certificate and its private key/],
    ] as const) {
      await assert.rejects(startServer({ flags }), (err: Error & { code?: string; field?: string }) => {
        assert.equal(err.code, 'ERR_CONFIG_INVALID');
        assert.equal(err.field, field);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  it('airlock serve picks a renewal up on SIGHUP', async () => {
    use(a);
    const storeDir = join(dir, 'serve');
    const p = spawnGroup(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', storeDir, '--tls-cert', certFile, '--tls-key', keyFile], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, AIRLOCK_LOG_LEVEL: 'debug' },
    });
    let url: string | undefined;
    for (let i = 0; i < 600 && !url; i++) {
      url = /"msg":"airlock is serving","url":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(p.stderr())?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(url, p.stderr());
    assert.equal((await get(`${url}/healthz`, a.cert)).subject, 'airlock-a');
    use(b);
    process.kill(p.child.pid!, 'SIGHUP');
    for (let i = 0; i < 100 && !p.stderr().includes('"msg":"TLS certificate re-read"'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await get(`${url}/healthz`, b.cert)).subject, 'airlock-b');
    p.kill();
  });
});
