import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet } from 'jose';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const PERIOD = 30 * DAY; // defaults: keyRotationPeriod 30d, keyPrepublish 24h, tokenTtlMax 24h, clockSkew 5m
const PREPUBLISH = DAY;

async function jwksAt(s: TestServer, clusterId: string) {
  const res = await s.api('GET', `/clusters/${clusterId}/openid/v1/jwks`, undefined, { auth: false });
  assert.equal(res.status, 200);
  const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1]);
  return { set: res.body as JSONWebKeySet, kids: (res.body.keys as { kid: string }[]).map((k) => k.kid), maxAge };
}

const mintFor = (s: TestServer, clusterId: string, ttlSeconds = 3600) =>
  s.app.minter.mint({ clusterId, namespace: 'etl', serviceAccount: 'etl-worker-serviceaccount', serviceAccountUid: 'u1', audiences: ['sts.amazonaws.com'], ttlSeconds });

describe('signing key rotation (injected clock)', () => {
  it('publishes the next key a full prepublication lead before it signs, and keeps the old key until its tokens expire', async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const s = await startServer({ clock });
    try {
      const c = await s.app.clusters.create({ name: 'rot', cloud: 'aws', region: 'us-east-1' });
      const t0 = clock.now();
      const first = await jwksAt(s, c.id);
      assert.equal(first.kids.length, 1);
      const keyA = first.kids[0]!;

      // Until the publication point nothing changes, and every response's cache lifetime ends
      // before the next key could possibly sign.
      const observed: { at: number; kids: string[]; maxAge: number }[] = [];
      for (const at of [0, DAY, 10 * DAY, 20 * DAY, 28 * DAY, PERIOD - PREPUBLISH - 60_000, PERIOD - PREPUBLISH - 1000]) {
        clock.set(t0 + at);
        assert.deepEqual(await s.app.keyring.tick(), [], `no new key at +${at / DAY}d`);
        const j = await jwksAt(s, c.id);
        assert.deepEqual(j.kids, [keyA]);
        assert.ok(j.maxAge >= 900 && j.maxAge <= PREPUBLISH / 1000, `max-age ${j.maxAge} within [15m, prepublish]`);
        observed.push({ at: clock.now(), kids: j.kids, maxAge: j.maxAge });
      }

      clock.set(t0 + PERIOD - PREPUBLISH);
      const created = await s.app.keyring.tick();
      assert.equal(created.length, 1, 'the scheduler creates the next key at the publication point');
      const keyB = created[0]!;
      const published = await jwksAt(s, c.id);
      assert.deepEqual(new Set(published.kids), new Set([keyA, keyB]));
      observed.push({ at: clock.now(), kids: published.kids, maxAge: published.maxAge });

      // While B is pending, A still signs.
      clock.set(t0 + PERIOD - 30 * 60_000);
      const beforeSwitch = await mintFor(s, c.id);
      assert.equal(beforeSwitch.kid, keyA);
      const cachedBeforeSwitch = await jwksAt(s, c.id);

      clock.set(t0 + PERIOD);
      const afterSwitch = await mintFor(s, c.id);
      assert.equal(afterSwitch.kid, keyB, 'B signs from its activation time');

      // Cache safety: any response that lacked B had expired from caches before B's first token.
      for (const o of observed.filter((x) => !x.kids.includes(keyB))) {
        assert.ok(o.at + o.maxAge * 1000 <= t0 + PERIOD, `a JWKS without B served at ${new Date(o.at).toISOString()} stays cacheable past B's activation`);
      }
      // A relying party that fetched the JWKS before the switch verifies tokens from both keys.
      const rpKeys = createLocalJWKSet(cachedBeforeSwitch.set);
      await jwtVerify(afterSwitch.token, rpKeys, { currentDate: new Date(clock.now()) });
      await jwtVerify(beforeSwitch.token, rpKeys, { currentDate: new Date(clock.now()) });

      // A stays published while tokens it signed can be alive: retire + max TTL (24h) + skew (5m).
      clock.set(t0 + PERIOD + DAY);
      assert.ok((await jwksAt(s, c.id)).kids.includes(keyA));
      clock.set(t0 + PERIOD + DAY + 5 * 60_000 + 1000);
      assert.deepEqual((await jwksAt(s, c.id)).kids, [keyB], 'A leaves the JWKS once its last possible token has expired');
    } finally {
      await s.close();
    }
  });

  it('rotate-keys without --immediate schedules one key and is idempotent until it activates', async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 1));
    const s = await startServer({ clock });
    try {
      const c = await s.app.clusters.create({ name: 'manual', cloud: 'gcp', region: 'us-central1' });
      const r1 = await s.api('POST', `/api/v1/clusters/manual/rotate-keys`, {});
      assert.equal(r1.status, 200);
      assert.equal(r1.body.created, true);
      assert.equal(Date.parse(r1.body.activateAt) - Date.parse(r1.body.publishAt), PREPUBLISH);
      const r2 = await s.api('POST', `/api/v1/clusters/manual/rotate-keys`);
      assert.equal(r2.body.kid, r1.body.kid);
      assert.equal(r2.body.created, false);
      assert.ok((await jwksAt(s, c.id)).kids.includes(r1.body.kid), 'the scheduled key is published at once');
      assert.notEqual((await mintFor(s, c.id)).kid, r1.body.kid, 'but does not sign yet');
      clock.advance(PREPUBLISH);
      assert.equal((await mintFor(s, c.id)).kid, r1.body.kid);
      const keys = await s.api('GET', `/api/v1/clusters/manual/keys`);
      assert.deepEqual(keys.body.items.map((k: { state: string }) => k.state), ['active', 'retired']);
    } finally {
      await s.close();
    }
  });

  it('--immediate switches signers now; tokens of the old key verify until they expire, unless revoked', async () => {
    const clock = createManualClock(Date.UTC(2026, 3, 1));
    const s = await startServer({ clock });
    try {
      const c = await s.app.clusters.create({ name: 'imm', cloud: 'azure', region: 'eastus' });
      const old = await mintFor(s, c.id, 600);
      const r = await s.api('POST', `/api/v1/clusters/imm/rotate-keys`, { immediate: true });
      assert.equal(r.status, 200);
      const fresh = await mintFor(s, c.id);
      assert.equal(fresh.kid, r.body.kid);
      assert.notEqual(fresh.kid, old.kid);
      const jwks = createLocalJWKSet((await jwksAt(s, c.id)).set);
      await jwtVerify(old.token, jwks, { currentDate: new Date(clock.now()) });
      clock.advance(601_000);
      await assert.rejects(jwtVerify(old.token, jwks, { currentDate: new Date(clock.now()) }), errors.JWTExpired);

      const compromised = await mintFor(s, c.id);
      const r2 = await s.api('POST', `/api/v1/clusters/imm/rotate-keys`, { immediate: true, revokePrevious: true });
      assert.equal(r2.status, 200);
      const after = await jwksAt(s, c.id);
      assert.ok(!after.kids.includes(compromised.kid), 'a revoked key leaves the JWKS at once');
      await assert.rejects(jwtVerify(compromised.token, createLocalJWKSet(after.set), { currentDate: new Date(clock.now()) }), errors.JWKSNoMatchingKey);

      const bad = await s.api('POST', `/api/v1/clusters/imm/rotate-keys`, { revokePrevious: true });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'body.revokePrevious');
    } finally {
      await s.close();
    }
  });
});

