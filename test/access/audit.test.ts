import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqlite } from '../../src/store/sqlite-dialect.ts';
import { embeddedPath } from '../../src/store/store.ts';
import { verifyChain } from '../../src/audit/log.ts';
import type { AuditEventRecord } from '../../src/domain/records.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import pg from 'pg';
import { startServer, type TestServer } from '../helpers/app.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { airlock } from '../helpers/cli.ts';
import { killAll, spawnGroup, waitExit } from '../helpers/processes.ts';

type Rec = AuditEventRecord;

/** The audit log of API changes: what each scenario leaves, no secrets, tamper evidence, retention, durability. */
describe('audit log of API changes', () => {
  const clock = createManualClock(Date.UTC(2026, 11, 5, 9));
  let s: TestServer;
  const secrets: string[] = [];
  const as = (token: string) => (method: string, path: string, body?: unknown) => s.api(method, path, body, { auth: false, headers: { authorization: `Bearer ${token}` } });
  /** The records written for one request (found by the x-request-id the response carries). */
  const recordsOf = async (res: { headers: Headers }): Promise<Rec[]> => {
    const id = res.headers.get('x-request-id');
    assert.ok(id, 'every response names its request id');
    await s.app.audit.flush();
    return (await s.app.store.audit.list({ limit: 100_000 })).filter((r) => r.requestId === id);
  };
  const mint = async (body: Record<string, unknown>) => {
    const r = await s.api('POST', '/api/v1/tokens', body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    secrets.push(r.body.token);
    return r.body as { id: string; token: string; name: string };
  };

  before(async () => {
    s = await startServer({ clock });
    await s.api('POST', '/api/v1/workspaces', { name: 'data-eng' });
    await s.api('POST', '/api/v1/workspaces', { name: 'ml' });
    await s.api('POST', '/api/v1/clusters', { name: 'shared', cloud: 'aws', region: 'us-east-1' });
    await s.api('POST', '/api/v1/deployments?workspace=data-eng', { name: 'etl', cluster: 'shared', runtimeVersion: '12.1.0' });
    await s.api('POST', '/api/v1/deployments?workspace=data-eng', { name: 'reports', cluster: 'shared', runtimeVersion: '12.1.0' });
    await s.api('POST', '/api/v1/deployments?workspace=ml', { name: 'train', cluster: 'shared', runtimeVersion: '12.1.0' });
  });
  after(async () => {
    await killAll();
    await s.close();
  });

  it('a change: one record with the actor token, action, target, changed fields, request id, source and result', async () => {
    const op = await mint({ name: 'ci-deployer', role: 'workspace-operator', workspace: 'data-eng' });
    const res = await as(op.token)('PATCH', '/api/v1/deployments/etl', { description: 'nightly', runtimeVersion: '12.2.0' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const recs = await recordsOf(res);
    assert.equal(recs.length, 1, JSON.stringify(recs));
    const r = recs[0]!;
    assert.deepEqual(
      { actorType: r.actorType, actorId: r.actorId, actorName: r.actorName, action: r.action, targetType: r.targetType, targetId: r.targetId, targetName: r.targetName, result: r.result, source: r.source },
      { actorType: 'api-token', actorId: op.id, actorName: 'ci-deployer', action: 'deployment.update', targetType: 'deployment', targetId: res.body.id, targetName: 'etl', result: 'success', source: '127.0.0.1' },
    );
    assert.deepEqual(r.details.changes, { description: 'nightly', runtimeVersion: '12.2.0' });
    assert.equal(r.details.workspaceId, res.body.workspaceId);
    // Reads are not recorded.
    assert.deepEqual(await recordsOf(await as(op.token)('GET', '/api/v1/deployments/etl')), []);
  });

  it('each scenario leaves exactly its record: refused (403), not found (404), escalation, revocation', async () => {
    const viewer = await mint({ name: 'viewer', role: 'workspace-viewer', workspace: 'data-eng' });
    const op = await mint({ name: 'op', role: 'workspace-operator', workspace: 'data-eng' });
    const da = await mint({ name: 'etl-bot', role: 'deployment-admin', workspace: 'data-eng', deployment: 'etl' });
    const owner = await mint({ name: 'ws-owner', role: 'workspace-owner', workspace: 'data-eng' });
    const cases: { name: string; token: string; actor: string; call: [string, string, unknown?]; status: number; expect: Partial<Rec> }[] = [
      { name: 'viewer creates a credential', token: viewer.token, actor: viewer.id, call: ['POST', '/api/v1/deployments/etl/credentials', { component: 'worker' }], status: 403, expect: { action: 'credential.create', result: 'ERR_FORBIDDEN', targetName: 'etl' } },
      { name: "operator deletes another workspace's Deployment", token: op.token, actor: op.id, call: ['DELETE', '/api/v1/deployments/train'], status: 404, expect: { action: 'deployment.delete', result: 'ERR_NOT_FOUND', targetName: 'train' } },
      { name: 'deployment-admin touches a second Deployment', token: da.token, actor: da.id, call: ['POST', '/api/v1/deployments/reports/credentials', { component: 'worker' }], status: 404, expect: { action: 'credential.create', result: 'ERR_NOT_FOUND', targetName: 'reports' } },
      { name: 'workspace owner escalates to organization owner', token: owner.token, actor: owner.id, call: ['POST', '/api/v1/tokens', { name: 'root', role: 'organization-owner' }], status: 403, expect: { action: 'token.create', result: 'ERR_FORBIDDEN', targetName: 'root' } },
      { name: 'deployment-admin creates its credential', token: da.token, actor: da.id, call: ['POST', '/api/v1/deployments/etl/credentials', { component: 'worker' }], status: 201, expect: { action: 'credential.create', result: 'success', targetType: 'credential' } },
      { name: 'owner revokes the viewer', token: s.token, actor: '', call: ['DELETE', `/api/v1/tokens/${viewer.id}`], status: 200, expect: { action: 'token.revoke', result: 'success', targetId: viewer.id, targetName: 'viewer' } },
    ];
    for (const c of cases) {
      const res = await as(c.token)(...c.call);
      assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
      if (res.body?.secret) secrets.push(res.body.secret);
      const recs = await recordsOf(res);
      assert.equal(recs.length, 1, `${c.name}: ${JSON.stringify(recs)}`);
      const got = Object.fromEntries(Object.keys(c.expect).map((k) => [k, recs[0]![k as keyof Rec]]));
      assert.deepEqual(got, c.expect, c.name);
      if (c.actor) assert.equal(recs[0]!.actorId, c.actor, c.name);
    }
    // A revoked token is refused like any bad token, and the attempt is recorded against it.
    const after = await as(viewer.token)('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' });
    assert.equal(after.status, 401);
    const refused = await recordsOf(after);
    assert.deepEqual(
      refused.map((r) => [r.actorType, r.action, r.targetType, r.targetId, r.targetName, r.result, r.details.reason]),
      [['anonymous', 'token.authenticate', 'token', viewer.id, 'viewer', 'ERR_UNAUTHENTICATED', 'revoked']],
    );
  });

  it('refused API tokens: recorded when they name a stored token (why, where, from whom), paced per token; the caller learns nothing', async () => {
    const t = await mint({ name: 'nightly-sync', role: 'organization-member' });
    const short = await mint({ name: 'short-lived', role: 'organization-member', expiresIn: '1h' });
    const id20 = t.id.slice(4);
    const wrongSecret = `alk_${id20}_${'A'.repeat(43)}`;
    const unknown = `alk_${'0'.repeat(20)}_${'B'.repeat(43)}`;
    secrets.push(wrongSecret, unknown);
    const rot = await s.api('POST', `/api/v1/tokens/${t.id}/rotate`, { overlap: '60s' });
    assert.equal(rot.status, 200, JSON.stringify(rot.body));
    secrets.push(rot.body.token);
    const ask = (token: string | undefined) =>
      s.api('POST', '/api/v1/workspaces', { name: 'never' }, { auth: false, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    const bodies = new Set<string>();
    const attempt = async (token: string | undefined) => {
      const res = await ask(token);
      assert.equal(res.status, 401, JSON.stringify(res.body));
      if (token !== undefined) bodies.add(JSON.stringify(res.body));
      return recordsOf(res);
    };
    const summary = (recs: Rec[]) => recs.map((r) => ({ target: r.targetId, name: r.targetName, reason: r.details.reason, suppressed: r.details.suppressed }));

    // Strings that name no stored token are not recorded: anyone can make them up by the million.
    for (const token of [undefined, 'nope', unknown]) assert.deepEqual(await attempt(token), [], String(token));

    // A wrong secret for a real id: recorded once a minute per token, with what it tried and from where.
    const first = await attempt(wrongSecret);
    assert.deepEqual(summary(first), [{ target: t.id, name: 'nightly-sync', reason: 'wrong-secret', suppressed: 0 }]);
    assert.deepEqual([first[0]!.actorType, first[0]!.action, first[0]!.result, first[0]!.source], ['anonymous', 'token.authenticate', 'ERR_UNAUTHENTICATED', '127.0.0.1']);
    assert.deepEqual([first[0]!.details.method, first[0]!.details.path], ['POST', '/api/v1/workspaces']);
    assert.deepEqual(await attempt(wrongSecret), []);
    assert.deepEqual(await attempt(wrongSecret), []);
    // The old secret still works inside the rotation's overlap: no record.
    assert.equal((await s.api('GET', '/api/v1/workspaces', undefined, { auth: false, headers: { authorization: `Bearer ${t.token}` } })).status, 200);

    clock.advance(61_000);
    // After the overlap the old secret is refused as rotated out; the record counts the two left out.
    assert.deepEqual(summary(await attempt(t.token)), [{ target: t.id, name: 'nightly-sync', reason: 'rotated-out', suppressed: 2 }]);

    clock.advance(3_600_000);
    assert.deepEqual(summary(await attempt(short.token)), [{ target: short.id, name: 'short-lived', reason: 'expired', suppressed: 0 }]);

    // Every refusal looks the same to the caller, whatever the record says.
    assert.equal(bodies.size, 1, [...bodies].join('\n'));
  });

  it('no record holds a secret: every token and join credential handed out is absent from the whole log', async () => {
    const c = await s.api('POST', '/api/v1/deployments/etl/credentials?workspace=data-eng', { component: 'scheduler' });
    secrets.push(c.body.secret, s.token);
    const rot = await s.api('POST', `/api/v1/tokens/${(await mint({ name: 'r', role: 'organization-member' })).id}/rotate`, {});
    secrets.push(rot.body.token);
    await s.app.audit.flush();
    const all = JSON.stringify(await s.app.store.audit.list({ limit: 100_000 }));
    assert.ok(secrets.length >= 8);
    for (const secret of secrets) {
      const part = secret.slice(25);
      assert.equal(all.includes(part), false, `a record holds the secret of ${secret.slice(0, 24)}…`);
    }
  });

  it('API: cursor pages, filters by actor, target, action and time; only organization owners may read it', async () => {
    const page1 = await s.api('GET', '/api/v1/audit?limit=3');
    assert.equal(page1.status, 200, JSON.stringify(page1.body));
    assert.equal(page1.body.items.length, 3);
    const page2 = await s.api('GET', `/api/v1/audit?limit=3&cursor=${page1.body.nextCursor}`);
    assert.equal(page2.body.items[0].seq, page1.body.items[2].seq + 1);
    // Newest first: from the head down, and its cursor goes on downwards.
    const all = (await s.api('GET', '/api/v1/audit?limit=1000')).body.items as Rec[];
    const newest1 = await s.api('GET', '/api/v1/audit?limit=3&order=newest');
    assert.deepEqual(newest1.body.items.map((r: Rec) => r.seq), all.slice(-3).reverse().map((r) => r.seq));
    const newest2 = await s.api('GET', `/api/v1/audit?limit=3&order=newest&cursor=${newest1.body.nextCursor}`);
    assert.deepEqual(newest2.body.items.map((r: Rec) => r.seq), all.slice(-6, -3).reverse().map((r) => r.seq));
    assert.equal((await s.api('GET', '/api/v1/audit?order=latest')).body.error?.field, 'query.order');
    const byAction = await s.api('GET', '/api/v1/audit?action=deployment.update&limit=1000');
    assert.ok(byAction.body.items.length >= 1 && byAction.body.items.every((r: Rec) => r.action === 'deployment.update'));
    const byTarget = await s.api('GET', '/api/v1/audit?target=train&limit=1000');
    assert.ok(byTarget.body.items.length >= 1 && byTarget.body.items.every((r: Rec) => r.targetName === 'train' || r.targetId === 'train'));
    const actor = byTarget.body.items.at(-1).actorId;
    const byActor = await s.api('GET', `/api/v1/audit?actor=${actor}&limit=1000`);
    assert.ok(byActor.body.items.every((r: Rec) => r.actorId === actor));
    const future = await s.api('GET', `/api/v1/audit?since=${new Date(clock.now() + 1000).toISOString()}`);
    assert.deepEqual(future.body.items, []);
    const bad = await s.api('GET', '/api/v1/audit?since=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'query.since');
    const forged = await s.api('GET', '/api/v1/audit?cursor=bm9wZQ');
    assert.equal(forged.body.error.field, 'query.cursor');
    const member = await mint({ name: 'm', role: 'organization-member' });
    assert.equal((await as(member.token)('GET', '/api/v1/audit')).status, 403);
  });

  it('CLI: audit list, export as JSON lines, verify online and an export offline; an edited export fails', async () => {
    const env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    const l = await airlock(['audit', 'list', '--action', 'token.create', '--limit', '2'], env);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /^SEQ\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+RESULT\n(\d+\s+\S+\s+.*token\.create\s+token:\S+\s+success\n){2}$/);
    // --newest: the latest records, newest first.
    const creates = (await s.app.store.audit.list({ limit: 100_000, action: 'token.create' })).map((r) => r.seq);
    const n = await airlock(['audit', 'list', '--action', 'token.create', '--limit', '2', '--newest', '-o', 'json'], env);
    assert.equal(n.code, 0, n.stderr);
    assert.deepEqual((JSON.parse(n.stdout) as Rec[]).map((r) => r.seq), creates.slice(-2).reverse());
    const e = await airlock(['audit', 'export', '--since', '2026-12-01'], env);
    assert.equal(e.code, 0, e.stderr);
    const lines = e.stdout.trim().split('\n');
    assert.equal(lines.length, (await s.app.store.audit.list({ limit: 100_000 })).length);
    const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-'));
    try {
      writeFileSync(join(dir, 'audit.jsonl'), e.stdout);
      const v = await airlock(['audit', 'verify', '--file', join(dir, 'audit.jsonl')], env);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.match(v.stdout, new RegExp(`^ok: ${lines.length} record\\(s\\) chain correctly`));
      const edited = lines.map((line, i) => (i === 3 ? line.replace(/"result":"[^"]*"/, '"result":"success-edited"') : line)).join('\n');
      writeFileSync(join(dir, 'edited.jsonl'), edited);
      const bad = await airlock(['audit', 'verify', '--file', join(dir, 'edited.jsonl')], env);
      assert.equal(bad.code, 1, bad.stdout);
      assert.match(bad.stdout, new RegExp(`BROKEN at seq ${JSON.parse(lines[3]!).seq}: hash does not match`));
      const online = await airlock(['audit', 'verify', '-o', 'json'], env);
      assert.equal(online.code, 0, online.stdout + online.stderr);
      assert.equal(JSON.parse(online.stdout).ok, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('CLI: audit export --after-seq resumes right after a seq; --follow writes new records as they come and exits 0 on SIGTERM', async () => {
    const env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token, PATH: process.env.PATH ?? '' };
    await s.app.audit.flush();
    const all = await s.app.store.audit.list({ limit: 100_000 });
    const from = all[all.length - 3]!.seq;
    const resumed = await airlock(['audit', 'export', '--after-seq', String(from)], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(resumed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Rec).seq), [from + 1, from + 2]);

    const bin = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
    const head = all[all.length - 1]!.seq;
    const follow = spawnGroup(process.execPath, [bin, 'audit', 'export', '--follow', '--interval', '1s', '--after-seq', String(head), '--action', 'token.create'], { env });
    try {
      assert.equal((await s.api('POST', '/api/v1/tokens', { name: 'followed-1', role: 'organization-member' })).status, 201);
      await follow.waitFor(/"name":"followed-1"/);
      assert.equal((await s.api('POST', '/api/v1/tokens', { name: 'followed-2', role: 'organization-member' })).status, 201);
      await follow.waitFor(/"name":"followed-2"/);
      follow.child.kill('SIGTERM');
      assert.equal(await waitExit(follow, 'audit export --follow', 30_000), 0, follow.stderr());
      const lines = follow.stdout().trim().split('\n').map((l) => JSON.parse(l) as Rec);
      assert.deepEqual(lines.map((r) => [r.action, r.targetName]), [['token.create', 'followed-1'], ['token.create', 'followed-2']], 'only new matching records, each once');
      assert.ok(lines[0]!.seq > head);
    } finally {
      follow.kill();
    }
    // Following, an unreachable server is waited out (a restart), not the end of the export.
    const waiting = spawnGroup(process.execPath, [bin, 'audit', 'export', '--follow', '--interval', '1s'], { env: { ...env, AIRLOCK_URL: 'http://127.0.0.1:1' } });
    try {
      for (let i = 0; i < 200 && !/trying again in 1s/.test(waiting.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(waiting.stderr(), /cannot reach the Airlock server at http:\/\/127\.0\.0\.1:1 .*; trying again in 1s/);
      waiting.child.kill('SIGTERM');
      assert.equal(await waitExit(waiting, 'audit export --follow (unreachable)', 30_000), 0);
    } finally {
      waiting.kill();
    }
    const bad = await airlock(['audit', 'export', '--after-seq', 'last'], env);
    assert.deepEqual([bad.code, /--after-seq must be a record seq/.test(bad.stderr)], [2, true]);
    const api = await s.api('GET', '/api/v1/audit?afterSeq=3&order=newest');
    assert.deepEqual([api.status, api.body.error.field], [400, 'query.afterSeq']);
    // headSeq: how far a filtered read has looked, so a follower need not rescan what matched nothing.
    await s.app.audit.flush();
    const newest = (await s.app.store.audit.head())!.seq;
    const none = await s.api('GET', `/api/v1/audit?action=no.such.action&afterSeq=${from}`);
    assert.deepEqual([none.status, none.body.items, none.body.headSeq, none.body.nextCursor], [200, [], newest, undefined]);
  });

  it('retention deletes old records (never the newest), records that it did, and the chain still verifies from its anchor', async () => {
    await s.app.audit.flush();
    const before = await s.app.store.audit.list({ limit: 100_000 });
    clock.advance(3600_000);
    const later = await s.api('POST', '/api/v1/workspaces', { name: 'later' });
    assert.equal(later.status, 201);
    const deleted = await s.app.audit.prune(new Date(clock.now() - 1800_000));
    assert.equal(deleted, before.length);
    const rows = await s.app.store.audit.list({ limit: 100_000 });
    assert.deepEqual(rows.map((r) => r.action), ['workspace.create', 'audit.prune']);
    assert.deepEqual(rows[1]!.details, { deleted: before.length, throughSeq: before.at(-1)!.seq, before: new Date(clock.now() - 1800_000).toISOString() });
    const v = await s.api('GET', '/api/v1/audit/verify');
    assert.equal(v.status, 200);
    assert.deepEqual({ ok: v.body.ok, checked: v.body.checked, anchor: v.body.anchor }, { ok: true, checked: 2, anchor: { throughSeq: before.at(-1)!.seq, hash: before.at(-1)!.hash } });
  });
});

/** Against the stored records, as an attacker with database access would change them. */
describe('audit verify against the database', () => {
  it('detects a record edited directly in the embedded database, naming its seq', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-audit-db-'));
    try {
      let s = await startServer({ dataDir });
      await s.api('POST', '/api/v1/workspaces', { name: 'a' });
      await s.api('POST', '/api/v1/workspaces', { name: 'b' });
      await s.api('POST', '/api/v1/workspaces', { name: 'c' });
      assert.equal((await s.api('GET', '/api/v1/audit/verify')).body.ok, true);
      await s.close({ keepData: true });

      const lite = openSqlite(embeddedPath(dataDir));
      // The table itself refuses edits and deletions (migration 0007)...
      assert.throws(() => lite.prepare(`update audit_events set target_name = 'innocent' where seq = 2`).run(), /append-only: UPDATE refused/);
      assert.throws(() => lite.prepare(`delete from audit_events where seq = 2`).run(), /append-only: DELETE refused outside retention/);
      // ...but whoever owns the file can drop the guard; the chain is what catches that.
      lite.exec('drop trigger audit_events_no_update');
      const edited = lite.prepare(`update audit_events set target_name = 'innocent' where seq = 2`).run();
      lite.close();
      assert.equal(edited.changes, 1, 'the record to tamper with is there');

      s = await startServer({ dataDir });
      try {
        const v = await s.api('GET', '/api/v1/audit/verify');
        assert.deepEqual({ ok: v.body.ok, brokenSeq: v.body.brokenSeq, reason: v.body.reason, checked: v.body.checked }, { ok: false, brokenSeq: 2, reason: 'hash does not match the record', checked: 1 });
        const cli = await airlock(['audit', 'verify'], { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token });
        assert.equal(cli.code, 1, cli.stdout + cli.stderr);
        assert.match(cli.stdout, /^BROKEN at seq 2: hash does not match the record/);
      } finally {
        await s.close({ keepData: true });
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** The same guarantees on PostgreSQL, where the chain is written by the shared (non-exclusive) path. */
describe('scoped tokens and the audit log on PostgreSQL', () => {
  let server: TestPostgres;
  let s: TestServer;
  before(async () => {
    server = await startPostgres();
    s = await startServer({ flags: { databaseUrl: server.url } });
  });
  after(async () => {
    await s?.close();
    await server?.stop();
  });

  it("an operator is refused another workspace's Deployment and a viewer role's write; each refusal is recorded; verify names an edited record", async () => {
    for (const [m, p, b] of [
      ['POST', '/api/v1/workspaces', { name: 'data-eng' }],
      ['POST', '/api/v1/workspaces', { name: 'ml' }],
      ['POST', '/api/v1/clusters', { name: 'shared', cloud: 'aws', region: 'us-east-1' }],
      ['POST', '/api/v1/deployments?workspace=ml', { name: 'train', cluster: 'shared', runtimeVersion: '12.1.0' }],
    ] as const) {
      assert.equal((await s.api(m, p, b)).status, 201, p);
    }
    const op = await s.api('POST', '/api/v1/tokens', { name: 'op', role: 'workspace-operator', workspace: 'data-eng' });
    const call = (method: string, path: string) => s.api(method, path, undefined, { auth: false, headers: { authorization: `Bearer ${op.body.token}` } });
    const del = await call('DELETE', '/api/v1/deployments/train?workspace=ml');
    assert.equal(del.status, 404, JSON.stringify(del.body));
    const tok = await call('DELETE', `/api/v1/tokens/${op.body.id}`);
    assert.equal(tok.status, 403, JSON.stringify(tok.body));
    await s.app.audit.flush();
    const rows = await s.app.store.audit.list({ limit: 1000 });
    assert.deepEqual(
      rows.filter((r) => r.actorId === op.body.id).map((r) => [r.action, r.result]),
      [
        ['deployment.delete', 'ERR_NOT_FOUND'],
        ['token.revoke', 'ERR_FORBIDDEN'],
      ],
    );
    assert.equal((await s.api('GET', '/api/v1/audit/verify')).body.ok, true);

    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      // The table refuses edits, deletions and TRUNCATE (migration 0007), with PostgreSQL's insufficient_privilege...
      const last = rows.at(-1)!.seq;
      for (const [statement, refused] of [
        [`update audit_events set result = 'success' where seq = ${last}`, /append-only: UPDATE refused/],
        [`delete from audit_events where seq = ${last}`, /append-only: DELETE refused outside retention/],
        ['truncate audit_events', /append-only: TRUNCATE refused/],
      ] as const) {
        await assert.rejects(client.query(statement), (e: Error & { code?: string }) => refused.test(e.message) && e.code === '42501', statement);
      }
      // ...but the table's owner can switch the guard off; the chain is what catches that.
      await client.query('alter table audit_events disable trigger audit_events_append_only');
      await client.query(`update audit_events set result = 'success' where seq = $1`, [last]);
      await client.query('alter table audit_events enable trigger audit_events_append_only');
    } finally {
      await client.end();
    }
    const v = await s.api('GET', '/api/v1/audit/verify');
    assert.deepEqual({ ok: v.body.ok, brokenSeq: v.body.brokenSeq, reason: v.body.reason }, { ok: false, brokenSeq: rows.at(-1)!.seq, reason: 'hash does not match the record' });
  });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('audit durability', () => {
  it('kill -9 right after a change is answered: its record is there after restart', { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-audit-kill-'));
    const port = await freePort();
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
    const child = spawn(process.execPath, [bin, 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const url = `http://127.0.0.1:${port}`;
      for (let i = 0; ; i++) {
        const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
        if (ok && existsSync(join(dataDir, 'admin-token'))) break;
        assert.ok(i < 600, `the server did not become ready: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      const res = await fetch(`${url}/api/v1/workspaces`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name":"durable"}' });
      assert.equal(res.status, 201);
      child.kill('SIGKILL');
      await exited;
      const reqId = res.headers.get('x-request-id');

      const s = await startServer({ dataDir });
      try {
        const recs = (await s.app.store.audit.list({ limit: 1000 })).filter((r) => r.requestId === reqId);
        assert.deepEqual(recs.map((r) => [r.action, r.targetName, r.result]), [['workspace.create', 'durable', 'success']]);
        assert.equal(verifyChain(await s.app.store.audit.list({ limit: 1000 })).ok, true);
      } finally {
        await s.close({ keepData: true });
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
