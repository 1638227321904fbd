/**
 * The store contract: one suite, run against every store Airlock can open — the embedded store
 * (SQLite) in memory, the embedded store on a data dir (reopened to prove persistence), and a real
 * PostgreSQL server from test/helpers/postgres.ts. Whatever passes here may be relied on by domain code
 * whichever store the operator picked.
 *
 * Each target shares one store across its tests and
 * every test works on its own ids and names; only tests that need an empty world (pagination over
 * the global cluster list, listAll) open a fresh location.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AppError } from '../../src/errors/index.ts';
import { migrations } from '../../src/store/migrations/index.ts';
import type { ApiTokenRecord, AuditEventRecord, JoinCredentialRecord, Cluster, Deployment, Organization, SavedIdentity, SigningKeyRecord, Workspace, ConnectionRecord, MetastoreConnectionRecord } from '../../src/domain/records.ts';
import { createStore, type Store } from '../../src/store/store.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

// ---------------------------------------------------------------------------------------------
// Targets

/** One place a store lives; `open()` may be called again after `close()` when `persistent`. */
interface Location {
  open(): Promise<Store>;
  /** Sessions of this database waiting on a row lock (PostgreSQL only: the embedded store has one connection). */
  lockWaiters?(): Promise<number>;
  /** Cuts every server session of this database, as a server restart or failover would. */
  dropConnections?(): Promise<void>;
}

interface Target {
  name: string;
  persistent: boolean;
  /** Whether the store talks to a server over sessions that can be lost (PostgreSQL). */
  serverSessions: boolean;
  setup(): Promise<void>;
  /** A new, empty location. */
  location(): Promise<Location>;
  teardown(): Promise<void>;
}

function embeddedInMemory(): Target {
  return {
    name: 'embedded (SQLite in memory)',
    persistent: false,
    serverSessions: false,
    setup: async () => {},
    location: async () => ({ open: () => createStore({}) }),
    teardown: async () => {},
  };
}

function embeddedOnDisk(): Target {
  const dirs: string[] = [];
  return {
    name: 'embedded (SQLite on a data dir)',
    persistent: true,
    serverSessions: false,
    setup: async () => {},
    async location() {
      const dataDir = mkdtempSync(join(tmpdir(), 'airlock-store-'));
      dirs.push(dataDir);
      return { open: () => createStore({ dataDir }) };
    },
    async teardown() {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

function postgres(): Target {
  let server: TestPostgres | undefined;
  const withAdmin = async <T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'PostgreSQL',
    persistent: true,
    serverSessions: true,
    async setup() {
      // No skip when PostgreSQL is missing: the helper throws and says what to install.
      server = await startPostgres();
    },
    async location() {
      const url = await server!.createDatabase();
      return {
        open: () => createStore({ databaseUrl: url }),
        lockWaiters: () =>
          withAdmin(url, async (c) => {
            const r = await c.query<{ n: number }>(
              "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
            );
            return r.rows[0]!.n;
          }),
        dropConnections: () =>
          withAdmin(url, async (c) => {
            await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
            // pg_terminate_backend only signals: a backend may still answer a query before it exits
            // (seen on a loaded machine). Wait until they are all gone, as after a real restart.
            for (let i = 0; i < 500; i++) {
              const r = await c.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
              if (r.rows[0]!.n === 0) return;
              await new Promise((res) => setTimeout(res, 10));
            }
            throw new Error('terminated backends did not exit within 5 s');
          }),
      };
    },
    async teardown() {
      await server?.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fixtures: fixed instants with odd milliseconds, so a store that drops them is caught.

const T0 = Date.UTC(2031, 4, 17, 8, 30, 12, 345);
const at = (ms: number) => new Date(T0 + ms);

let seq = 0;
/** A fresh id of the server's shape (`cl_…`); ids sort in creation order. */
const id = (prefix: string) => `${prefix}_${(++seq).toString(36).padStart(20, '0')}`;

function org(o: Partial<Organization> = {}): Organization {
  const i = id('org');
  return { id: i, name: `org-${i}`, createdAt: at(1), ...o };
}

function workspace(organizationId: string, w: Partial<Workspace> = {}): Workspace {
  const i = id('ws');
  return { id: i, organizationId, name: `ws-${i}`, createdAt: at(2), ...w };
}

function cluster(organizationId: string, c: Partial<Cluster> = {}): Cluster {
  const i = id('cl');
  return {
    id: i,
    organizationId,
    name: `cluster-${i.slice(-6)}-${seq}`,
    cloud: 'aws',
    type: 'standard',
    region: 'us-east-1',
    issuerMode: 'airlock',
    kubernetesIssuerUrl: null,
    kubernetesCaCert: null,
    audiences: [],
    defaultIdentityAccount: null,
    defaultIdentityProject: null,
    defaultIdentityProjectNumber: null,
    createdAt: at(3),
    updatedAt: at(4),
    ...c,
  };
}

function signingKey(clusterId: string, k: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  const kid = `kid-${++seq}`;
  return {
    clusterId,
    kid,
    alg: 'RS256',
    publicJwk: { kty: 'RSA', n: 'sXch', e: 'AQAB', kid, use: 'sig', alg: 'RS256' },
    privateKeyEnc: `v1.enc.${kid}`,
    createdAt: at(10),
    publishAt: at(11),
    activateAt: at(12),
    maxTokenTtlSeconds: 3600,
    revokedAt: null,
    ...k,
  };
}

function apiToken(t: Partial<ApiTokenRecord> = {}): ApiTokenRecord {
  const i = id('tok');
  return {
    id: i,
    name: `token ${i}`,
    secretHash: 'ab'.repeat(32),
    createdAt: at(20),
    lastUsedAt: null,
    revokedAt: null,
    role: 'organization-owner',
    workspaceId: null,
    deploymentId: null,
    expiresAt: null,
    createdBy: null,
    rotatedAt: null,
    previousSecretHash: null,
    previousSecretExpiresAt: null,
    ...t,
  };
}

function savedIdentity(workspaceId: string, i: Partial<SavedIdentity> = {}): SavedIdentity {
  const n = id('wid');
  return {
    id: n,
    workspaceId,
    name: `identity-${seq}`,
    spec: { cloud: 'aws', roleArn: `arn:aws:iam::123456789012:role/${n}` },
    createdAt: at(30),
    updatedAt: at(31),
    ...i,
  };
}

function deployment(workspaceId: string, clusterId: string, d: Partial<Deployment> = {}): Deployment {
  const n = id('dep');
  return {
    id: n,
    workspaceId,
    clusterId,
    name: `deployment-${seq}`,
    description: '',
    runtimeVersion: '12.1.0',
    namespace: `ns-${seq}`,
    identitySpec: null,
    identityId: null,
    createdAt: at(40),
    updatedAt: at(41),
    ...d,
  };
}

/** An organization, workspace and cluster already in the store, for Deployments and identities. */
async function seedWorkspace(store: Store): Promise<{ o: Organization; w: Workspace; c: Cluster }> {
  const o = await seedOrg(store);
  const w = workspace(o.id);
  await store.workspaces.insert(w);
  const c = cluster(o.id);
  await store.clusters.insert(c);
  return { o, w, c };
}

/** A new organization already in the store, for records that need one. */
async function seedOrg(store: Store): Promise<Organization> {
  const o = org();
  await store.organizations.insert(o);
  return o;
}

async function rejectsWithAppError(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (field !== undefined) assert.equal(err.field, field);
    return true;
  });
}

/** Resolves once `check()` is true; the test's own timeout bounds it. Only for conditions that must come true. */
async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 10));
}

