import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createSealer } from './envelope.ts';
import { decodeMasterKey, loadMasterKey, loadPreviousMasterKeys } from './master-key.ts';

describe('envelope encryption', () => {
  const sealer = createSealer(randomBytes(32));
  const secret = Buffer.from('-----BEGIN PRIVATE KEY-----\nMIIE…');

  it('round-trips, and never contains the plaintext', () => {
    const sealed = sealer.seal(secret, 'signing-key:cl_a:kid1');
    assert.deepEqual(sealer.open(sealed, 'signing-key:cl_a:kid1'), secret);
    assert.ok(!sealed.includes('PRIVATE'));
    assert.notEqual(sealer.seal(secret, 'x'), sealer.seal(secret, 'x'), 'fresh DEK and IV each time');
  });

  it('refuses a value moved to another record (AAD binding)', () => {
    const sealed = sealer.seal(secret, 'signing-key:cl_a:kid1');
    assert.throws(() => sealer.open(sealed, 'signing-key:cl_b:kid1'), { code: 'ERR_MASTER_KEY' });
  });

  it('refuses a tampered value', () => {
    const sealed = sealer.seal(secret, 'a');
    const [v, fp, body] = sealed.split('.');
    const blob = JSON.parse(Buffer.from(body!, 'base64url').toString());
    const ct = Buffer.from(blob.ct, 'base64url');
    ct[0]! ^= 1;
    blob.ct = ct.toString('base64url');
    assert.throws(() => sealer.open(`${v}.${fp}.${Buffer.from(JSON.stringify(blob)).toString('base64url')}`, 'a'), { code: 'ERR_MASTER_KEY' });
  });

  it('names both fingerprints when the master key differs', () => {
    const sealed = sealer.seal(secret, 'a');
    const other = createSealer(randomBytes(32));
    assert.throws(() => other.open(sealed, 'a'), (e: Error) => e.message.includes(sealer.fingerprint) && e.message.includes(other.fingerprint));
  });
});

describe('rotating the master key (previous keys, rewrap)', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before = createSealer(oldKey);
  const during = createSealer(newKey, [oldKey]);
  const after = createSealer(newKey);
  const aad = 'deployment-variable:dep_a:API_KEY';
  const secret = Buffer.from('k-123');
  const body = (sealed: string) => JSON.parse(Buffer.from(sealed.split('.')[2]!, 'base64url').toString('utf8')) as Record<string, string>;

  it('opens what a previous key sealed, and seals under the new one', () => {
    const old = before.seal(secret, aad);
    assert.deepEqual(during.open(old, aad), secret);
    assert.equal(during.fingerprintOf(during.seal(secret, aad)), during.fingerprint);
    assert.deepEqual(during.previous, [before.fingerprint]);
    assert.throws(() => after.open(old, aad), { code: 'ERR_MASTER_KEY', message: /AIRLOCK_MASTER_KEY_PREVIOUS/ });
  });

  it('rewrap re-wraps only the data key: the secret ciphertext is carried unchanged, and the new key alone opens it', () => {
    const old = before.seal(secret, aad);
    const moved = during.rewrap(old, aad);
    assert.equal(during.fingerprintOf(moved), after.fingerprint);
    for (const f of ['iv', 'tag', 'ct']) assert.equal(body(moved)[f], body(old)[f], f);
    assert.notEqual(body(moved).dek, body(old).dek);
    assert.deepEqual(after.open(moved, aad), secret);
    assert.equal(during.rewrap(moved, aad), moved, 'a value already under the current key is left alone');
  });

  it('rewrap refuses a value bound to another record or tampered with, instead of carrying it over', () => {
    const old = before.seal(secret, aad);
    assert.throws(() => during.rewrap(old, 'deployment-variable:dep_b:API_KEY'), { code: 'ERR_MASTER_KEY' });
    const b = body(old);
    const flipped = Buffer.from(b.ct!, 'base64url');
    flipped[0]! ^= 1;
    const tampered = `${old.split('.').slice(0, 2).join('.')}.${Buffer.from(JSON.stringify({ ...b, ct: flipped.toString('base64url') })).toString('base64url')}`;
    assert.throws(() => during.rewrap(tampered, aad), { code: 'ERR_MASTER_KEY', message: /failed authentication/ });
    assert.throws(() => after.rewrap(old, aad), { code: 'ERR_MASTER_KEY' }, 'a key the sealer does not have');
  });
});

describe('master key', () => {
  it('accepts base64 and hex, rejects anything else', () => {
    const k = randomBytes(32);
    assert.deepEqual(decodeMasterKey(k.toString('base64'), 'x'), k);
    assert.deepEqual(decodeMasterKey(k.toString('hex'), 'x'), k);
    assert.throws(() => decodeMasterKey('short', 'x'), { code: 'ERR_MASTER_KEY' });
    assert.throws(() => decodeMasterKey(randomBytes(16).toString('base64'), 'x'), { code: 'ERR_MASTER_KEY' });
  });

  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'airlock-mk-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('creates the key file 0600 once, then reads it back; env wins', () => {
    const dir = tempDir();
    const a = loadMasterKey({ env: {}, dataDir: dir });
    assert.equal(a.origin, 'created');
    assert.equal(statSync(a.path!).mode & 0o777, 0o600);
    const b = loadMasterKey({ env: {}, dataDir: dir });
    assert.equal(b.origin, 'file');
    assert.deepEqual(b.key, a.key);
    const fromEnv = randomBytes(32);
    assert.deepEqual(loadMasterKey({ env: { AIRLOCK_MASTER_KEY: fromEnv.toString('base64') }, dataDir: dir }).key, fromEnv);
  });

  it('with create: false (a restore), never creates one: no key is an error naming both places', () => {
    const dir = tempDir();
    assert.throws(() => loadMasterKey({ env: {}, dataDir: dir, create: false }), { code: 'ERR_MASTER_KEY', message: /AIRLOCK_MASTER_KEY is not set and .*master\.key does not exist/ });
    assert.equal(existsSync(join(dir, 'master.key')), false);
  });

  it('reads the previous keys of a rotation, comma-separated, and names a bad one by its place', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    assert.deepEqual(loadPreviousMasterKeys({ AIRLOCK_MASTER_KEY_PREVIOUS: ` ${a.toString('base64')} ,${b.toString('hex')}` }), [a, b]);
    assert.deepEqual(loadPreviousMasterKeys({}), []);
    assert.throws(() => loadPreviousMasterKeys({ AIRLOCK_MASTER_KEY_PREVIOUS: `${a.toString('base64')},oops` }), /AIRLOCK_MASTER_KEY_PREVIOUS \(key 2\)/);
  });

  it('refuses a key file others can read', () => {
    const dir = tempDir();
    const p = join(dir, 'master.key');
    writeFileSync(p, randomBytes(32).toString('base64'));
    chmodSync(p, 0o644);
    assert.throws(() => loadMasterKey({ env: {}, dataDir: dir }), /chmod 600/);
  });
});
