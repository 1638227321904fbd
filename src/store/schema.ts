import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

/** Table shapes as the database holds them. Domain code sees the mapped records in repos.ts. */
export interface Database {
  organizations: { id: string; name: string; created_at: Timestamp };
  workspaces: { id: string; organization_id: string; name: string; created_at: Timestamp };
  clusters: {
    id: string;
    organization_id: string;
    name: string;
    cloud: string;
    type: string;
    region: string;
    issuer_mode: string;
    external_issuer_url: string | null;
    default_identity_account: string | null;
    default_identity_project: string | null;
    default_identity_project_number: string | null;
    kubernetes_ca_cert: string | null;
    audiences: ColumnType<string[], string | undefined, string>;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  identities: {
    id: string;
    workspace_id: string;
    name: string;
    cloud: string;
    spec: Json<Record<string, unknown>>;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  deployments: {
    id: string;
    workspace_id: string;
    cluster_id: string;
    name: string;
    description: string;
    runtime_version: string;
    namespace: string;
    identity_spec: Json<Record<string, unknown>> | null;
    identity_id: string | null;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  signing_keys: {
    cluster_id: string;
    kid: string;
    alg: string;
    public_jwk: Json<Record<string, unknown>>;
    private_key_enc: string;
    created_at: Timestamp;
    publish_at: Timestamp;
    activate_at: Timestamp;
    max_token_ttl_seconds: number;
    revoked_at: Timestamp | null;
  };
  api_tokens: {
    id: string;
    name: string;
    secret_hash: string;
    created_at: Timestamp;
    last_used_at: Timestamp | null;
    revoked_at: Timestamp | null;
    role: ColumnType<string, string | undefined, string>;
    workspace_id: string | null;
    deployment_id: string | null;
    expires_at: Timestamp | null;
    created_by: string | null;
    rotated_at: Timestamp | null;
    previous_secret_hash: string | null;
    previous_secret_expires_at: Timestamp | null;
  };
  join_credentials: {
    id: string;
    deployment_id: string;
    component: string;
    description: string;
    secret_hash: string;
    created_at: Timestamp;
    expires_at: Timestamp;
    last_used_at: Timestamp | null;
    revoked_at: Timestamp | null;
  };
  audit_events: {
    seq: ColumnType<string, number | string, never>;
    at: Timestamp;
    actor_type: string;
    actor_id: string;
    actor_name: string;
    action: string;
    target_type: string;
    target_id: string;
    target_name: string;
    result: string;
    request_id: string | null;
    source: string | null;
    details: Json<Record<string, unknown>>;
    prev_hash: string;
    hash: string;
  };
  deployment_variables: {
    deployment_id: string;
    key: string;
    secret: ColumnType<boolean, boolean, boolean>;
    value: string | null;
    value_sealed: string | null;
    version: number;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  connections: {
    id: string;
    workspace_id: string;
    conn_id: string;
    conn_type: string;
    description: string;
    host: string | null;
    schema: string | null;
    login: string | null;
    password_enc: string | null;
    port: number | null;
    extra: Json<Record<string, unknown>>;
    /** A boolean; the embedded store reads it back as 0/1. */
    all_deployments: ColumnType<boolean | number, boolean, boolean>;
    version: number;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  connection_links: {
    connection_id: string;
    deployment_id: string;
    overrides: Json<Record<string, unknown>>;
    password_enc: string | null;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  metastore_connections: {
    id: string;
    deployment_id: string;
    conn_id: string;
    conn_type: string | null;
    description: string | null;
    host: string | null;
    schema: string | null;
    login: string | null;
    password_enc: string | null;
    port: number | null;
    extra: Json<Record<string, unknown>>;
    source: string;
    imported_at: Timestamp;
  };
  settings: { key: string; value: Json<unknown>; updated_at: Generated<Timestamp> };
}
