import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { createSandboxCertificate, subjectAltNames } from './certificate.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'airlock-cert-'));
  dirs.push(d);
  return d;
};

describe('sandbox certificate', () => {
  it('names loopback, login.microsoftonline.com and the Google API hosts (which the proxy tunnels to the emulators), and is reused', async () => {
    const dir = tempDir();
    const first = await createSandboxCertificate(dir);
    assert.equal(first.created, true);
    assert.deepEqual(subjectAltNames(new X509Certificate(first.cert)).sort(), [
      'DNS:cloudresourcemanager.googleapis.com',
      'DNS:iamcredentials.googleapis.com',
      'DNS:localhost',
      'DNS:login.microsoftonline.com',
      'DNS:sts.googleapis.com',
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:127.0.0.1',
    ]);
    const again = await createSandboxCertificate(dir);
    assert.equal(again.created, false);
    assert.equal(again.fingerprint256, first.fingerprint256);
  });

  it('replaces a certificate from an older sandbox that lacks a name (login.microsoftonline.com, then the Google hosts)', async () => {
    const dir = tempDir();
    const old = await generate([{ name: 'commonName', value: 'Airlock sandbox (localhost)' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 2, value: 'login.microsoftonline.com' }, { type: 7, ip: '127.0.0.1' }] }],
    });
    writeFileSync(join(dir, 'cert.pem'), old.cert);
    writeFileSync(join(dir, 'key.pem'), old.private, { mode: 0o600 });
    const cert = await createSandboxCertificate(dir);
    assert.equal(cert.created, true, 'regenerated');
    assert.ok(subjectAltNames(new X509Certificate(readFileSync(cert.certPath, 'utf8'))).includes('DNS:iamcredentials.googleapis.com'));
  });
});
