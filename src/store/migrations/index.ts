import { SqliteAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * Every schema change, in order. Names are versions: append a new entry, never edit one that has
 * shipped. The same list runs on the embedded store and on PostgreSQL.
 */
export const migrations: Record<string, Migration> = {
  '0001_foundation': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('organizations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('workspaces')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addUniqueConstraint('workspaces_org_name_key', ['organization_id', 'name'])
        .execute();
      await db.schema
        .createTable('clusters')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id'))
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('cloud', 'text', (c) => c.notNull().check(sql`cloud in ('aws','gcp','azure')`))
        .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('standard','dedicated')`))
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('issuer_mode', 'text', (c) => c.notNull().check(sql`issuer_mode in ('airlock','kubernetes')`))
        .addColumn('external_issuer_url', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('signing_keys')
        .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
        .addColumn('kid', 'text', (c) => c.notNull())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'jsonb', (c) => c.notNull())
        .addColumn('private_key_enc', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('publish_at', 'timestamptz', (c) => c.notNull())
        .addColumn('activate_at', 'timestamptz', (c) => c.notNull())
        .addColumn('max_token_ttl_seconds', 'integer', (c) => c.notNull())
        .addColumn('revoked_at', 'timestamptz')
        .addPrimaryKeyConstraint('signing_keys_pkey', ['cluster_id', 'kid'])
        .execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('last_used_at', 'timestamptz')
        .addColumn('revoked_at', 'timestamptz')
        .execute();
      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'jsonb', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  '0002_deployments': {
    async up(db: Kysely<any>) {
      // Platform settings a cluster's default identities derive from (AWS account / GCP project).
      await db.schema.alterTable('clusters').addColumn('default_identity_account', 'text').execute();
      await db.schema.alterTable('clusters').addColumn('default_identity_project', 'text').execute();
      await db.schema.alterTable('clusters').addColumn('default_identity_project_number', 'text').execute();
      await db.schema
        .createTable('identities')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('cloud', 'text', (c) => c.notNull().check(sql`cloud in ('aws','gcp','azure')`))
        .addColumn('spec', 'jsonb', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addUniqueConstraint('identities_workspace_name_key', ['workspace_id', 'name'])
        .execute();
      await db.schema
        .createTable('deployments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('runtime_version', 'text', (c) => c.notNull())
        .addColumn('namespace', 'text', (c) => c.notNull())
        // Exactly one of: nothing (default identity), an inline customer identity, a saved one.
        .addColumn('identity_spec', 'jsonb')
        .addColumn('identity_id', 'text', (c) => c.references('identities.id'))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addUniqueConstraint('deployments_workspace_name_key', ['workspace_id', 'name'])
        .addUniqueConstraint('deployments_cluster_namespace_key', ['cluster_id', 'namespace'])
        .addCheckConstraint('deployments_one_identity', sql`identity_spec is null or identity_id is null`)
        .execute();
      await db.schema.createIndex('deployments_identity_idx').on('deployments').column('identity_id').execute();
    },
  },
  '0003_delivery': {
    async up(db: Kysely<any>) {
      // external_issuer_url (0001) holds the cluster's own Kubernetes service-account issuer: the
      // issuer clouds trust in `kubernetes` mode, and the one pod tokens are verified against
      // (attestation) in either mode. Its CA, when it is not publicly trusted:
      await db.schema.alterTable('clusters').addColumn('kubernetes_ca_cert', 'text').execute();
      // Extra audiences a cluster's workloads may ask tokens for (beyond their clouds').
      await db.schema.alterTable('clusters').addColumn('audiences', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`)).execute();
      await db.schema
        .createTable('join_credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('component', 'text', (c) =>
          c.notNull().check(sql`component in ('scheduler','worker','triggerer','webserver','dag-processor','kpo')`),
        )
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
        .addColumn('last_used_at', 'timestamptz')
        .addColumn('revoked_at', 'timestamptz')
        .execute();
      await db.schema.createIndex('join_credentials_deployment_idx').on('join_credentials').column('deployment_id').execute();
      // Append-only, hash-chained: each row's hash covers its content and its predecessor's hash.
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('at', 'timestamptz', (c) => c.notNull())
        .addColumn('actor_type', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text', (c) => c.notNull())
        .addColumn('actor_name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target_type', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('target_name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('source', 'text')
        .addColumn('details', 'jsonb', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_at_idx').on('audit_events').column('at').execute();
      await db.schema.createIndex('audit_events_target_idx').on('audit_events').column('target_id').execute();
    },
  },
  '0004_access': {
    async up(db: Kysely<any>) {
      // Scoped API tokens: one role at one scope. Tokens from before roles existed (the admin
      // token) become organization owners, which is what they were.
      await db.schema
        .alterTable('api_tokens')
        .addColumn('role', 'text', (c) => c.notNull().defaultTo('organization-owner'))
        .execute();
      await db.schema.alterTable('api_tokens').addColumn('workspace_id', 'text', (c) => c.references('workspaces.id')).execute();
      // A Deployment's tokens go with it.
      await db.schema.alterTable('api_tokens').addColumn('deployment_id', 'text', (c) => c.references('deployments.id').onDelete('cascade')).execute();
      await db.schema.alterTable('api_tokens').addColumn('expires_at', 'timestamptz').execute();
      await db.schema.alterTable('api_tokens').addColumn('created_by', 'text').execute();
      await db.schema.alterTable('api_tokens').addColumn('rotated_at', 'timestamptz').execute();
      // After a rotation the old secret stays valid until previous_secret_expires_at (the overlap).
      await db.schema.alterTable('api_tokens').addColumn('previous_secret_hash', 'text').execute();
      await db.schema.alterTable('api_tokens').addColumn('previous_secret_expires_at', 'timestamptz').execute();
      await db.schema
        .alterTable('api_tokens')
        .addCheckConstraint(
          'api_tokens_role_scope',
          sql`(role in ('organization-owner','organization-member') and workspace_id is null and deployment_id is null)
            or (role in ('workspace-owner','workspace-operator','workspace-viewer') and workspace_id is not null and deployment_id is null)
            or (role = 'deployment-admin' and workspace_id is not null and deployment_id is not null)`,
        )
        .execute();
      await db.schema.createIndex('api_tokens_workspace_idx').on('api_tokens').column('workspace_id').execute();
      await db.schema.createIndex('api_tokens_deployment_idx').on('api_tokens').column('deployment_id').execute();
      // Audit queries by actor and action (list --actor / --action).
      await db.schema.createIndex('audit_events_actor_idx').on('audit_events').column('actor_id').execute();
    },
  },
  '0005_deployment_variables': {
    async up(db: Kysely<any>) {
      // A Deployment's environment variables, one row each, so two clients adding different keys
      // never overwrite each other. A secret's value is only ever stored sealed (src/crypto/envelope.ts,
      // bound to its Deployment and key); `version` counts changes for optimistic concurrency.
      await db.schema
        .createTable('deployment_variables')
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('secret', 'boolean', (c) => c.notNull())
        .addColumn('value', 'text')
        .addColumn('value_sealed', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('deployment_variables_pkey', ['deployment_id', 'key'])
        .addCheckConstraint(
          'deployment_variables_sealed',
          sql`(secret and value is null and value_sealed is not null) or (not secret and value is not null and value_sealed is null)`,
        )
        .execute();
    },
  },
  '0006_connections': {
    async up(db: Kysely<any>) {
      // Airflow connections of a workspace (the Environment Manager). The password is sealed with
      // the master key (src/crypto/envelope.ts, bound to the row's id); nothing else is secret.
      await db.schema
        .createTable('connections')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
        .addColumn('conn_id', 'text', (c) => c.notNull())
        .addColumn('conn_type', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('host', 'text')
        .addColumn('schema', 'text')
        .addColumn('login', 'text')
        .addColumn('password_enc', 'text')
        .addColumn('port', 'integer')
        .addColumn('extra', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        // Linked to every Deployment of the workspace, those created later included.
        .addColumn('all_deployments', 'boolean', (c) => c.notNull().defaultTo(false))
        // Optimistic concurrency: every change bumps it; a write naming an older one is refused.
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addUniqueConstraint('connections_workspace_conn_id_key', ['workspace_id', 'conn_id'])
        .execute();
      // One row per explicit link; it carries that Deployment's field overrides (fields absent
      // from `overrides` come from the connection). Its password override is sealed like the password.
      await db.schema
        .createTable('connection_links')
        .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('overrides', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('password_enc', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('connection_links_pkey', ['connection_id', 'deployment_id'])
        .execute();
      await db.schema.createIndex('connection_links_deployment_idx').on('connection_links').column('deployment_id').execute();
      // What a Deployment's Airflow metadata database holds (`airflow connections export` files
      // brought in with `airlock connection import`): the last source in Airflow's lookup order.
      await db.schema
        .createTable('metastore_connections')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('conn_id', 'text', (c) => c.notNull())
        .addColumn('conn_type', 'text')
        .addColumn('description', 'text')
        .addColumn('host', 'text')
        .addColumn('schema', 'text')
        .addColumn('login', 'text')
        .addColumn('password_enc', 'text')
        .addColumn('port', 'integer')
        .addColumn('extra', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('source', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('imported_at', 'timestamptz', (c) => c.notNull())
        .addUniqueConstraint('metastore_connections_deployment_conn_id_key', ['deployment_id', 'conn_id'])
        .execute();
    },
  },
  '0007_audit_append_only': {
    async up(db: Kysely<any>) {
      // The database itself refuses to change or delete an audit record: a stray UPDATE, a DELETE
      // typed at a prompt, a TRUNCATE. Retention is the one way out, and it opens the gate for its
      // own transaction only (repos.ts, audit.deleteThrough). Whoever owns the database can still
      // drop the guard; the hash chain is what catches that (airlock audit verify).
      if (db.getExecutor().adapter instanceof SqliteAdapter) {
        await sql`create table audit_retention_gate (open integer not null)`.execute(db);
        await sql`insert into audit_retention_gate (open) values (0)`.execute(db);
        await sql`create trigger audit_events_no_update before update on audit_events
          begin select raise(abort, 'audit_events is append-only: UPDATE refused'); end`.execute(db);
        await sql`create trigger audit_events_no_delete before delete on audit_events
          when (select open from audit_retention_gate) = 0
          begin select raise(abort, 'audit_events is append-only: DELETE refused outside retention'); end`.execute(db);
        return;
      }
      await sql`create function audit_events_append_only() returns trigger language plpgsql as $$
        begin
          if tg_op = 'DELETE' and current_setting('airlock.audit_retention', true) = 'on' then
            return old;
          end if;
          raise exception 'audit_events is append-only: % refused%', tg_op, case when tg_op = 'DELETE' then ' outside retention' else '' end
            using errcode = 'insufficient_privilege';
        end $$`.execute(db);
      await sql`create trigger audit_events_append_only before update or delete on audit_events
        for each row execute function audit_events_append_only()`.execute(db);
      await sql`create trigger audit_events_no_truncate before truncate on audit_events
        for each statement execute function audit_events_append_only()`.execute(db);
    },
  },
};
