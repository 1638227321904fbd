import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kysely, Migrator, sql } from 'kysely';
import { migrations } from '../../src/store/migrations/index.ts';
import { createSqliteDialect, openSqlite } from '../../src/store/sqlite-dialect.ts';

/** 0004_access on a database written before it: what was there keeps its meaning. */
describe('migration 0004_access on existing data', () => {
  it('the admin token becomes an organization owner, and the role/scope check holds afterwards', async () => {
    const db = new Kysely<any>({ dialect: createSqliteDialect(openSqlite(undefined)) });
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
      const to3 = await migrator.migrateTo('0003_delivery');
      assert.equal(to3.error, undefined, String(to3.error));
      const now = new Date('2026-11-01T00:00:00Z');
      await db.insertInto('api_tokens').values({ id: 'tok_00000000000000000001', name: 'admin', secret_hash: 'ab'.repeat(32), created_at: now }).execute();
      await db.insertInto('organizations').values({ id: 'org_1', name: 'default', created_at: now }).execute();
      await db.insertInto('workspaces').values({ id: 'ws_1', organization_id: 'org_1', name: 'default', created_at: now }).execute();

      const latest = await migrator.migrateToLatest();
      assert.equal(latest.error, undefined, String(latest.error));
      const t = await db.selectFrom('api_tokens').selectAll().executeTakeFirstOrThrow();
      assert.deepEqual(
        { role: t.role, workspace_id: t.workspace_id, deployment_id: t.deployment_id, expires_at: t.expires_at, created_by: t.created_by },
        { role: 'organization-owner', workspace_id: null, deployment_id: null, expires_at: null, created_by: null },
      );
      // The scope check holds from now on.
      await assert.rejects(sql`update api_tokens set role = 'workspace-viewer'`.execute(db), /api_tokens_role_scope/);
    } finally {
      await db.destroy();
    }
  });
});
