import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';
import { startPostgres } from '../helpers/postgres.ts';

const AZ = {
  managedIdentityName: 'blob-mi',
  resourceGroup: 'data-rg',
  subscriptionId: '11111111-2222-3333-4444-555555555555',
  clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  tenantId: '99999999-8888-7777-6666-555555555555',
};

/** On PostgreSQL, where requests really run in parallel sessions. */
describe('Azure capacity under concurrent attaches (PostgreSQL)', () => {
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  let s: TestServer;
  before(async () => {
    pg = await startPostgres();
    s = await startServer({ flags: { databaseUrl: pg.url } });
  });
  after(async () => {
    await s?.close();
    await pg?.stop();
  });

  it('two saved names for one managed identity cannot together exceed its three Deployments', async () => {
    assert.equal((await s.api('POST', '/api/v1/clusters', { name: 'prod-azure', cloud: 'azure', region: 'eastus' })).status, 201);
    for (const name of ['mi-a', 'mi-b']) assert.equal((await s.api('PUT', '/api/v1/identities', { name, azure: AZ })).status, 200);
    const create = (name: string, identity: string) =>
      s.api('POST', '/api/v1/deployments', { name, cluster: 'prod-azure', runtimeVersion: '12.1.0', workloadIdentity: identity });
    assert.equal((await create('d1', 'mi-a')).status, 201);
    assert.equal((await create('d2', 'mi-b')).status, 201);
    // One slot left; two writers race for it through different saved names. A barrier before the
    // insert makes the race certain: each writer has counted the identity's users and waits there
    // until the other has too (or 500 ms pass, which is what happens when the other is blocked on
    // the identity lock, i.e. when the check is correctly serialised).
    let waiting: (() => void)[] = [];
    const barrier = () =>
      new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === 2) {
          waiting.forEach((r) => r());
          waiting = [];
        } else {
          setTimeout(() => {
            waiting = waiting.filter((r) => r !== resolve);
            resolve();
          }, 500);
        }
      });
    const store = s.app.store;
    const transaction = store.transaction.bind(store);
    store.transaction = (fn) =>
      transaction((tx) => fn({ ...tx, deployments: { ...tx.deployments, insert: async (d) => (await barrier(), tx.deployments.insert(d)) } }));
    for (let round = 0; round < 3; round++) {
      const [x, y] = await Promise.all([create(`x${round}`, 'mi-a'), create(`y${round}`, 'mi-b')]);
      const statuses = [x.status, y.status].sort();
      if (round === 0) assert.deepEqual(statuses, [201, 422], 'exactly one takes the last slot');
      else assert.deepEqual(statuses, [422, 422], 'the identity is full');
    }
    const using = (await s.api('GET', '/api/v1/deployments?cluster=prod-azure&limit=100')).body.items.length;
    assert.equal(using, 3);
  });
});

describe('first start of several replicas on one empty PostgreSQL', () => {
  it('creates one default organization and workspace, and every replica agrees on them', async () => {
    const pg = await startPostgres();
    const { createStore } = await import('../../src/store/store.ts');
    const { ensureDefaultTenancy } = await import('../../src/tenancy/service.ts');
    const { systemClock } = await import('../../src/lib/clock.ts');
    const stores = await Promise.all([0, 1, 2].map(() => createStore({ databaseUrl: pg.url })));
    try {
      const results = await Promise.all(stores.map((st) => ensureDefaultTenancy(st, systemClock)));
      assert.equal(new Set(results.map((r) => r.organization.id)).size, 1);
      assert.equal(new Set(results.map((r) => r.workspace.id)).size, 1);
      assert.equal((await stores[0]!.organizations.list()).length, 1);
    } finally {
      await Promise.all(stores.map((st) => st.close()));
      await pg.stop();
    }
  });
});
