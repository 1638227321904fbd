import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { JOIN_CREDENTIAL_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../../src/delivery/profile.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Snapshots of the embedded store while it serves, and restoring one into a stopped server. */
describe('backups of the embedded store', () => {
  // A month before the real clock, on the hour: the CLI's restore runs on the real clock, and what it
  // records (when the restored store's gap ends) must come after what the server did on this one.
  const startedAt = Math.floor((Date.now() - 30 * 86400_000) / 3600_000) * 3600_000;
  const clock = createManualClock(startedAt);
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-backup-'));
  const backupDir = join(dataDir, 'backups');
  let s: TestServer;
  let cluster: { id: string };
  const as = (token: string) => (method: string, path: string, body?: unknown) => s.api(method, path, body, { auth: false, headers: { authorization: `Bearer ${token}` } });
  const credential = async (component = 'worker') => {
    const r = await s.api('POST', '/api/v1/deployments/etl/credentials', { component });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { id: string; secret: string };
  };
  const exchange = async (secret: string) => {
    const form = new URLSearchParams([['grant_type', TOKEN_EXCHANGE_GRANT_TYPE], ['subject_token', secret], ['subject_token_type', JOIN_CREDENTIAL_TOKEN_TYPE], ['audience', 'sts.amazonaws.com']]);
    const res = await fetch(`${s.url}/clusters/${cluster.id}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    return { status: res.status, body: (await res.json()) as { access_token?: string; error?: string } };
  };
  const token = async (body: Record<string, unknown>) => {
    const r = await s.api('POST', '/api/v1/tokens', body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { id: string; token: string };
  };
  const start = () => startServer({ clock, dataDir, flags: { backupKeep: 3 } });

  before(async () => {
    s = await start();
    const c = await s.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', type: 'dedicated', region: 'us-east-1' });
    assert.equal(c.status, 201);
    cluster = c.body;
    const d = await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/etl-reader' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
  });
  after(async () => {
    await s?.close({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a snapshot taken while exchanges run is consistent, stands alone, and only its owner can read it', async () => {
    const c = await credential();
    const exchanges = Array.from({ length: 200 }, () => exchange(c.secret));
    const taken = await s.api('POST', '/api/v1/backups');
    const answered = await Promise.all(exchanges);
    assert.equal(taken.status, 201, JSON.stringify(taken.body));
    assert.ok(answered.every((r) => r.status === 200));
    const b = taken.body as { name: string; path: string; bytes: number; createdAt: string; migrations: string[] };
    assert.equal(b.name, `airlock-${new Date(startedAt).toISOString().replace(/[:.]/g, '-')}.db`);
    assert.equal(b.path, join(backupDir, b.name));
    assert.equal(b.createdAt, new Date(clock.now()).toISOString());
    assert.equal(statSync(b.path).size, b.bytes);
    assert.equal(statSync(b.path).mode & 0o777, 0o600);
    assert.equal(statSync(backupDir).mode & 0o777, 0o700);
    assert.ok(b.migrations.includes('0001_foundation'));
    assert.deepEqual(readdirSync(backupDir), [b.name], 'no -wal, no partial file beside it');

    const db = new Database(b.path, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'delete');
      assert.equal(db.pragma('quick_check', { simple: true }), 'ok');
      // The audit chain inside is whole: contiguous seqs, each record chained to the one before.
      const rows = db.prepare('select seq, prev_hash, hash from audit_events order by seq').all() as { seq: number; prev_hash: string; hash: string }[];
      rows.forEach((r, i) => {
        assert.equal(r.seq, i + 1);
        if (i > 0) assert.equal(r.prev_hash, rows[i - 1]!.hash, `seq ${r.seq}`);
      });
      const sealed = db.prepare('select count(*) as n from signing_keys where private_key_enc like ?').get('v1.%') as { n: number };
      assert.ok(sealed.n >= 1, 'private keys travel sealed');
    } finally {
      db.close();
    }
    const bytes = readFileSync(b.path);
    assert.ok(!bytes.includes(Buffer.from('BEGIN PRIVATE KEY')) && !bytes.includes(Buffer.from(c.secret)), 'no private key and no join secret in clear');
  });

  it('keeps the newest backupKeep, names same-millisecond snapshots apart, and lists them newest first', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) clock.advance(60_000);
      const r = await s.api('POST', '/api/v1/backups');
      assert.equal(r.status, 201);
      made.push(r.body.name);
    }
    const again = await s.api('POST', '/api/v1/backups');
    assert.equal(again.body.name, made[2]!.replace('.db', '-1.db'));
    assert.equal(again.body.deleted.length, 1, 'the oldest of five went');
    const list = await s.api('GET', '/api/v1/backups');
    assert.equal(list.status, 200);
    assert.equal(list.body.dir, backupDir);
    assert.equal(list.body.dataDir, dataDir);
    assert.equal(list.body.keep, 3);
    assert.equal(list.body.intervalSeconds, 86400);
    assert.deepEqual(
      list.body.items.map((b: { name: string }) => b.name),
      [again.body.name, made[2], made[1]],
    );
    assert.deepEqual(readdirSync(backupDir).sort(), [again.body.name, made[2], made[1]].sort());
    // Files dated in the future (a clock that jumped back) never push out the snapshot just written.
    const future = ['2999-01-01T00-00-00-000Z', '2999-01-02T00-00-00-000Z', '2999-01-03T00-00-00-000Z'].map((t) => join(backupDir, `airlock-${t}.db`));
    for (const f of future) copyFileSync(join(backupDir, made[1]!), f);
    const withFuture = await s.api('POST', '/api/v1/backups');
    assert.equal(withFuture.status, 201, JSON.stringify(withFuture.body));
    assert.ok(existsSync(withFuture.body.path));
    for (const f of future) rmSync(f, { force: true });
  });

  it('the schedule takes one when the newest is older than the interval, and reports it to /metrics', async () => {
    const newest = (await s.api('GET', '/api/v1/backups')).body.items[0];
    assert.equal(await s.app.backups.createIfDue(3600), undefined, 'the newest is younger than an hour');
    clock.advance(3600_000);
    const made = await s.app.backups.createIfDue(3600);
    assert.ok(made && made.name !== newest.name);
    const metrics = await (await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.token}` } })).text();
    assert.match(metrics, /^airlock_backups_total\{result="ok"\} 7$/m);
    assert.match(metrics, /^airlock_backups_total\{result="error"\} 0$/m);
    assert.match(metrics, new RegExp(`^airlock_backup_last_timestamp_seconds\\{store="embedded"\\} ${Date.parse(made.createdAt) / 1000}$`, 'm'));
  });

  it('only an organization owner lists or takes backups, and taking one is audited', async () => {
    for (const body of [
      { name: 'member', role: 'organization-member' },
      { name: 'ws-owner', role: 'workspace-owner', workspace: 'default' },
    ]) {
      const t = await token(body);
      for (const [method, path] of [
        ['GET', '/api/v1/backups'],
        ['POST', '/api/v1/backups'],
      ] as const) {
        const r = await as(t.token)(method, path);
        assert.equal(r.status, 403, `${body.role} ${method}`);
        assert.match(r.body.error.message, /backup\.(read|write)/);
      }
    }
    await s.app.audit.flush();
    const records = (await s.app.store.audit.list({ limit: 10_000 })).filter((r) => r.action === 'backup.create');
    assert.ok(records.some((r) => r.result === 'success' && r.actorName === 'admin'));
    assert.ok(records.some((r) => r.result === 'ERR_FORBIDDEN' && r.actorName === 'member'));
  });

  describe('restore (the real CLI, into the stopped server)', () => {
    let snapshot: string;
    let kept: { credential: { id: string; secret: string }; other: { id: string; secret: string }; revokedToken: { id: string; token: string }; rotatedToken: { id: string; token: string } };
    let issuedBefore: string;
    let rotatedSecret: string;
    let replacementKid: string;
    let doomed: string;
    let doomedKids: string[];
    let madeAfter: { id: string; token: string };
    let replacedFile: string;
    const restore = (args: string[], env: Record<string, string> = {}) => airlock(['backup', 'restore', ...args, '--data-dir', dataDir], env);
    const store = () => join(dataDir, 'airlock.db');

    before(async () => {
      kept = { credential: await credential(), other: await credential('scheduler'), revokedToken: await token({ name: 'to-revoke', role: 'organization-member' }), rotatedToken: await token({ name: 'to-rotate', role: 'organization-member' }) };
      const issued = await exchange(kept.credential.secret);
      assert.equal(issued.status, 200);
      issuedBefore = issued.body.access_token!;
      const d = await s.api('POST', '/api/v1/clusters', { name: 'doomed', cloud: 'aws', region: 'us-west-2' });
      doomed = d.body.id;
      doomedKids = (await s.api('GET', `/api/v1/clusters/${doomed}/keys`)).body.items.map((k: { kid: string }) => k.kid);
      assert.equal(doomedKids.length, 1);
      clock.advance(60_000);
      snapshot = (await s.api('POST', '/api/v1/backups')).body.path;
      clock.advance(1000);

      // Since the snapshot: a credential revoked, a token revoked, a token rotated, a key withdrawn as compromised, a new cluster.
      assert.equal((await s.api('DELETE', `/api/v1/deployments/etl/credentials/${kept.credential.id}`)).status, 200);
      assert.equal((await s.api('DELETE', `/api/v1/tokens/${kept.revokedToken.id}`)).status, 200);
      const rotated = await s.api('POST', `/api/v1/tokens/${kept.rotatedToken.id}/rotate`, { overlap: 0 });
      assert.equal(rotated.status, 200);
      rotatedSecret = rotated.body.token;
      const rotatedKey = await s.api('POST', `/api/v1/clusters/${cluster.id}/rotate-keys`, { immediate: true, revokePrevious: true });
      assert.equal(rotatedKey.status, 200);
      replacementKid = rotatedKey.body.kid;
      assert.equal((await s.api('POST', '/api/v1/clusters', { name: 'made-after', cloud: 'gcp', region: 'us-east1' })).status, 201);
      // Deleted since, perhaps because its key leaked: the restore must not publish that key again.
      assert.equal((await s.api('DELETE', `/api/v1/clusters/${doomed}`)).status, 204);
      madeAfter = await token({ name: 'made-after', role: 'organization-member' });
    });

    it('refuses while the server has the store open, and changes nothing', async () => {
      const r = await restore([snapshot]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /ERR_CONFLICT: another Airlock server \(pid \d+\) is using the embedded store/);
      assert.equal((await s.api('GET', '/api/v1/clusters/made-after')).status, 200, 'the running server is untouched');
      assert.equal(existsSync(join(dataDir, '.restoring')), false);
    });

    it('refuses a snapshot it cannot trust, before touching the store', async () => {
      await s.close({ keepData: true });
      const before = sha(store());
      const junk = join(dataDir, 'junk.db');
      writeFileSync(junk, 'not a database at all, just text');
      const future = join(dataDir, 'future.db');
      copyFileSync(snapshot, future);
      const f = new Database(future);
      f.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('9999_from_the_future', new Date().toISOString());
      f.close();
      for (const [args, env, code, message] of [
        [[snapshot], { AIRLOCK_MASTER_KEY: randomBytes(32).toString('base64') }, 'ERR_MASTER_KEY', /sealed under another master key/],
        [[junk], {}, 'ERR_VALIDATION', /junk\.db (cannot be opened|is not an Airlock store)/],
        [[future], {}, 'ERR_RULE_VIOLATION', /written by a newer Airlock \(schema 9999_from_the_future\)/],
        [[join(dataDir, 'missing.db')], {}, 'ERR_VALIDATION', /missing\.db cannot be opened/],
        [[store()], {}, 'ERR_VALIDATION', /is the store itself/],
      ] as const) {
        const r = await restore([...args], { ...env });
        assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^error: ${code}: `, 'm'));
        assert.match(r.stderr, message);
        assert.equal(sha(store()), before, `${code}: the store is as it was`);
      }
      assert.deepEqual(
        readdirSync(dataDir).filter((f) => f.startsWith('airlock.db')),
        ['airlock.db'],
      );
    });

    it('restores the snapshot, keeps the replaced store, and undoes no revocation made since', async () => {
      const r = await restore([snapshot]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^restored .* into .*airlock\.db$/m);
      const replaced = /kept as (\S+airlock\.db\.replaced-\S+)/.exec(r.stdout)?.[1];
      assert.ok(replaced && existsSync(replaced), r.stdout);
      replacedFile = replaced;
      assert.match(r.stdout, /kept revoked: 1 join credential\(s\) revoked or deleted since the snapshot; 1 API token\(s\) revoked or deleted since; 1 API token\(s\) rotated since \(their current secret carried over\); 2 signing key\(s\) revoked since/);
      assert.match(r.stdout, /kept the 1 signing key\(s\) made since, so the tokens they signed still verify/);

      s = await start();
      // The snapshot's state…
      assert.equal((await s.api('GET', '/api/v1/clusters/made-after')).status, 404);
      assert.equal((await exchange(kept.other.secret)).status, 200, 'a credential live at the snapshot and since works');
      // …without bringing back anything revoked since.
      const refused = await exchange(kept.credential.secret);
      assert.equal(refused.body.error, 'invalid_grant');
      assert.equal((await as(kept.revokedToken.token)('GET', '/api/v1/tokens/self')).status, 401);
      assert.equal((await as(kept.rotatedToken.token)('GET', '/api/v1/tokens/self')).status, 401, 'the secret from before the rotation stays dead');
      assert.equal((await as(rotatedSecret)('GET', '/api/v1/tokens/self')).status, 200, 'the secret its holder has now works');
      const jwks = (await (await fetch(`${s.url}/clusters/${cluster.id}/openid/v1/jwks`)).json()) as { keys: { kid: string }[] };
      const withdrawn = decodeProtectedHeader(issuedBefore).kid;
      assert.ok(!jwks.keys.some((k) => k.kid === withdrawn), 'the key revoked as compromised is not published again');
      const signing = decodeProtectedHeader((await exchange(kept.other.secret)).body.access_token!).kid;
      assert.notEqual(signing, withdrawn);
      assert.equal(signing, replacementKid, 'the key made since the snapshot signs, as before the restore');
      assert.ok(jwks.keys.some((k) => k.kid === replacementKid));
      assert.equal(decodeJwt(issuedBefore).sub?.startsWith('system:serviceaccount:'), true);
      // The audit log is whole and says what happened.
      const verify = await s.api('GET', '/api/v1/audit/verify');
      assert.equal(verify.body.ok, true, JSON.stringify(verify.body));
      const last = (await s.api('GET', '/api/v1/audit?action=store.restore')).body.items[0];
      assert.equal(last.action, 'store.restore');
      assert.equal(last.actorType, 'system');
      assert.equal(last.details.snapshot, snapshot);
      assert.equal(last.details.carried.joinCredentials[0], kept.credential.id);
      // The cluster deleted since is back (everything since is), but none of its keys is published or signs.
      const doomedJwks = (await (await fetch(`${s.url}/clusters/${doomed}/openid/v1/jwks`)).json()) as { keys: { kid: string }[] };
      assert.deepEqual(doomedJwks.keys, []);
      assert.ok(doomedKids.every((kid) => last.details.carried.signingKeys.includes(kid)));
    });

    it('undoing it (restoring the store it replaced) revokes nothing that was made after the first snapshot', async () => {
      await s.close({ keepData: true });
      const r = await restore([replacedFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /API token\(s\) revoked or deleted since/, r.stdout);
      s = await start();
      assert.equal((await as(madeAfter.token)('GET', '/api/v1/tokens/self')).status, 200, 'a token made after the snapshot, live in the store being restored, stays live');
      assert.equal((await s.api('GET', '/api/v1/clusters/made-after')).status, 200);
      assert.equal((await exchange(kept.credential.secret)).body.error, 'invalid_grant', 'and what was revoked stays revoked');
    });

    it('a copy of a live store (its -wal beside it) is restored with its latest writes', async () => {
      // Copied as files while the server runs, as a volume snapshot would: the newest writes are in the -wal file.
      const copy = join(dataDir, 'live-copy.db');
      assert.equal((await s.api('POST', '/api/v1/clusters', { name: 'in-the-wal', cloud: 'aws', region: 'us-east-1' })).status, 201);
      copyFileSync(store(), copy);
      if (existsSync(`${store()}-wal`)) copyFileSync(`${store()}-wal`, `${copy}-wal`);
      await s.close({ keepData: true });
      const r = await restore([copy]);
      assert.equal(r.code, 0, r.stderr);
      s = await start();
      assert.equal((await s.api('GET', '/api/v1/clusters/in-the-wal')).status, 200, 'the write that was only in the -wal file is there');
    });

    it('refuses when the store it would replace cannot be read (its revocations would be lost), unless told to go ahead', async () => {
      await s.close({ keepData: true });
      // A damaged store: its header overwritten.
      const bytes = readFileSync(store());
      bytes.write('not sqlite at all', 0);
      writeFileSync(store(), bytes);
      rmSync(`${store()}-wal`, { force: true });
      const before = sha(store());
      const refused = await restore([snapshot]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /ERR_RULE_VIOLATION: the store being replaced .* cannot be read .* restore with --accept-lost-revocations/);
      assert.match(refused.stderr, /field: --accept-lost-revocations/);
      assert.equal(sha(store()), before, 'nothing replaced');
      const accepted = await restore([snapshot, '--accept-lost-revocations']);
      assert.equal(accepted.code, 0, accepted.stderr);
      assert.match(accepted.stdout, /WARNING: the replaced store could not be read/);
      s = await start();
      assert.equal((await s.api('GET', '/api/v1/clusters/prod-aws')).status, 200);
    });

    it("a restored store's history: what it held after the restore and deleted counts as deleted at the next restore", async () => {
      // Made on the restored store (after the restore, on the real clock), snapshotted, then deleted
      // with its Deployment: restoring that snapshot must not bring the credential back.
      clock.set(Date.now());
      assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'brief', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/brief' })).status, 201);
      const brief = (await s.api('POST', '/api/v1/deployments/brief/credentials', { component: 'worker' })).body as { id: string; secret: string };
      const later = (await s.api('POST', '/api/v1/backups')).body.path as string;
      assert.equal((await s.api('DELETE', '/api/v1/deployments/brief')).status, 204);
      await s.close({ keepData: true });
      await new Promise((r) => setTimeout(r, 20));
      const r = await restore([later]);
      assert.equal(r.code, 0, r.stderr);
      s = await start();
      await s.app.audit.flush();
      const restoreRecord = (await s.api('GET', '/api/v1/audit?action=store.restore&order=newest&limit=1')).body.items[0];
      assert.ok(restoreRecord.details.carried.joinCredentials.includes(brief.id), JSON.stringify(restoreRecord.details.carried));
      const form = new URLSearchParams([['grant_type', TOKEN_EXCHANGE_GRANT_TYPE], ['subject_token', brief.secret], ['subject_token_type', JOIN_CREDENTIAL_TOKEN_TYPE], ['audience', 'sts.amazonaws.com']]);
      const res = await fetch(`${s.url}/clusters/${cluster.id}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      assert.equal(((await res.json()) as { error?: string }).error, 'invalid_grant');
    });

    it("restored over another installation's fresh store (a new machine), it carries nothing from it", async () => {
      const later = (await s.api('POST', '/api/v1/backups')).body.path as string;
      const fresh = mkdtempSync(join(tmpdir(), 'airlock-backup-fresh-'));
      try {
        // A new machine: the same master key, a store of its own from its first start.
        copyFileSync(join(dataDir, 'master.key'), join(fresh, 'master.key'));
        const other = await startServer({ dataDir: fresh });
        await other.close({ keepData: true });
        const r = await airlock(['backup', 'restore', later, '--data-dir', fresh], {});
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /the store it replaced belongs to another installation \(lin_[0-9a-f]{24}\): nothing to carry over from it/);
        const moved = await startServer({ dataDir: fresh });
        try {
          assert.equal((await moved.api('GET', '/api/v1/clusters/prod-aws', undefined, { auth: false, headers: { authorization: `Bearer ${s.token}` } })).status, 200, "the installation's own admin token works there, not revoked");
        } finally {
          await moved.close({ keepData: true });
        }
      } finally {
        rmSync(fresh, { recursive: true, force: true });
      }
    });
  });
});

