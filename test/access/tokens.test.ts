import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PERMISSIONS, roleAllows, type Permission, type Role } from '../../src/access/matrix.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';

/** Scoped API tokens: create, use, expire, rotate with overlap, revoke; never more power than the creator's. */
describe('scoped API tokens', () => {
  const clock = createManualClock(Date.UTC(2026, 11, 1, 12));
  let s: TestServer;
  /** Calls the API with `token` instead of the admin token. */
  const as = (token: string) => (method: string, path: string, body?: unknown) => s.api(method, path, body, { auth: false, headers: { authorization: `Bearer ${token}` } });
  const mint = async (body: Record<string, unknown>, by?: string) => {
    const r = by ? await as(by)('POST', '/api/v1/tokens', body) : await s.api('POST', '/api/v1/tokens', body);
    assert.equal(r.status, 201, `create ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    return r.body as { id: string; token: string; role: string; expiresAt: string | null; workspaceName: string | null };
  };

  before(async () => {
    s = await startServer({ clock });
    for (const [m, p, b] of [
      ['POST', '/api/v1/workspaces', { name: 'data-eng' }],
      ['POST', '/api/v1/workspaces', { name: 'ml' }],
      ['POST', '/api/v1/clusters', { name: 'shared', cloud: 'aws', region: 'us-east-1' }],
      ['POST', '/api/v1/deployments?workspace=data-eng', { name: 'etl', cluster: 'shared', runtimeVersion: '12.1.0' }],
    ] as const) {
      const r = await s.api(m, p, b);
      assert.equal(r.status, 201, `${p}: ${JSON.stringify(r.body)}`);
    }
  });
  after(() => s.close());

  it('a workspace token works in its workspace, has the alk_ form, and is stored only as a hash with its scope', async () => {
    const t = await mint({ name: 'ci-deployer', role: 'workspace-operator', workspace: 'data-eng', expiresIn: '90d' });
    assert.match(t.token, /^alk_[0-9a-z]{20}_[A-Za-z0-9_-]{43}$/);
    assert.equal(t.workspaceName, 'data-eng');
    assert.equal(t.expiresAt, new Date(clock.now() + 90 * 86400_000).toISOString());
    const list = await as(t.token)('GET', '/api/v1/deployments');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(list.body.items.map((d: { name: string }) => d.name), ['etl'], 'its own workspace is the default');
    const row = (await s.app.store.apiTokens.get(t.id))!;
    assert.equal(row.secretHash, createHash('sha256').update(t.token.slice(25)).digest('hex'));
    assert.equal(JSON.stringify(row).includes(t.token.slice(25)), false);
    assert.equal(row.role, 'workspace-operator');
    assert.notEqual(row.lastUsedAt, null, 'last use is recorded');
    assert.equal((await s.api('GET', '/api/v1/tokens')).body.items.find((x: { id: string }) => x.id === t.id).token, undefined, 'list never shows a secret');
  });

  it('an expired token is 401; a revoked one is 401 at once', async () => {
    const t = await mint({ name: 'short', role: 'workspace-viewer', workspace: 'data-eng', expiresIn: '10m' });
    assert.equal((await as(t.token)('GET', '/api/v1/deployments')).status, 200);
    clock.advance(10 * 60_000);
    const expired = await as(t.token)('GET', '/api/v1/deployments');
    assert.equal(expired.status, 401, JSON.stringify(expired.body));
    assert.equal(expired.body.error.code, 'ERR_UNAUTHENTICATED');

    const r = await mint({ name: 'to-revoke', role: 'workspace-viewer', workspace: 'data-eng' });
    assert.equal((await as(r.token)('GET', '/api/v1/deployments')).status, 200);
    const rev = await s.api('DELETE', `/api/v1/tokens/${r.id}`);
    assert.equal(rev.status, 200, JSON.stringify(rev.body));
    assert.equal(rev.body.status, 'revoked');
    assert.equal((await as(r.token)('GET', '/api/v1/deployments')).status, 401);
  });

  it('rotate: the new secret works; the old one works for the overlap, then not; overlap 0 ends it at once', async () => {
    const t = await mint({ name: 'rotating', role: 'workspace-viewer', workspace: 'data-eng' });
    const r = await s.api('POST', `/api/v1/tokens/${t.id}/rotate`, { overlap: '15m' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.id, t.id, 'the id stays: audit records and lists keep following it');
    assert.notEqual(r.body.token, t.token);
    assert.equal(r.body.previousSecretExpiresAt, new Date(clock.now() + 15 * 60_000).toISOString());
    assert.equal((await as(r.body.token)('GET', '/api/v1/deployments')).status, 200);
    assert.equal((await as(t.token)('GET', '/api/v1/deployments')).status, 200, 'old secret within the overlap');
    clock.advance(15 * 60_000);
    assert.equal((await as(t.token)('GET', '/api/v1/deployments')).status, 401, 'old secret after the overlap');
    assert.equal((await as(r.body.token)('GET', '/api/v1/deployments')).status, 200);

    const again = await s.api('POST', `/api/v1/tokens/${t.id}/rotate`, { overlap: 0 });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.previousSecretExpiresAt, null);
    assert.equal((await as(r.body.token)('GET', '/api/v1/deployments')).status, 401, 'overlap 0: the previous secret stops at once');
    const tooLong = await s.api('POST', `/api/v1/tokens/${t.id}/rotate`, { overlap: '30d' });
    assert.equal(tooLong.status, 400, JSON.stringify(tooLong.body));
    assert.equal(tooLong.body.error.field, 'body.overlap');
  });

  it('privilege escalation through token create is refused, and each refusal says why', async () => {
    const owner = await mint({ name: 'ws-owner', role: 'workspace-owner', workspace: 'data-eng', expiresIn: '30d' });
    const operator = await mint({ name: 'op', role: 'workspace-operator', workspace: 'data-eng' });
    const cases: { name: string; by: string; body: Record<string, unknown>; status: number; code: string }[] = [
      { name: 'operator cannot create tokens at all', by: operator.token, body: { name: 'x', role: 'workspace-viewer', workspace: 'data-eng' }, status: 403, code: 'ERR_FORBIDDEN' },
      { name: 'workspace owner → organization owner', by: owner.token, body: { name: 'x', role: 'organization-owner' }, status: 403, code: 'ERR_FORBIDDEN' },
      { name: 'workspace owner → organization member', by: owner.token, body: { name: 'x', role: 'organization-member' }, status: 403, code: 'ERR_FORBIDDEN' },
      { name: 'workspace owner → a role in another workspace (which it cannot see)', by: owner.token, body: { name: 'x', role: 'workspace-viewer', workspace: 'ml' }, status: 404, code: 'ERR_NOT_FOUND' },
      { name: 'workspace owner → a token outliving its own', by: owner.token, body: { name: 'x', role: 'workspace-viewer', workspace: 'data-eng', expiresIn: '60d' }, status: 403, code: 'ERR_FORBIDDEN' },
    ];
    for (const c of cases) {
      const r = await as(c.by)('POST', '/api/v1/tokens', c.body);
      assert.equal(r.status, c.status, `${c.name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, c.code, c.name);
    }
    // Within its power it may: a viewer and a deployment-admin of its workspace, capped at its own expiry.
    const viewer = await mint({ name: 'v', role: 'workspace-viewer', workspace: 'data-eng' }, owner.token);
    assert.equal(viewer.expiresAt, owner.expiresAt, 'a token without expiry from an expiring one inherits its end');
    const da = await mint({ name: 'etl-bot', role: 'deployment-admin', deployment: 'etl' }, owner.token);
    assert.equal(da.role, 'deployment-admin');
    // It sees and manages its workspace's tokens only.
    const seen = (await as(owner.token)('GET', '/api/v1/tokens')).body.items.map((t: { name: string }) => t.name).sort();
    assert.ok(seen.includes('etl-bot') && seen.includes('v') && !seen.includes('admin'), JSON.stringify(seen));
    const adminId = (await s.api('GET', '/api/v1/tokens')).body.items.find((t: { name: string }) => t.name === 'admin').id;
    assert.equal((await as(owner.token)('DELETE', `/api/v1/tokens/${adminId}`)).status, 404, "the admin token is outside a workspace owner's reach");
  });

  it('bad input: a workspace role without a workspace, an organization role with one, an unknown role', async () => {
    for (const [body, field] of [
      [{ name: 'x', role: 'workspace-operator' }, 'body.workspace'],
      [{ name: 'x', role: 'organization-member', workspace: 'data-eng' }, 'body.workspace'],
      [{ name: 'x', role: 'deployment-admin' }, 'body.deployment'],
      [{ name: 'x', role: 'root' }, 'body.role'],
      [{ name: 'x', role: 'workspace-viewer', workspace: 'data-eng', expiresIn: 'soon' }, 'body.expiresIn'],
    ] as const) {
      const r = await s.api('POST', '/api/v1/tokens', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
      assert.ok(r.body.error.example !== undefined, 'with an example');
    }
  });

  it('GET /api/v1/tokens/self: each role reads its own token, scope and exactly the permissions the matrix gives it', async () => {
    const cases: [Record<string, unknown>, string | null, string | null][] = [
      [{ name: 'self-member', role: 'organization-member' }, null, null],
      [{ name: 'self-viewer', role: 'workspace-viewer', workspace: 'data-eng', expiresIn: '1d' }, 'data-eng', null],
      [{ name: 'self-admin', role: 'deployment-admin', workspace: 'data-eng', deployment: 'etl' }, 'data-eng', 'etl'],
    ];
    for (const [body, workspace, deployment] of cases) {
      const t = await mint(body);
      const r = await as(t.token)('GET', '/api/v1/tokens/self');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const role = body.role as Role;
      assert.deepEqual(
        [r.body.id, r.body.name, r.body.role, r.body.workspaceName, r.body.deploymentName, r.body.expiresAt],
        [t.id, body.name, role, workspace, deployment, t.expiresAt],
      );
      assert.deepEqual(r.body.permissions, (Object.keys(PERMISSIONS) as Permission[]).filter((p) => roleAllows(role, p)));
      assert.equal(JSON.stringify(r.body).includes(t.token.slice(25)), false, 'never the secret');
    }
    assert.equal((await s.api('GET', '/api/v1/tokens/self', undefined, { auth: false })).status, 401);
  });

  it('CLI: token create (short role with --workspace) -o json, list, rotate, revoke', async () => {
    const env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    const c = await airlock(['token', 'create', '--name', 'cli-op', '--workspace', 'data-eng', '--role', 'operator', '--expires-in', '90d', '-o', 'json'], env);
    assert.equal(c.code, 0, c.stderr);
    const t = JSON.parse(c.stdout);
    assert.equal(t.role, 'workspace-operator');
    assert.match(t.token, /^alk_/);
    const l = await airlock(['token', 'list', '--workspace', 'data-eng'], env);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, new RegExp(`cli-op\\s+${t.id}\\s+workspace-operator\\s+data-eng\\s`));
    assert.equal(l.stdout.includes(t.token), false);
    const who = await airlock(['whoami'], { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: t.token });
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, new RegExp(`^cli-op \\(${t.id}\\)\nrole: +workspace-operator\nscope: +data-eng\nexpires: +${t.expiresAt}\npermissions: .*deployment\\.write`));
    const r = await airlock(['token', 'rotate', t.id, '--overlap', '5m'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /shown once[\s\S]*alk_[\s\S]*previous secret works until/);
    const v = await airlock(['token', 'revoke', t.id, '-o', 'json'], env);
    assert.equal(JSON.parse(v.stdout).status, 'revoked');
    const bad = await airlock(['token', 'create', '--name', 'x', '--role', 'operator'], env);
    assert.equal(bad.code, 2, 'operator without --workspace is a usage error');
    assert.match(bad.stderr, /--role operator is not a role of the organization/);
  });
});
