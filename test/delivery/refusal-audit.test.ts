import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JOIN_CREDENTIAL_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../../src/delivery/profile.ts';
import type { AuditEventRecord } from '../../src/domain/records.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';

/**
 * Refusals of workload credentials in the audit log: every grant is recorded, refusals paced (one
 * record per credential, or per cluster for made-up ones, per minute), so a flood of bad requests
 * cannot fill the log, and a stale or leaked credential that names a stored one is still named.
 */
describe('audit records of refused workload credentials', () => {
  const clock = createManualClock(Date.UTC(2026, 11, 6, 9));
  let s: TestServer;
  let clusterId: string;
  const ROLE = 'arn:aws:iam::123456789012:role/etl-reader';

  before(async () => {
    s = await startServer({ clock });
    const c = await s.api('POST', '/api/v1/clusters', { name: 'one', cloud: 'aws', region: 'us-east-1' });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    clusterId = c.body.id;
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'one', runtimeVersion: '12.1.0', workloadIdentity: ROLE })).status, 201);
  });
  after(() => s.close());

  const credential = async () => {
    const r = await s.api('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { id: string; secret: string };
  };
  const exchange = async (secret: string) => {
    const res = await fetch(`${s.url}/clusters/${clusterId}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([
        ['grant_type', TOKEN_EXCHANGE_GRANT_TYPE],
        ['subject_token', secret],
        ['subject_token_type', JOIN_CREDENTIAL_TOKEN_TYPE],
        ['audience', 'sts.amazonaws.com'],
      ]).toString(),
    });
    return { status: res.status, body: (await res.json()) as { error?: string } };
  };
  const profile = (secret: string) => s.api('GET', '/api/v1/workload/profile', undefined, { auth: false, headers: { authorization: `Bearer ${secret}` } });
  /** Records written since `seq`, of one action. */
  const since = async (seq: number, action: string): Promise<AuditEventRecord[]> => {
    await s.app.audit.flush();
    return (await s.app.store.audit.list({ afterSeq: seq, limit: 10_000 })).filter((r) => r.action === action);
  };
  const head = async () => {
    await s.app.audit.flush();
    return (await s.app.store.audit.head())?.seq ?? 0;
  };
  const madeUp = (i: number) => `alj_${String(i).padStart(20, '0')}_${'A'.repeat(43)}`;

  it('a flood of made-up join credentials at the token endpoint leaves one record a minute, counting the rest', async () => {
    const start = await head();
    for (let i = 0; i < 20; i++) assert.equal((await exchange(madeUp(i))).body.error, 'invalid_grant');
    let recs = await since(start, 'token.exchange');
    assert.deepEqual(
      recs.map((r) => [r.actorType, r.targetType, r.targetId, r.result, r.details.suppressed]),
      [['anonymous', 'cluster', clusterId, 'invalid_grant', 0]],
    );
    clock.advance(60_000);
    assert.equal((await exchange(madeUp(99))).body.error, 'invalid_grant');
    recs = await since(start, 'token.exchange');
    assert.deepEqual(recs.map((r) => r.details.suppressed), [0, 19]);
  });

  it('every grant is recorded, however many', async () => {
    const c = await credential();
    const start = await head();
    for (let i = 0; i < 5; i++) assert.equal((await exchange(c.secret)).status, 200);
    const recs = await since(start, 'token.exchange');
    assert.deepEqual(recs.map((r) => [r.actorId, r.result]), Array(5).fill([c.id, 'success']));
  });

  it('a revoked credential is named in the refusals of the exchange and of the profile, each paced on its own', async () => {
    const c = await credential();
    assert.equal((await s.api('DELETE', `/api/v1/deployments/etl/credentials/${c.id}`)).status, 200);
    const start = await head();
    for (let i = 0; i < 3; i++) assert.equal((await exchange(c.secret)).body.error, 'invalid_grant');
    for (let i = 0; i < 3; i++) assert.equal((await profile(c.secret)).status, 401);
    const ex = await since(start, 'token.exchange');
    assert.deepEqual(
      ex.map((r) => [r.actorType, r.targetType, r.targetId, r.targetName, r.result, r.details.refusal]),
      [['anonymous', 'credential', c.id, 'etl/worker', 'invalid_grant', 'revoked']],
    );
    const pr = await since(start, 'workload.authenticate');
    assert.deepEqual(
      pr.map((r) => [r.actorType, r.targetType, r.targetId, r.result, r.details.reason, r.source]),
      [['anonymous', 'credential', c.id, 'ERR_UNAUTHENTICATED', 'revoked', '127.0.0.1']],
    );
    assert.ok(pr[0]!.requestId, 'the record names the request');
    // A wrong secret for a stored id is named too; a made-up id at the profile endpoint is not recorded.
    const live = await credential();
    const wrong = `alj_${live.id.slice(3)}_${'B'.repeat(43)}`;
    assert.equal((await profile(wrong)).status, 401);
    assert.equal((await profile(madeUp(7))).status, 401);
    const after = await since(start, 'workload.authenticate');
    assert.deepEqual(after.slice(1).map((r) => [r.targetId, r.details.reason]), [[live.id, 'wrong-secret']]);
    // No record holds a presented secret.
    const all = JSON.stringify(await s.app.store.audit.list({ limit: 100_000 }));
    for (const secret of [c.secret, live.secret, wrong]) assert.equal(all.includes(secret.slice(25)), false);
  });
});