describe('backups on PostgreSQL', () => {
  let pg: TestPostgres;
  let s: TestServer;
  before(async () => {
    pg = await startPostgres();
    s = await startServer({ flags: { databaseUrl: pg.url } });
  });
  after(async () => {
    await s?.close();
    await pg?.stop();
  });

  it('are pg_dump\'s: the API says so with the command, and lists none', async () => {
    const r = await s.api('POST', '/api/v1/backups');
    assert.equal(r.status, 422);
    assert.equal(r.body.error.code, 'ERR_RULE_VIOLATION');
    assert.match(r.body.error.message, /pg_dump/);
    assert.match(String(r.body.error.example), /^pg_dump --format=custom/);
    const list = await s.api('GET', '/api/v1/backups');
    assert.deepEqual(list.body, { dir: null, dataDir: null, intervalSeconds: 0, keep: 7, items: [] });
    const cli = await airlock(['backup', 'restore', 'whatever.db', '--data-dir', s.dataDir], { DATABASE_URL: pg.url });
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /ERR_RULE_VIOLATION: the server uses PostgreSQL: restore its pg_dump with pg_restore instead/);
  });
});

describe('a restore across a master-key rotation', () => {
  const K1 = randomBytes(32).toString('base64');
  const K2 = randomBytes(32).toString('base64');
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-backup-rekey-'));
  let s: TestServer | undefined;
  let snapshot: string;
  const start = async (env: Record<string, string>) => (s = await startServer({ dataDir, env }));
  const stop = async () => {
    await s?.close({ keepData: true });
    s = undefined;
  };
  const restore = (env: Record<string, string>) => airlock(['backup', 'restore', snapshot, '--data-dir', dataDir], env);
  after(async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('needs every key that seals what it would restore, refusing before anything is replaced', async () => {
    await start({ AIRLOCK_MASTER_KEY: K1 });
    const cluster = (await s!.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1' })).body.id as string;
    snapshot = (await s!.api('POST', '/api/v1/backups')).body.path;
    await stop();
    // Rotated since: everything under K2, and a key made since (sealed under K2) that the restore carries over.
    await start({ AIRLOCK_MASTER_KEY: K2, AIRLOCK_MASTER_KEY_PREVIOUS: K1 });
    assert.equal((await s!.api('POST', '/api/v1/master-key/rewrap')).status, 200);
    assert.equal((await s!.api('POST', `/api/v1/clusters/${cluster}/rotate-keys`, { immediate: true })).status, 200);
    await stop();
    const before = sha(join(dataDir, 'airlock.db'));

    const newOnly = await restore({ AIRLOCK_MASTER_KEY: K2 });
    assert.equal(newOnly.code, 1);
    assert.match(newOnly.stderr, /ERR_MASTER_KEY: .* was sealed under another master key/);
    const oldOnly = await restore({ AIRLOCK_MASTER_KEY: K1 });
    assert.equal(oldOnly.code, 1);
    assert.match(oldOnly.stderr, /ERR_MASTER_KEY: the restored store would hold values sealed under master key [0-9a-f]{16}, which was not given; add it to AIRLOCK_MASTER_KEY_PREVIOUS/);
    assert.equal(sha(join(dataDir, 'airlock.db')), before, 'refused: the store is as it was');

    const both = await restore({ AIRLOCK_MASTER_KEY: K2, AIRLOCK_MASTER_KEY_PREVIOUS: K1 });
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stdout, /kept the 1 signing key\(s\) made since/);
    await start({ AIRLOCK_MASTER_KEY: K2, AIRLOCK_MASTER_KEY_PREVIOUS: K1 });
    const status = (await s!.api('GET', '/api/v1/master-key')).body;
    assert.ok(status.underPrevious > 0, 'the snapshot brought values sealed under K1 back');
    assert.equal((await s!.api('POST', '/api/v1/master-key/rewrap')).body.status.underPrevious, 0);
    await stop();
    await start({ AIRLOCK_MASTER_KEY: K2 });
    assert.equal((await s!.api('GET', `/api/v1/clusters/${cluster}/keys`)).status, 200);
  });
});
