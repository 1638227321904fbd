import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { masterKeyFingerprint } from '../../src/crypto/envelope.ts';
import { JOIN_CREDENTIAL_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../../src/delivery/profile.ts';
import { SEALED_COLUMNS, type SealedTable } from '../../src/store/repos.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

const key = () => randomBytes(32).toString('base64');

/**
 * Rotating the master key while the server keeps working: start with the new key and the old one
 * as previous, rewrap, drop the old one. On both stores, with every kind of sealed value.
 */
for (const kind of ['embedded', 'postgres'] as const) {
  describe(`master-key rotation (${kind} store)`, () => {
    const K1 = key();
    const K2 = key();
    const fp = (k: string) => masterKeyFingerprint(Buffer.from(k, 'base64'));
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-rekey-'));
    let pg: TestPostgres | undefined;
    let s: TestServer | undefined;
    let cluster: string;
    let credential: string;
    let issued: string;
    let deploymentId: string;
    const metastorePassword = async () => (await s!.app.connections.metastoreConnections(deploymentId))[0]?.fields.password;
    const start = async (env: Record<string, string>) => {
      s = await startServer({ dataDir, env, ...(pg ? { flags: { databaseUrl: pg.url } } : {}) });
      return s;
    };
    const stop = async () => {
      await s?.close({ keepData: true });
      s = undefined;
    };
    const exchange = async () => {
      const form = new URLSearchParams([['grant_type', TOKEN_EXCHANGE_GRANT_TYPE], ['subject_token', credential], ['subject_token_type', JOIN_CREDENTIAL_TOKEN_TYPE], ['audience', 'sts.amazonaws.com']]);
      const res = await fetch(`${s!.url}/clusters/${cluster}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      const body = (await res.json()) as { access_token?: string; error_description?: string };
      assert.equal(res.status, 200, body.error_description);
      return body.access_token!;
    };
    /** What a workload receives: its secret variables and connection passwords, in clear. */
    const workloadSecrets = async () => {
      const r = await s!.api('GET', '/api/v1/workload/environment', undefined, { auth: false, headers: { authorization: `Bearer ${credential}` } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const doc = r.body as { variables: { key: string; value: string }[]; connections: { connId: string; fields: { password: string | null } }[] };
      return {
        variables: Object.fromEntries(doc.variables.map((v) => [v.key, v.value])),
        passwords: Object.fromEntries(doc.connections.map((c) => [c.connId, c.fields.password])),
      };
    };
    const sealedUnder = async () => {
      const out: Record<string, number> = {};
      for (const table of Object.keys(SEALED_COLUMNS) as SealedTable[]) {
        for (const r of await s!.app.store.sealed.list(table)) {
          const f = r.value.split('.')[1]!;
          out[f] = (out[f] ?? 0) + 1;
        }
      }
      return out;
    };

    before(async () => {
      if (kind === 'postgres') pg = await startPostgres();
      await start({ AIRLOCK_MASTER_KEY: K1 });
      const c = await s!.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1' });
      cluster = c.body.id;
      assert.equal((await s!.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/etl-reader' })).status, 201);
      const v = await s!.api('POST', '/api/v1/deployments/etl/variables', {
        variables: [
          { key: 'WAREHOUSE_PASSWORD', value: 'hunter2-before', secret: true },
          { key: 'API_KEY', value: 'k-123', secret: true },
        ],
      });
      assert.equal(v.status, 201, JSON.stringify(v.body));
      const conn = await s!.api('POST', '/api/v1/connections', { connId: 'lake_db', connType: 'postgres', host: 'db.example.com', login: 'etl', password: 'pg-secret' });
      assert.equal(conn.status, 201, JSON.stringify(conn.body));
      assert.equal((await s!.api('POST', '/api/v1/connections/lake_db/link', { deployment: 'etl', overrides: { password: 'pg-override' } })).status, 200);
      const imported = await s!.api('POST', '/api/v1/connections/import', { deployment: 'etl', format: 'json', content: JSON.stringify({ legacy_pg: { conn_type: 'postgres', host: 'h2', login: 'u', password: 'meta-secret' } }) });
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      deploymentId = (await s!.api('GET', '/api/v1/deployments/etl')).body.id;
      credential = (await s!.api('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' })).body.secret;
      issued = await exchange();
      await stop();
    });
    after(async () => {
      await stop();
      await pg?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('the new key alone cannot open the store: refused at start, naming the key it needs and how to supply it', async () => {
      await assert.rejects(start({ AIRLOCK_MASTER_KEY: K2 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_MASTER_KEY');
        assert.match(err.message, new RegExp(`sealed under master key ${fp(K1)}, but the server has master key ${fp(K2)}`));
        assert.match(err.message, /AIRLOCK_MASTER_KEY_PREVIOUS/);
        return true;
      });
      await assert.rejects(start({ AIRLOCK_MASTER_KEY: K2, AIRLOCK_MASTER_KEY_PREVIOUS: 'not-a-key' }), /AIRLOCK_MASTER_KEY_PREVIOUS \(key 1\) must hold 32 random bytes/);
    });

    it('with the old key as previous it serves everything, reports what the old key seals, and rewraps it all', async () => {
      await start({ AIRLOCK_MASTER_KEY: K2, AIRLOCK_MASTER_KEY_PREVIOUS: `${key()}, ${K1}` });
      await exchange();
      assert.deepEqual(await workloadSecrets(), { variables: { WAREHOUSE_PASSWORD: 'hunter2-before', API_KEY: 'k-123' }, passwords: { lake_db: 'pg-override' } });

      const before = await s!.api('GET', '/api/v1/master-key');
      assert.equal(before.status, 200);
      assert.equal(before.body.fingerprint, fp(K2));
      assert.ok(before.body.previous.includes(fp(K1)));
      assert.deepEqual(before.body.sealed.signing_keys, { [fp(K1)]: 1 });
      assert.deepEqual(before.body.sealed.deployment_variables, { [fp(K1)]: 2 });
      assert.deepEqual(before.body.sealed.connections, { [fp(K1)]: 1 });
      assert.deepEqual(before.body.sealed.connection_links, { [fp(K1)]: 1 });
      assert.deepEqual(before.body.sealed.metastore_connections, { [fp(K1)]: 1 });
      assert.deepEqual(before.body.sealed.settings, { [fp(K1)]: 1 });
      assert.equal(before.body.underPrevious, 7);
      assert.equal(await metastorePassword(), 'meta-secret');
      assert.equal(before.body.underUnknown, 0);
      assert.ok(!JSON.stringify(before.body).includes(K1) && !JSON.stringify(before.body).includes(K2), 'fingerprints, never keys');

      // Written during the rotation: sealed under the new key at once.
      assert.equal((await s!.api('PATCH', '/api/v1/deployments/etl/variables/WAREHOUSE_PASSWORD', { value: 'hunter2-during' })).status, 200);
      const member = (await s!.api('POST', '/api/v1/tokens', { name: 'member', role: 'organization-member' })).body.token as string;
      const refused = await s!.api('POST', '/api/v1/master-key/rewrap', undefined, { auth: false, headers: { authorization: `Bearer ${member}` } });
      assert.equal(refused.status, 403);

      const r = await s!.api('POST', '/api/v1/master-key/rewrap');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.rewrapped, { signing_keys: 1, deployment_variables: 1, connections: 1, connection_links: 1, metastore_connections: 1, settings: 1 });
      assert.equal(r.body.status.underPrevious, 0);
      assert.deepEqual(await sealedUnder(), { [fp(K2)]: 6 });
      assert.equal((await s!.api('POST', '/api/v1/master-key/rewrap')).body.rewrapped.signing_keys, 0, 'a second run has nothing to do');
      await s!.app.audit.flush();
      assert.ok((await s!.app.store.audit.list({ limit: 1000 })).some((e) => e.action === 'master-key.rewrap' && e.result === 'success'));
      await stop();
    });

    it('afterwards the new key alone serves the same secrets and keys, and the old key alone is refused', async () => {
      await start({ AIRLOCK_MASTER_KEY: K2 });
      assert.deepEqual(await workloadSecrets(), { variables: { WAREHOUSE_PASSWORD: 'hunter2-during', API_KEY: 'k-123' }, passwords: { lake_db: 'pg-override' } });
      assert.equal(await metastorePassword(), 'meta-secret');
      const jwks = (await (await fetch(`${s!.url}/clusters/${cluster}/openid/v1/jwks`)).json()) as never;
      // The signing key itself did not change: a token issued before the rotation still verifies.
      await jwtVerify(issued, createLocalJWKSet(jwks), { audience: 'sts.amazonaws.com' });
      await jwtVerify(await exchange(), createLocalJWKSet(jwks), { audience: 'sts.amazonaws.com' });
      const status = await s!.api('GET', '/api/v1/master-key');
      assert.deepEqual(status.body.previous, []);
      await stop();
      await assert.rejects(start({ AIRLOCK_MASTER_KEY: K1 }), { code: 'ERR_MASTER_KEY' });
    });

    it('a value changed while the rewrap read it is left as written (compare-and-set)', async () => {
      await start({ AIRLOCK_MASTER_KEY: K2 });
      const [row] = await s!.app.store.sealed.list('deployment_variables');
      assert.ok(row);
      assert.equal(await s!.app.store.sealed.replace('deployment_variables', row.keys, `${row.value}-stale`, 'v1.x.y'), false);
      assert.equal((await s!.app.store.sealed.list('deployment_variables')).find((r) => r.keys.join() === row.keys.join())?.value, row.value);
      await stop();
    });
  });
}