const yieldToEventLoop = () => new Promise((r) => setImmediate(r));

// ---------------------------------------------------------------------------------------------
// The contract

for (const target of [embeddedInMemory(), embeddedOnDisk(), postgres()]) {
  describe(`store contract: ${target.name}`, { timeout: 600_000 }, () => {
    let loc: Location;
    let store: Store;

    /** Runs `fn` on a store of its own, empty, closed afterwards. */
    async function withFreshStore(fn: (s: Store) => Promise<void>): Promise<void> {
      const l = await target.location();
      const s = await l.open();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    }

    before(async () => {
      await target.setup();
      loc = await target.location();
      store = await loc.open();
    });

    after(async () => {
      await store?.close();
      await target.teardown();
    });

    describe('migrations', () => {
      test('a new store has every migration applied, in order', async () => {
        assert.deepEqual(await store.appliedMigrations(), Object.keys(migrations));
        assert.ok((await store.appliedMigrations()).includes('0001_foundation'));
      });

      test('reopening the same database applies nothing twice and keeps the data', { skip: !target.persistent && 'an in-memory store cannot be reopened' }, async () => {
        const l = await target.location();
        const first = await l.open();
        const o = await seedOrg(first);
        const before = await first.appliedMigrations();
        await first.close();

        // Re-running 0001 would fail on "relation already exists"; opening again must not try.
        const second = await l.open();
        try {
          assert.deepEqual(await second.appliedMigrations(), before);
          assert.deepEqual(await second.organizations.get(o.id), o);
        } finally {
          await second.close();
        }
        const third = await l.open();
        try {
          assert.deepEqual(await third.appliedMigrations(), Object.keys(migrations));
          assert.equal(await third.organizations.list().then((all) => all.filter((x) => x.id === o.id).length), 1);
        } finally {
          await third.close();
        }
      });
    });

    describe('organizations', () => {
      test('insert, get, list in creation order', async () => {
        const later = org({ createdAt: at(500) });
        const earlier = org({ createdAt: at(499) });
        await store.organizations.insert(later);
        await store.organizations.insert(earlier);
        assert.deepEqual(await store.organizations.get(later.id), later);
        assert.equal(await store.organizations.get('org_missing'), undefined);
        const mine = (await store.organizations.list()).filter((o) => o.id === later.id || o.id === earlier.id);
        assert.deepEqual(mine, [earlier, later]);
      });
    });

    describe('workspaces', () => {
      test('insert, get, list only the organization’s own, in creation order', async () => {
        const a = await seedOrg(store);
        const b = await seedOrg(store);
        const w2 = workspace(a.id, { createdAt: at(601) });
        const w1 = workspace(a.id, { createdAt: at(600) });
        const other = workspace(b.id);
        for (const w of [w2, w1, other]) await store.workspaces.insert(w);
        assert.deepEqual(await store.workspaces.get(w1.id), w1);
        assert.equal(await store.workspaces.get('ws_missing'), undefined);
        assert.deepEqual(await store.workspaces.list(a.id), [w1, w2]);
        assert.deepEqual(await store.workspaces.list(b.id), [other]);
        assert.deepEqual(await store.workspaces.list('org_nobody'), []);
      });
    });

    describe('clusters', () => {
      test('insert, get, getByName return the record as written', async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id, { cloud: 'gcp', type: 'dedicated', issuerMode: 'kubernetes', kubernetesIssuerUrl: 'https://container.googleapis.com/v1/x' });
        await store.clusters.insert(c);
        assert.deepEqual(await store.clusters.get(c.id), c);
        assert.deepEqual(await store.clusters.getByName(c.name), c);
        assert.equal(await store.clusters.get('cl_missing'), undefined);
        assert.equal(await store.clusters.getByName('no-such-cluster'), undefined);
      });

      test('a duplicate name is ERR_CONFLICT on name and leaves the first row intact', async () => {
        const o = await seedOrg(store);
        const first = cluster(o.id);
        await store.clusters.insert(first);
        const dup = cluster(o.id, { name: first.name, region: 'eu-central-1' });
        await rejectsWithAppError(store.clusters.insert(dup), 'ERR_CONFLICT', 'name');
        assert.deepEqual(await store.clusters.get(first.id), first);
        assert.equal(await store.clusters.get(dup.id), undefined);
        assert.deepEqual(await store.clusters.getByName(first.name), first);
      });

      test('list pages by id with opaque cursors; the last page has none', async () => {
        await withFreshStore(async (s) => {
          const o = await seedOrg(s);
          const cs = Array.from({ length: 7 }, () => cluster(o.id));
          // Inserted out of order: the order must come from the ids, not from insertion.
          for (const i of [4, 0, 6, 2, 5, 1, 3]) await s.clusters.insert(cs[i]!);

          const p1 = await s.clusters.list({ limit: 3 });
          assert.deepEqual(p1.items, cs.slice(0, 3));
          assert.ok(p1.nextCursor);
          assert.ok(!p1.nextCursor.includes(cs[2]!.id), 'the cursor is opaque, not the raw id');
          const p2 = await s.clusters.list({ limit: 3, cursor: p1.nextCursor });
          assert.deepEqual(p2.items, cs.slice(3, 6));
          assert.ok(p2.nextCursor);
          const p3 = await s.clusters.list({ limit: 3, cursor: p2.nextCursor });
          assert.deepEqual(p3.items, cs.slice(6));
          assert.equal(p3.nextCursor, undefined);

          // Exactly a page's worth left: no cursor to an empty page.
          assert.equal(await s.clusters.delete(cs[6]!.id), true);
          const again = await s.clusters.list({ limit: 3, cursor: p1.nextCursor });
          assert.deepEqual(again.items, cs.slice(3, 6));
          assert.equal(again.nextCursor, undefined);

          assert.deepEqual(await s.clusters.list({ limit: 10 }), { items: cs.slice(0, 6) });
          assert.deepEqual(await s.clusters.listAll(), cs.slice(0, 6));
        });
      });

      test('list rejects a cursor it did not issue', async () => {
        await rejectsWithAppError(store.clusters.list({ limit: 3, cursor: 'not a cursor' }), 'ERR_VALIDATION', 'cursor');
        const forged = Buffer.from("cl_x' or 1=1 --", 'utf8').toString('base64url');
        await rejectsWithAppError(store.clusters.list({ limit: 3, cursor: forged }), 'ERR_VALIDATION', 'cursor');
      });

      test('update changes only the patched fields; missing ids give undefined', async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id);
        await store.clusters.insert(c);
        const updated = await store.clusters.update(c.id, { region: 'eu-west-3', updatedAt: at(9_001) });
        let expected: Cluster = { ...c, region: 'eu-west-3', updatedAt: at(9_001) };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await store.clusters.get(c.id), expected);

        const platform = { defaultIdentityAccount: '111122223333', defaultIdentityProject: 'platform-proj', defaultIdentityProjectNumber: '987654321098' };
        expected = { ...expected, ...platform, updatedAt: at(9_002) };
        assert.deepEqual(await store.clusters.update(c.id, { ...platform, updatedAt: at(9_002) }), expected);
        // null clears a platform setting; undefined leaves it alone.
        const cleared = await store.clusters.update(c.id, { defaultIdentityAccount: null, defaultIdentityProject: undefined });
        expected = { ...expected, defaultIdentityAccount: null };
        assert.deepEqual(cleared, expected);
        assert.deepEqual(await store.clusters.get(c.id), expected);

        assert.deepEqual(await store.clusters.update(c.id, {}), expected, 'an empty patch returns the row unchanged');
        assert.equal(await store.clusters.update('cl_missing', { region: 'x', updatedAt: at(1) }), undefined);
        assert.equal(await store.clusters.update('cl_missing', {}), undefined);
      });

      test('delete removes the row once', async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id);
        await store.clusters.insert(c);
        assert.equal(await store.clusters.delete(c.id), true);
        assert.equal(await store.clusters.get(c.id), undefined);
        assert.equal(await store.clusters.getByName(c.name), undefined);
        assert.equal(await store.clusters.delete(c.id), false);
        // The name is free again.
        await store.clusters.insert({ ...c, id: id('cl') });
      });

      test('lock reports whether the cluster exists, inside and outside a transaction', async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id);
        await store.clusters.insert(c);
        assert.equal(await store.clusters.lock(c.id), true);
        assert.equal(await store.clusters.lock('cl_missing'), false);
        assert.deepEqual(
          await store.transaction(async (tx) => [await tx.clusters.lock(c.id), await tx.clusters.lock('cl_missing')]),
          [true, false],
        );
      });

      test('two transactions that lock the same cluster run one after the other', { timeout: 60_000 }, async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id, { region: 'before' });
        await store.clusters.insert(c);

        const events: string[] = [];
        let letAFinish!: () => void;
        const aMayFinish = new Promise<void>((r) => (letAFinish = r));
        let signalALocked!: () => void;
        const aLocked = new Promise<void>((r) => (signalALocked = r));

        const a = store.transaction(async (tx) => {
          assert.equal(await tx.clusters.lock(c.id), true);
          events.push('A locked');
          signalALocked();
          await aMayFinish;
          await tx.clusters.update(c.id, { region: 'written by A', updatedAt: at(77) });
          events.push('A done');
        });
        try {
          await aLocked;
          const b = store.transaction(async (tx) => {
            assert.equal(await tx.clusters.lock(c.id), true);
            events.push('B locked');
            return (await tx.clusters.get(c.id))?.region;
          });

          if (loc.lockWaiters) {
            // PostgreSQL: wait until B's session is seen blocked on the row lock (or, if the lock
            // does not hold, until B got through), so the check below is about order, not luck.
            await until(async () => events.includes('B locked') || (await loc.lockWaiters!()) > 0);
          } else {
            for (let i = 0; i < 50; i++) await yieldToEventLoop();
          }
          assert.deepEqual(events, ['A locked'], 'B must not hold the lock while A does');
          letAFinish();
          await a;
          // B reads after its lock, so it sees what A committed, never the row as it was.
          assert.equal(await b, 'written by A');
          assert.deepEqual(events, ['A locked', 'A done', 'B locked']);
        } finally {
          letAFinish();
          await a.catch(() => {});
        }
      });
    });

    describe('saved identities', () => {
      test('insert, get, getByName within a workspace, list by name; every cloud’s spec round-trips', async () => {
        const { w } = await seedWorkspace(store);
        const { w: otherW } = await seedWorkspace(store);
        const aws = savedIdentity(w.id, { name: 'b-aws' });
        const gcp = savedIdentity(w.id, { name: 'a-gcp', spec: { cloud: 'gcp', serviceAccountEmail: 'etl@proj.iam.gserviceaccount.com', projectNumber: '123456789' } });
        const azure = savedIdentity(w.id, {
          name: 'c-azure',
          spec: {
            cloud: 'azure',
            managedIdentityName: 'mi-etl',
            resourceGroup: 'rg',
            subscriptionId: '00000000-0000-0000-0000-000000000001',
            clientId: '00000000-0000-0000-0000-000000000002',
            tenantId: '00000000-0000-0000-0000-000000000003',
          },
        });
        const elsewhere = savedIdentity(otherW.id, { name: 'b-aws' }); // same name, other workspace: allowed
        for (const i of [aws, gcp, azure, elsewhere]) await store.identities.insert(i);

        assert.deepEqual(await store.identities.get(gcp.id), gcp);
        assert.deepEqual(await store.identities.getByName(w.id, 'b-aws'), aws);
        assert.deepEqual(await store.identities.getByName(otherW.id, 'b-aws'), elsewhere);
        assert.equal(await store.identities.getByName(w.id, 'nope'), undefined);
        assert.equal(await store.identities.get('wid_missing'), undefined);
        assert.deepEqual(await store.identities.list(w.id), [gcp, aws, azure]);
        assert.deepEqual(await store.identities.list(otherW.id), [elsewhere]);
      });

      test('a duplicate name in the workspace is ERR_CONFLICT on name and leaves the first intact', async () => {
        const { w } = await seedWorkspace(store);
        const first = savedIdentity(w.id);
        await store.identities.insert(first);
        const dup = savedIdentity(w.id, { name: first.name });
        await rejectsWithAppError(store.identities.insert(dup), 'ERR_CONFLICT', 'name');
        assert.deepEqual(await store.identities.list(w.id), [first]);
      });

      test('update replaces the spec (even its cloud) and updatedAt; lock and delete report existence', async () => {
        const { w } = await seedWorkspace(store);
        const i = savedIdentity(w.id);
        await store.identities.insert(i);
        const spec = { cloud: 'gcp', serviceAccountEmail: 'x@p.iam.gserviceaccount.com' } as const;
        const expected = { ...i, spec, updatedAt: at(3_000) };
        assert.deepEqual(await store.identities.update(i.id, { spec, updatedAt: at(3_000) }), expected);
        assert.deepEqual(await store.identities.get(i.id), expected);
        assert.equal(await store.identities.update('wid_missing', { spec, updatedAt: at(3_000) }), undefined);

        assert.deepEqual(await store.transaction(async (tx) => [await tx.identities.lock(i.id), await tx.identities.lock('wid_missing')]), [true, false]);
        assert.equal(await store.identities.delete(i.id), true);
        assert.equal(await store.identities.delete(i.id), false);
        assert.equal(await store.identities.get(i.id), undefined);
      });
    });

    describe('join credentials, workload lookups and the audit table', () => {
      const cred = (deploymentId: string, c: Partial<JoinCredentialRecord> = {}): JoinCredentialRecord => ({
        id: id('jc'),
        deploymentId,
        component: 'worker',
        description: 'vm pool',
        secretHash: 'ab'.repeat(32),
        createdAt: at(50),
        expiresAt: at(86_400_000),
        lastUsedAt: null,
        revokedAt: null,
        ...c,
      });

      test('cluster Kubernetes issuer, CA and custom audiences round-trip and update', async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id, { kubernetesIssuerUrl: 'https://oidc.example.com/id/1', kubernetesCaCert: 'PEM', audiences: ['vault.example.com', 'b'] });
        await store.clusters.insert(c);
        assert.deepEqual(await store.clusters.get(c.id), c);
        const u = await store.clusters.update(c.id, { audiences: [], kubernetesIssuerUrl: null, kubernetesCaCert: null });
        assert.deepEqual([u?.audiences, u?.kubernetesIssuerUrl, u?.kubernetesCaCert], [[], null, null]);
      });

      test('credentials: insert, list per Deployment, lookup with the Deployment, touch, revoke one and all, cascade', async () => {
        const { w, c } = await seedWorkspace(store);
        const d1 = deployment(w.id, c.id);
        const d2 = deployment(w.id, c.id);
        for (const d of [d1, d2]) await store.deployments.insert(d);
        const a = cred(d1.id);
        const b = cred(d1.id, { component: 'kpo', createdAt: at(51) });
        const x = cred(d2.id);
        for (const r of [b, a, x]) await store.joinCredentials.insert(r);
        assert.deepEqual(await store.joinCredentials.listForDeployment(d1.id), [a, b]);
        const found = await store.joinCredentials.getForExchange([a.id, x.id, 'jc_missing']);
        assert.deepEqual(found.map((f) => [f.credential, f.deployment]).sort((p, q) => (p[0] as JoinCredentialRecord).id.localeCompare((q[0] as JoinCredentialRecord).id)), [
          [a, { id: d1.id, name: d1.name, namespace: d1.namespace, clusterId: c.id, workspaceId: w.id }],
          [x, { id: d2.id, name: d2.name, namespace: d2.namespace, clusterId: c.id, workspaceId: w.id }],
        ]);
        const v1 = found.find((f) => f.credential.id === a.id)!.profileVersion;
        await store.deployments.update(d1.id, { description: 'changed', updatedAt: at(99) });
        const [after] = await store.joinCredentials.getForExchange([a.id]);
        assert.notEqual(after!.profileVersion, v1, 'a Deployment change moves the profile version');
        await store.joinCredentials.touch([a.id, x.id], at(70));
        assert.deepEqual((await store.joinCredentials.listForDeployment(d1.id))[0]!.lastUsedAt, at(70));
        assert.equal(await store.joinCredentials.revoke(d2.id, a.id, at(80)), undefined, "another Deployment's credential is not revoked through this one");
        assert.deepEqual((await store.joinCredentials.revoke(d1.id, a.id, at(80)))?.revokedAt, at(80));
        assert.deepEqual((await store.joinCredentials.revoke(d1.id, a.id, at(90)))?.revokedAt, at(80), 'revoking twice keeps the first time');
        assert.equal(await store.joinCredentials.revokeAll(d1.id, at(95)), 1);
        await store.deployments.delete(d2.id);
        assert.deepEqual(await store.joinCredentials.getForExchange([x.id]), [], "deleting a Deployment deletes its credentials");
      });

      test('findByNamespaces: exact (cluster, namespace) pairs only', async () => {
        const { w, c } = await seedWorkspace(store);
        const c2 = cluster(c.organizationId);
        await store.clusters.insert(c2);
        const d1 = deployment(w.id, c.id, { namespace: 'alpha-1' });
        const d2 = deployment(w.id, c2.id, { namespace: 'beta-2' });
        for (const d of [d1, d2]) await store.deployments.insert(d);
        const r = await store.deployments.findByNamespaces([{ clusterId: c.id, namespace: 'alpha-1' }, { clusterId: c.id, namespace: 'beta-2' }]);
        assert.deepEqual(r.map((x) => x.deployment.id), [d1.id]);
        assert.deepEqual(await store.deployments.findByNamespaces([]), []);
      });

      test('audit rows round-trip in seq order with their JSON details; head is the newest', async () => {
        await withFreshStore(async (s) => {
          assert.equal(await s.audit.head(), undefined);
          const row = (seq: number, details: Record<string, unknown>): AuditEventRecord => ({
            seq,
            at: at(seq),
            actorType: 'join-credential',
            actorId: 'jc_x',
            actorName: "o'brien \\ \"q\"",
            action: 'token.exchange',
            targetType: 'deployment',
            targetId: 'dep_x',
            targetName: 'etl/worker',
            result: 'success',
            requestId: seq % 2 ? 'r1' : null,
            source: '127.0.0.1',
            details,
            prevHash: 'p'.repeat(64),
            hash: String(seq).padStart(64, '0'),
          });
          const rows = [row(1, { audiences: ['a', 'b'], nested: { n: 1.5, t: true, z: null } }), row(2, {}), row(3, { unicode: 'zürich ✓' })];
          await s.audit.insertMany(rows.slice(0, 2));
          await s.audit.insertMany(rows.slice(2));
          assert.deepEqual(await s.audit.list({ limit: 10 }), rows);
          assert.deepEqual(await s.audit.list({ limit: 10, afterSeq: 1 }), rows.slice(1));
          // Newest first, for a person reading: from the head, or from before a seq.
          assert.deepEqual(await s.audit.list({ limit: 2, newestFirst: {} }), [rows[2], rows[1]]);
          assert.deepEqual(await s.audit.list({ limit: 10, newestFirst: { beforeSeq: 3 } }), [rows[1], rows[0]]);
          assert.deepEqual(await s.audit.head(), { seq: 3, hash: rows[2]!.hash });
          await assert.rejects(s.audit.insertMany([row(3, {})]), 'seq is unique: a second writer with a stale head fails instead of forking the chain');

          // Filters of `audit list`: actor, target id or name, action, and a half-open time window.
          const more = [
            { ...row(4, {}), actorId: 'tok_a', action: 'deployment.update', targetId: 'dep_y', targetName: 'etl' },
            { ...row(5, {}), actorId: 'tok_b', action: 'deployment.update', targetId: 'dep_z', targetName: 'reports' },
            { ...row(6, {}), actorId: 'tok_a', action: 'token.create', targetId: 'tok_c', targetName: 'ci' },
          ];
          await s.audit.insertMany(more);
          const seqs = async (f: Partial<Parameters<Store['audit']['list']>[0]>) => (await s.audit.list({ limit: 100, ...f })).map((r) => r.seq);
          assert.deepEqual(await seqs({ actorId: 'tok_a' }), [4, 6]);
          assert.deepEqual(await seqs({ target: 'etl' }), [4]);
          assert.deepEqual(await seqs({ target: 'dep_z' }), [5]);
          assert.deepEqual(await seqs({ action: 'deployment.update', actorId: 'tok_b' }), [5]);
          assert.deepEqual(await seqs({ since: at(2), until: at(5) }), [2, 3, 4]);
          assert.deepEqual(await seqs({ limit: 2, afterSeq: 2 }), [3, 4]);

          // Retention's primitives: the newest record before an instant, and deleting through a seq.
          assert.deepEqual(await s.audit.lastBefore(at(4)), { seq: 3, hash: rows[2]!.hash });
          assert.equal(await s.audit.lastBefore(at(1)), undefined);
          assert.equal(await s.audit.deleteThrough(3), 3);
          assert.deepEqual(await seqs({}), [4, 5, 6]);
          assert.deepEqual(await s.audit.head(), { seq: 6, hash: more[2]!.hash });
        });
      });
    });

    describe('deployments', () => {
      test('insert, get, getByName round-trip each identity mode: default, inline, saved', async () => {
        const { w, c } = await seedWorkspace(store);
        const saved = savedIdentity(w.id);
        await store.identities.insert(saved);
        const byDefault = deployment(w.id, c.id, { description: 'nightly ETL' });
        const inline = deployment(w.id, c.id, { identitySpec: { cloud: 'gcp', serviceAccountEmail: 'etl@p.iam.gserviceaccount.com', projectNumber: '42' } });
        const bySaved = deployment(w.id, c.id, { identityId: saved.id });
        for (const d of [byDefault, inline, bySaved]) await store.deployments.insert(d);

        for (const d of [byDefault, inline, bySaved]) {
          assert.deepEqual(await store.deployments.get(d.id), d);
          assert.deepEqual(await store.deployments.getByName(w.id, d.name), d);
        }
        assert.equal(await store.deployments.get('dep_missing'), undefined);
        assert.equal(await store.deployments.getByName(w.id, 'nope'), undefined);
        const { w: otherW } = await seedWorkspace(store);
        assert.equal(await store.deployments.getByName(otherW.id, byDefault.name), undefined, 'names are per workspace');
      });

      test('a duplicate name is ERR_CONFLICT on name, a taken namespace ERR_CONFLICT on namespace', async () => {
        const { o, w, c } = await seedWorkspace(store);
        const first = deployment(w.id, c.id);
        await store.deployments.insert(first);
        await rejectsWithAppError(store.deployments.insert(deployment(w.id, c.id, { name: first.name })), 'ERR_CONFLICT', 'name');
        await rejectsWithAppError(store.deployments.insert(deployment(w.id, c.id, { namespace: first.namespace })), 'ERR_CONFLICT', 'namespace');
        assert.deepEqual(await store.deployments.listAll({ clusterId: c.id }), [first]);

        assert.equal(await store.deployments.namespaceTaken(c.id, first.namespace), true);
        assert.equal(await store.deployments.namespaceTaken(c.id, 'ns-free'), false);
        // The same namespace on another cluster is fine.
        const other = cluster(o.id);
        await store.clusters.insert(other);
        assert.equal(await store.deployments.namespaceTaken(other.id, first.namespace), false);
        await store.deployments.insert(deployment(w.id, other.id, { namespace: first.namespace }));
        assert.equal(await store.deployments.namespaceTaken(other.id, first.namespace), true);
      });

      test('a Deployment cannot have both an inline and a saved identity', async () => {
        const { w, c } = await seedWorkspace(store);
        const saved = savedIdentity(w.id);
        await store.identities.insert(saved);
        const both = deployment(w.id, c.id, { identityId: saved.id, identitySpec: { cloud: 'aws', roleArn: 'arn:aws:iam::1:role/x' } });
        await assert.rejects(store.deployments.insert(both));
        assert.equal(await store.deployments.get(both.id), undefined);

        const d = deployment(w.id, c.id, { identityId: saved.id });
        await store.deployments.insert(d);
        await assert.rejects(store.deployments.update(d.id, { identitySpec: { cloud: 'aws', roleArn: 'arn:aws:iam::1:role/x' } }));
        assert.deepEqual(await store.deployments.get(d.id), d);
      });

      test('list pages within a workspace by id, with filters by cluster, identity and name', async () => {
        const { o, w, c } = await seedWorkspace(store);
        const { w: otherW } = await seedWorkspace(store);
        const c2 = cluster(o.id);
        await store.clusters.insert(c2);
        const saved = savedIdentity(w.id);
        await store.identities.insert(saved);
        const names = ['ETL_daily', 'etlXdaily', '100%-sure', 'reports', 'Reporting-eu', 'ml', 'etl_hourly'];
        const ds = names.map((name, i) =>
          deployment(w.id, i % 2 === 0 ? c.id : c2.id, { name, identityId: i === 1 || i === 4 ? saved.id : null }),
        );
        for (const i of [3, 6, 0, 5, 2, 4, 1]) await store.deployments.insert(ds[i]!);
        await store.deployments.insert(deployment(otherW.id, c.id, { name: 'etl_other_workspace' }));

        const p1 = await store.deployments.list(w.id, { limit: 3 });
        assert.deepEqual(p1.items, ds.slice(0, 3));
        const p2 = await store.deployments.list(w.id, { limit: 3, cursor: p1.nextCursor });
        assert.deepEqual(p2.items, ds.slice(3, 6));
        const p3 = await store.deployments.list(w.id, { limit: 3, cursor: p2.nextCursor });
        assert.deepEqual(p3, { items: ds.slice(6) });

        const names_ = (p: { items: Deployment[] }) => p.items.map((d) => d.name);
        assert.deepEqual(names_(await store.deployments.list(w.id, { limit: 10 }, { clusterId: c2.id })), ['etlXdaily', 'reports', 'ml']);
        assert.deepEqual(names_(await store.deployments.list(w.id, { limit: 10 }, { identityId: saved.id })), ['etlXdaily', 'Reporting-eu']);
        assert.deepEqual(names_(await store.deployments.list(w.id, { limit: 10 }, { nameContains: 'REPORT' })), ['reports', 'Reporting-eu'], 'case-insensitive');
        // LIKE wildcards in the search are literal characters.
        assert.deepEqual(names_(await store.deployments.list(w.id, { limit: 10 }, { nameContains: 'etl_' })), ['ETL_daily', 'etl_hourly']);
        assert.deepEqual(names_(await store.deployments.list(w.id, { limit: 10 }, { nameContains: '%' })), ['100%-sure']);
        assert.deepEqual(names_(await store.deployments.list(w.id, { limit: 10 }, { nameContains: '\\' })), []);

        // Filters and cursors together.
        const f1 = await store.deployments.list(w.id, { limit: 1 }, { clusterId: c.id, nameContains: 'etl' });
        assert.deepEqual(names_(f1), ['ETL_daily']);
        const f2 = await store.deployments.list(w.id, { limit: 1, cursor: f1.nextCursor }, { clusterId: c.id, nameContains: 'etl' });
        assert.deepEqual(f2, { items: [ds[6]] });
      });

      test('listAll returns every match, oldest first, honouring each filter', async () => {
        const { o, w, c } = await seedWorkspace(store);
        const c2 = cluster(o.id);
        await store.clusters.insert(c2);
        const saved = savedIdentity(w.id);
        await store.identities.insert(saved);
        const newer = deployment(w.id, c.id, { name: 'newer-etl', createdAt: at(5_002), identityId: saved.id });
        const older = deployment(w.id, c.id, { name: 'older-etl', createdAt: at(5_001) });
        const elsewhere = deployment(w.id, c2.id, { name: 'elsewhere', createdAt: at(5_000), identityId: saved.id });
        for (const d of [newer, older, elsewhere]) await store.deployments.insert(d);

        assert.deepEqual(await store.deployments.listAll({ clusterId: c.id }), [older, newer]);
        assert.deepEqual(await store.deployments.listAll({ identityId: saved.id }), [elsewhere, newer]);
        assert.deepEqual(await store.deployments.listAll({ clusterId: c.id, identityId: saved.id }), [newer]);
        assert.deepEqual(await store.deployments.listAll({ clusterId: c2.id, nameContains: 'ETL' }), []);
        assert.deepEqual(await store.deployments.listAll({ clusterId: c.id, nameContains: 'older' }), [older]);
      });

      test('update changes only the patched fields and can move between identity modes; delete once', async () => {
        const { w, c } = await seedWorkspace(store);
        const saved = savedIdentity(w.id);
        await store.identities.insert(saved);
        const d = deployment(w.id, c.id, { identitySpec: { cloud: 'aws', roleArn: 'arn:aws:iam::1:role/inline' } });
        await store.deployments.insert(d);

        let expected: Deployment = { ...d, description: 'now described', runtimeVersion: '13.0.0', updatedAt: at(6_000) };
        assert.deepEqual(await store.deployments.update(d.id, { description: 'now described', runtimeVersion: '13.0.0', updatedAt: at(6_000) }), expected);
        expected = { ...expected, identitySpec: null, identityId: saved.id, updatedAt: at(6_001) };
        assert.deepEqual(await store.deployments.update(d.id, { identitySpec: null, identityId: saved.id, updatedAt: at(6_001) }), expected);
        expected = { ...expected, identityId: null, updatedAt: at(6_002) };
        assert.deepEqual(await store.deployments.update(d.id, { identityId: null, updatedAt: at(6_002) }), expected);
        assert.deepEqual(await store.deployments.get(d.id), expected);
        assert.deepEqual(await store.deployments.update(d.id, {}), expected);
        assert.equal(await store.deployments.update('dep_missing', { description: 'x' }), undefined);
        assert.equal(await store.deployments.update('dep_missing', {}), undefined);

        assert.equal(await store.deployments.delete(d.id), true);
        assert.equal(await store.deployments.delete(d.id), false);
        assert.equal(await store.deployments.get(d.id), undefined);
        assert.equal(await store.deployments.namespaceTaken(c.id, d.namespace), false);
      });

      test('a cluster or saved identity still used by a Deployment cannot be deleted', async () => {
        const { w, c } = await seedWorkspace(store);
        const saved = savedIdentity(w.id);
        await store.identities.insert(saved);
        const key = signingKey(c.id);
        await store.signingKeys.insert(key);
        const d = deployment(w.id, c.id, { identityId: saved.id });
        await store.deployments.insert(d);

        await assert.rejects(store.clusters.delete(c.id));
        await assert.rejects(store.identities.delete(saved.id));
        assert.deepEqual(await store.clusters.get(c.id), c);
        assert.deepEqual(await store.signingKeys.listForCluster(c.id), [key]);
        assert.deepEqual(await store.identities.get(saved.id), saved);
        assert.deepEqual(await store.deployments.get(d.id), d);
      });
    });

    describe('signing keys', () => {
      test('listForCluster returns every key of that cluster, oldest activation first, millisecond apart', async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id);
        const other = cluster(o.id);
        await store.clusters.insert(c);
        await store.clusters.insert(other);
        const k2 = signingKey(c.id, { activateAt: at(1_002) });
        const k1 = signingKey(c.id, { activateAt: at(1_001) });
        const k3 = signingKey(c.id, { activateAt: at(1_003), revokedAt: at(1_500) });
        // Same activation instant: the one made first comes first, whatever the kids say.
        const k4b = signingKey(c.id, { kid: 'kid-aaa', activateAt: at(1_004), createdAt: at(15) });
        const k4a = signingKey(c.id, { kid: 'kid-zzz', activateAt: at(1_004), createdAt: at(14) });
        const foreign = signingKey(other.id, { activateAt: at(1) });
        for (const k of [k4b, k2, k3, foreign, k4a, k1]) await store.signingKeys.insert(k);

        assert.deepEqual(await store.signingKeys.listForCluster(c.id), [k1, k2, k3, k4a, k4b]);
        assert.deepEqual(await store.signingKeys.listForCluster(other.id), [foreign]);
        assert.deepEqual(await store.signingKeys.listForCluster('cl_missing'), []);
      });

      test('revoke sets revokedAt once; a second revoke changes nothing', async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id);
        await store.clusters.insert(c);
        const k = signingKey(c.id);
        const untouched = signingKey(c.id, { activateAt: at(13) });
        await store.signingKeys.insert(k);
        await store.signingKeys.insert(untouched);

        assert.equal(await store.signingKeys.revoke(c.id, k.kid, at(2_000)), true);
        assert.equal(await store.signingKeys.revoke(c.id, k.kid, at(3_000)), false);
        assert.equal(await store.signingKeys.revoke(c.id, 'kid-missing', at(3_000)), false);
        assert.equal(await store.signingKeys.revoke('cl_missing', k.kid, at(3_000)), false);
        assert.deepEqual(await store.signingKeys.listForCluster(c.id), [{ ...k, revokedAt: at(2_000) }, untouched]);
      });

      test('deleting a cluster deletes its keys, and only its keys', async () => {
        const o = await seedOrg(store);
        const c = cluster(o.id);
        const keep = cluster(o.id);
        await store.clusters.insert(c);
        await store.clusters.insert(keep);
        await store.signingKeys.insert(signingKey(c.id));
        const kept = signingKey(keep.id);
        await store.signingKeys.insert(kept);

        assert.equal(await store.clusters.delete(c.id), true);
        assert.deepEqual(await store.signingKeys.listForCluster(c.id), []);
        assert.deepEqual(await store.signingKeys.listForCluster(keep.id), [kept]);
        // A new cluster reusing the id starts with no keys.
        await store.clusters.insert(c);
        assert.deepEqual(await store.signingKeys.listForCluster(c.id), []);
      });
    });

    describe('API tokens', () => {
      test('insert, get, list in creation order, touch records the last use', async () => {
        const t2 = apiToken({ createdAt: at(701) });
        const t1 = apiToken({ createdAt: at(700), revokedAt: at(702) });
        await store.apiTokens.insert(t2);
        await store.apiTokens.insert(t1);
        assert.deepEqual(await store.apiTokens.get(t2.id), t2);
        assert.equal(await store.apiTokens.get('tok_missing'), undefined);
        const mine = (await store.apiTokens.list()).filter((t) => t.id === t1.id || t.id === t2.id);
        assert.deepEqual(mine, [t1, t2]);

        await store.apiTokens.touch(t2.id, at(800));
        await store.apiTokens.touch(t2.id, at(801));
        assert.deepEqual(await store.apiTokens.get(t2.id), { ...t2, lastUsedAt: at(801) });
        assert.deepEqual(await store.apiTokens.get(t1.id), t1, 'touching one token leaves the others');
        await store.apiTokens.touch('tok_missing', at(800)); // no row, no error
      });

      test('scoped tokens round-trip; list filters by workspace; a role without its scope is refused; a Deployment takes its tokens along', async () => {
        const { w, c } = await seedWorkspace(store);
        const dep = deployment(w.id, c.id);
        await store.deployments.insert(dep);
        const creator = apiToken();
        await store.apiTokens.insert(creator);
        const op = apiToken({ role: 'workspace-operator', workspaceId: w.id, expiresAt: at(9_000), createdBy: creator.id });
        const da = apiToken({ role: 'deployment-admin', workspaceId: w.id, deploymentId: dep.id, createdBy: creator.id });
        await store.apiTokens.insert(op);
        await store.apiTokens.insert(da);
        assert.deepEqual(await store.apiTokens.get(op.id), op);
        assert.deepEqual((await store.apiTokens.list({ workspaceId: w.id })).map((t) => t.id).sort(), [op.id, da.id].sort());
        for (const bad of [
          apiToken({ role: 'workspace-viewer' }),
          apiToken({ role: 'organization-member', workspaceId: w.id }),
          apiToken({ role: 'deployment-admin', workspaceId: w.id }),
        ]) {
          await assert.rejects(store.apiTokens.insert(bad), `${bad.role} with workspace ${bad.workspaceId} and deployment ${bad.deploymentId}`);
        }
        await store.deployments.delete(dep.id);
        assert.equal(await store.apiTokens.get(da.id), undefined, "a Deployment's tokens are deleted with it");
        assert.deepEqual(await store.apiTokens.get(op.id), op);
      });

      test('rotate replaces the secret and keeps the previous one with its end; a revoked token is not rotated', async () => {
        const t = apiToken();
        await store.apiTokens.insert(t);
        const r = await store.apiTokens.rotate(t.id, { secretHash: 'cd'.repeat(32), previousSecretHash: t.secretHash, previousExpiresAt: at(5_000), at: at(4_000) });
        assert.deepEqual(r, { ...t, secretHash: 'cd'.repeat(32), previousSecretHash: t.secretHash, previousSecretExpiresAt: at(5_000), rotatedAt: at(4_000) });
        assert.deepEqual(await store.apiTokens.get(t.id), r);
        assert.equal(await store.apiTokens.revoke(t.id, at(4_500)), true);
        assert.equal(await store.apiTokens.rotate(t.id, { secretHash: 'ef'.repeat(32), previousSecretHash: null, previousExpiresAt: null, at: at(4_600) }), undefined);
        assert.equal((await store.apiTokens.get(t.id))!.secretHash, 'cd'.repeat(32));
      });
    });

    describe('settings', () => {
      const values: Array<[string, unknown]> = [
        ['an object', { issuer: { baseUrl: 'https://airlock.example', ttl: 900 }, tags: ['a', 'b'] }],
        ['an array', [1, 'two', { three: 3 }]],
        ['a number', 42.5],
        ['a boolean', false],
        ['a plain string', 'hello'],
        ['a string that looks like JSON', '{"not":"an object"}'],
        ['a string that looks like a number', '123'],
        ['null', null],
      ];
      for (const [what, value] of values) {
        test(`a value that is ${what} reads back as written`, async () => {
          const key = `setting.${id('k')}`;
          await store.settings.put(key, value);
          assert.deepEqual(await store.settings.get(key), value);
        });
      }

      test('put replaces the value (upsert); an absent key is undefined', async () => {
        const key = `setting.${id('k')}`;
        assert.equal(await store.settings.get(key), undefined);
        await store.settings.put(key, { v: 1 });
        await store.settings.put(key, { v: 2, extra: true });
        assert.deepEqual(await store.settings.get(key), { v: 2, extra: true });
      });
    });

    describe('transactions', () => {
      test('a successful transaction commits every write and returns its result', async () => {
        const o = org();
        const w = workspace(o.id);
        const result = await store.transaction(async (tx) => {
          await tx.organizations.insert(o);
          await tx.workspaces.insert(w);
          return 'done';
        });
        assert.equal(result, 'done');
        assert.deepEqual(await store.organizations.get(o.id), o);
        assert.deepEqual(await store.workspaces.get(w.id), w);
      });

      test('a throw inside the transaction keeps none of its writes and reaches the caller', async () => {
        const o = org();
        const w = workspace(o.id);
        const boom = new Error('boom after two inserts');
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.organizations.insert(o);
            await tx.workspaces.insert(w);
            assert.deepEqual(await tx.workspaces.get(w.id), w, 'visible inside the transaction');
            throw boom;
          }),
          (err) => err === boom,
        );
        assert.equal(await store.organizations.get(o.id), undefined);
        assert.equal(await store.workspaces.get(w.id), undefined);
      });

      test('a failing statement rolls back the earlier ones', async () => {
        const o = await seedOrg(store);
        const taken = cluster(o.id);
        await store.clusters.insert(taken);
        const fresh = cluster(o.id);
        const key = signingKey(fresh.id);
        await rejectsWithAppError(
          store.transaction(async (tx) => {
            await tx.clusters.insert(fresh);
            await tx.signingKeys.insert(key);
            await tx.clusters.insert(cluster(o.id, { name: taken.name }));
          }),
          'ERR_CONFLICT',
          'name',
        );
        assert.equal(await store.clusters.get(fresh.id), undefined);
        assert.deepEqual(await store.signingKeys.listForCluster(fresh.id), []);
        // The store is usable afterwards (the failed transaction released its connection).
        assert.deepEqual(await store.clusters.get(taken.id), taken);
      });
    });

    describe('persistence', () => {
      test('every record kind survives closing and reopening the store', { skip: !target.persistent && 'an in-memory store cannot be reopened' }, async () => {
        const o = await seedOrg(store);
        const w = workspace(o.id);
        const c = cluster(o.id, { createdAt: new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)), updatedAt: new Date(Date.UTC(2100, 0, 1, 0, 0, 0, 1)) });
        const k = signingKey(c.id, { revokedAt: at(4_321) });
        const t = apiToken({ lastUsedAt: at(5_555) });
        const settingKey = `setting.${id('k')}`;
        await store.workspaces.insert(w);
        await store.clusters.insert(c);
        await store.signingKeys.insert(k);
        await store.apiTokens.insert(t);
        await store.settings.put(settingKey, { kept: true });

        await store.close();
        store = await loc.open();

        assert.deepEqual(await store.organizations.get(o.id), o);
        assert.deepEqual(await store.workspaces.get(w.id), w);
        assert.deepEqual(await store.clusters.get(c.id), c);
        assert.deepEqual(await store.signingKeys.listForCluster(c.id), [k]);
        assert.deepEqual(await store.apiTokens.get(t.id), t);
        assert.deepEqual(await store.settings.get(settingKey), { kept: true });
      });
    });

    describe('airflow connections, links and metadata-database connections', () => {
      test('round-trip, conn_id unique per workspace, versioned updates, links with overrides, all-deployments, metastore upsert', async () => {
        const { w, c } = await seedWorkspace(store);
        const { w: otherW } = await seedWorkspace(store);
        const etl = deployment(w.id, c.id);
        const reports = deployment(w.id, c.id);
        for (const dep of [etl, reports]) await store.deployments.insert(dep);
        const conn: ConnectionRecord = {
          id: id('conn'),
          workspaceId: w.id,
          connId: 'aws_default',
          connType: 'aws',
          description: '',
          host: null,
          schema: null,
          login: null,
          passwordEnc: 'v1.sealed',
          port: 5439,
          extra: { role_arn: 'arn:aws:iam::123456789012:role/x', nested: { a: [1, 'b'] } },
          allDeployments: false,
          version: 1,
          createdAt: at(0),
          updatedAt: at(0),
        };
        await store.connections.insert(conn);
        assert.deepEqual(await store.connections.get(conn.id), conn);
        assert.deepEqual(await store.connections.getByConnId(w.id, 'aws_default'), conn);
        assert.equal(await store.connections.getByConnId(otherW.id, 'aws_default'), undefined);
        await rejectsWithAppError(store.connections.insert({ ...conn, id: id('conn') }), 'ERR_CONFLICT', 'connId');
        await store.connections.insert({ ...conn, id: id('conn'), workspaceId: otherW.id });

        const v2 = await store.connections.update(conn.id, 1, { host: 'h', passwordEnc: null, updatedAt: at(1_000) });
        assert.deepEqual(v2, { ...conn, host: 'h', passwordEnc: null, version: 2, updatedAt: at(1_000) });
        assert.equal(await store.connections.update(conn.id, 1, { host: 'lost', updatedAt: at(2_000) }), undefined, 'a stale version writes nothing');
        assert.equal((await store.connections.get(conn.id))!.host, 'h');

        assert.deepEqual(await store.connections.listForDeployment(w.id, etl.id), []);
        const link = { connectionId: conn.id, deploymentId: etl.id, overrides: { host: 'replica', extra: { region_name: 'eu-west-1' } }, passwordEnc: null, createdAt: at(3_000), updatedAt: at(3_000) };
        await store.connectionLinks.upsert(link);
        await store.connectionLinks.upsert({ ...link, overrides: { port: null }, passwordEnc: 'v1.x', updatedAt: at(4_000) });
        const stored = { ...link, overrides: { port: null }, passwordEnc: 'v1.x', updatedAt: at(4_000) };
        assert.deepEqual(await store.connectionLinks.get(conn.id, etl.id), stored);
        assert.deepEqual(await store.connectionLinks.listForConnection(conn.id), [{ ...stored, deploymentName: etl.name }]);
        // Several connections in one query: only those with links have an entry.
        const reportsLink = { ...link, deploymentId: reports.id, overrides: {}, createdAt: at(3_500), updatedAt: at(3_500) };
        await store.connectionLinks.upsert(reportsLink);
        const many = await store.connectionLinks.listForConnections([conn.id, 'conn_without_links0000']);
        assert.deepEqual([...many.keys()], [conn.id]);
        assert.deepEqual(many.get(conn.id), [{ ...stored, deploymentName: etl.name }, { ...reportsLink, deploymentName: reports.name }].sort((a, b) => a.deploymentName.localeCompare(b.deploymentName)));
        assert.deepEqual(await store.connectionLinks.listForConnections([]), new Map());
        assert.equal(await store.connectionLinks.delete(conn.id, reports.id), true);
        let forEtl = await store.connections.listForDeployment(w.id, etl.id);
        assert.deepEqual(forEtl.map((r) => [r.connection.connId, r.link]), [['aws_default', stored]]);
        assert.deepEqual(await store.connections.listForDeployment(w.id, reports.id), []);

        await store.connections.update(conn.id, 2, { allDeployments: true, updatedAt: at(5_000) });
        const forReports = await store.connections.listForDeployment(w.id, reports.id);
        assert.deepEqual(forReports.map((r) => [r.connection.connId, r.connection.allDeployments, r.link]), [['aws_default', true, null]]);
        forEtl = await store.connections.listForDeployment(w.id, etl.id);
        assert.deepEqual(forEtl[0]!.link, stored, 'an explicit link keeps its overrides under all-deployments');
        assert.equal(await store.connectionLinks.delete(conn.id, etl.id), true);
        assert.equal(await store.connectionLinks.delete(conn.id, etl.id), false);

        const m: MetastoreConnectionRecord = {
          id: id('mconn'),
          deploymentId: etl.id,
          connId: 'legacy_pg',
          connType: 'postgres',
          description: null,
          host: 'db',
          schema: 's',
          login: 'u',
          passwordEnc: 'v1.y',
          port: 5432,
          extra: {},
          source: 'connections.json',
          importedAt: at(6_000),
        };
        assert.equal(await store.metastoreConnections.upsert(m), 'created');
        assert.equal(await store.metastoreConnections.upsert({ ...m, id: id('mconn'), host: 'db2', importedAt: at(7_000) }), 'replaced');
        assert.deepEqual(await store.metastoreConnections.listForDeployment(etl.id), [{ ...m, host: 'db2', importedAt: at(7_000) }]);
        assert.deepEqual(await store.metastoreConnections.get(etl.id, 'legacy_pg'), { ...m, host: 'db2', importedAt: at(7_000) });

        // Deleting the Deployment takes its links and metadata-database connections with it; deleting the connection its links.
        await store.connectionLinks.upsert({ ...link, deploymentId: reports.id });
        assert.equal(await store.deployments.delete(etl.id), true);
        assert.deepEqual(await store.metastoreConnections.listForDeployment(etl.id), []);
        assert.equal(await store.connections.delete(conn.id), true);
        assert.equal(await store.connectionLinks.get(conn.id, reports.id), undefined);
        assert.equal(await store.connections.delete(conn.id), false);
      });
    });

    describe('connections', () => {
      test('the store survives the server closing its idle connections', { skip: !target.serverSessions && 'only PostgreSQL has server sessions to lose' }, async () => {
        const o = await seedOrg(store);
        // Several idle connections in the pool, then the server cuts them all (restart, failover).
        await Promise.all([1, 2, 3].map(() => store.organizations.get(o.id)));
        await loc.dropConnections!();
        // An unhandled pool 'error' would crash the process here. A query may still be handed a
        // connection whose end the pool has not yet noticed, once per dead connection (three at
        // most); after that every query must work.
        let failures = 0;
        for (let attempt = 0; attempt < 4; attempt++) {
          try {
            await store.organizations.get(o.id);
            break;
          } catch {
            failures++;
          }
        }
        assert.ok(failures < 4, 'the store never recovered its connections');
        assert.deepEqual(await store.organizations.get(o.id), o);
      });
    });
  });
}