describe('keys at rest', () => {
  it('a restart keeps the same keys; a different master key refuses to start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-restart-'));
    try {
      const s1 = await startServer({ dataDir });
      const c = await s1.app.clusters.create({ name: 'persist', cloud: 'aws', region: 'eu-west-1' });
      const before = await jwksAt(s1, c.id);
      const token1 = (await mintFor(s1, c.id)).token;
      const stored = await s1.app.store.signingKeys.listForCluster(c.id);
      assert.match(stored[0]!.privateKeyEnc, /^v1\.[0-9a-f]{16}\./, 'private keys are stored sealed');
      assert.doesNotMatch(stored[0]!.privateKeyEnc, /PRIVATE KEY|MII/);
      await s1.close({ keepData: true });

      const s2 = await startServer({ dataDir });
      const afterJwks = await jwksAt(s2, c.id);
      assert.deepEqual(afterJwks.kids, before.kids);
      const token2 = (await mintFor(s2, c.id)).token;
      assert.equal(decodeProtectedHeader(token2).kid, decodeProtectedHeader(token1).kid);
      await jwtVerify(token2, createLocalJWKSet(before.set));
      await s2.close({ keepData: true });

      const keyFile = join(dataDir, 'master.key');
      const original = readFileSync(keyFile, 'utf8');
      writeFileSync(keyFile, Buffer.alloc(32, 7).toString('base64') + '\n', { mode: 0o600 });
      await assert.rejects(startServer({ dataDir }), (e: { code?: string; message?: string }) => e.code === 'ERR_MASTER_KEY' && /AIRLOCK_MASTER_KEY/.test(e.message ?? ''));
      writeFileSync(keyFile, original, { mode: 0o600 });
      const s3 = await startServer({ dataDir, env: { AIRLOCK_MASTER_KEY: original.trim() } });
      assert.deepEqual((await jwksAt(s3, c.id)).kids, before.kids, 'AIRLOCK_MASTER_KEY with the same key opens the store');
      await s3.close({ keepData: true });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the embedded store', () => {
  it('refuses a second server on the same data directory, and takes over a stale lock', async () => {
    const { writeFileSync: write, mkdtempSync: mk } = await import('node:fs');
    const dataDir = mk(join(tmpdir(), 'airlock-lock-'));
    const { createStore } = await import('../../src/store/store.ts');
    try {
      // A lock held by another live process (pid 1 always runs) is respected…
      write(join(dataDir, 'airlock.lock'), '1\n');
      await assert.rejects(createStore({ dataDir }), (e: { code?: string; message?: string }) => e.code === 'ERR_CONFLICT' && /pid 1\b/.test(e.message ?? ''));
      // …one left by a process that is gone is taken over.
      write(join(dataDir, 'airlock.lock'), '2147483646\n');
      const store = await createStore({ dataDir });
      assert.equal(readFileSync(join(dataDir, 'airlock.lock'), 'utf8').trim(), String(process.pid));
      await store.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
