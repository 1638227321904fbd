import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { AppError } from '../errors/index.ts';
import type { Database } from './schema.ts';
import { createVariableRepo, type VariableRepo } from './variables-repo.ts';
import type { Role } from '../access/matrix.ts';
import type {
  ApiTokenRecord,
  Cloud,
  Cluster,
  ClusterType,
  Deployment,
  SavedIdentity,
  IssuerMode,
  Organization,
  Page,
  PageRequest,
  SigningKeyRecord,
  Workspace,
  JoinCredentialRecord,
  AuditEventRecord,
  ConnectionRecord,
  ConnectionLinkRecord,
  ConnectionOverrides,
  MetastoreConnectionRecord,
} from '../domain/records.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** The repositories; the same interface whether bound to the pool or to one transaction. */
export interface Repos {
  organizations: {
    insert(o: Organization): Promise<void>;
    get(id: string): Promise<Organization | undefined>;
    list(): Promise<Organization[]>;
  };
  workspaces: {
    insert(w: Workspace): Promise<void>;
    get(id: string): Promise<Workspace | undefined>;
    list(organizationId: string): Promise<Workspace[]>;
  };
  clusters: {
    insert(c: Cluster): Promise<void>;
    get(id: string): Promise<Cluster | undefined>;
    getByName(name: string): Promise<Cluster | undefined>;
    /** Locks the cluster row until the transaction ends (serialises key changes across replicas). */
    lock(id: string): Promise<boolean>;
    list(page: PageRequest): Promise<Page<Cluster>>;
    listAll(): Promise<Cluster[]>;
    update(
      id: string,
      patch: Partial<
        Pick<Cluster, 'region' | 'updatedAt' | 'defaultIdentityAccount' | 'defaultIdentityProject' | 'defaultIdentityProjectNumber' | 'kubernetesIssuerUrl' | 'kubernetesCaCert' | 'audiences'>
      >,
    ): Promise<Cluster | undefined>;
    delete(id: string): Promise<boolean>;
  };
  identities: {
    insert(i: SavedIdentity): Promise<void>;
    get(id: string): Promise<SavedIdentity | undefined>;
    getByName(workspaceId: string, name: string): Promise<SavedIdentity | undefined>;
    /** Locks the identity row until the transaction ends (serialises capacity checks). */
    lock(id: string): Promise<boolean>;
    list(workspaceId: string): Promise<SavedIdentity[]>;
    update(id: string, patch: Pick<SavedIdentity, 'spec' | 'updatedAt'>): Promise<SavedIdentity | undefined>;
    delete(id: string): Promise<boolean>;
  };
  deployments: {
    insert(d: Deployment): Promise<void>;
    get(id: string): Promise<Deployment | undefined>;
    getByName(workspaceId: string, name: string): Promise<Deployment | undefined>;
    list(workspaceId: string, page: PageRequest, filter?: DeploymentFilter): Promise<Page<Deployment>>;
    /** Every Deployment matching the filter (no paging), oldest first. */
    listAll(filter: DeploymentFilter): Promise<Deployment[]>;
    namespaceTaken(clusterId: string, namespace: string): Promise<boolean>;
    /**
     * The Deployments running in these cluster namespaces, with the version of everything their
     * workload profiles derive from (as {@link JoinCredentialForExchange.profileVersion}). One query.
     */
    findByNamespaces(keys: readonly { clusterId: string; namespace: string }[]): Promise<WorkloadDeployment[]>;
    update(id: string, patch: Partial<Pick<Deployment, 'description' | 'runtimeVersion' | 'identitySpec' | 'identityId' | 'updatedAt'>>): Promise<Deployment | undefined>;
    delete(id: string): Promise<boolean>;
  };
  signingKeys: {
    insert(k: SigningKeyRecord): Promise<void>;
    /** Every key of a cluster, oldest activation first, revoked ones included. */
    listForCluster(clusterId: string): Promise<SigningKeyRecord[]>;
    revoke(clusterId: string, kid: string, at: Date): Promise<boolean>;
  };
  apiTokens: {
    insert(t: ApiTokenRecord): Promise<void>;
    get(id: string): Promise<ApiTokenRecord | undefined>;
    /** Oldest first; with a workspace, only its tokens (Deployment tokens included). */
    list(filter?: { workspaceId?: string | undefined }): Promise<ApiTokenRecord[]>;
    touch(id: string, at: Date): Promise<void>;
    revoke(id: string, at: Date): Promise<boolean>;
    /** Replaces the secret of a live token; the old one stays valid until `previousExpiresAt`. Returns the token as it now is. */
    rotate(id: string, r: { secretHash: string; previousSecretHash: string | null; previousExpiresAt: Date | null; at: Date }): Promise<ApiTokenRecord | undefined>;
  };
  joinCredentials: {
    insert(c: JoinCredentialRecord): Promise<void>;
    listForDeployment(deploymentId: string): Promise<JoinCredentialRecord[]>;
    /**
     * The credentials with these ids, each with what an exchange needs to know about its
     * Deployment and the versions of everything its workload profile derives from (so a cached
     * profile can be checked for staleness without another query). One query for many ids.
     */
    getForExchange(ids: readonly string[]): Promise<JoinCredentialForExchange[]>;
    /** Records that these credentials were used at `at` (one statement). */
    touch(ids: readonly string[], at: Date): Promise<void>;
    /** Revokes one (if not already revoked); returns it as it now is. */
    revoke(deploymentId: string, id: string, at: Date): Promise<JoinCredentialRecord | undefined>;
    /** Revokes every live credential of a Deployment; returns how many. */
    revokeAll(deploymentId: string, at: Date): Promise<number>;
  };
  audit: {
    /** The newest record's seq and hash (the chain's head), if any. */
    head(): Promise<{ seq: number; hash: string } | undefined>;
    insertMany(events: AuditEventRecord[]): Promise<void>;
    /** Oldest first from `afterSeq` (exclusive), or newest first. `target` matches a target id or name; `since`/`until` bound `at` (inclusive/exclusive). */
    list(o: AuditListFilter): Promise<AuditEventRecord[]>;
    /** The newest record written before `at`, if any (where retention may cut). */
    lastBefore(at: Date): Promise<{ seq: number; hash: string } | undefined>;
    /** Deletes every record with seq ≤ `seq` (retention); returns how many. */
    deleteThrough(seq: number): Promise<number>;
  };
  /** Deployment environment variables (row-level writes; see variables-repo.ts). */
  variables: VariableRepo;
  connections: {
    insert(c: ConnectionRecord): Promise<void>;
    get(id: string): Promise<ConnectionRecord | undefined>;
    getByConnId(workspaceId: string, connId: string): Promise<ConnectionRecord | undefined>;
    /** A workspace's connections, by conn_id. */
    list(workspaceId: string): Promise<ConnectionRecord[]>;
    /**
     * Optimistic concurrency: writes `patch` and bumps the version only while the stored version
     * is still `expectedVersion`; returns the row as it now is, or undefined when it changed (or
     * went) meanwhile. One statement, so two writers can never both succeed from the same version.
     */
    update(
      id: string,
      expectedVersion: number,
      patch: Partial<Pick<ConnectionRecord, 'connType' | 'description' | 'host' | 'schema' | 'login' | 'passwordEnc' | 'port' | 'extra' | 'allDeployments'>> & { updatedAt: Date },
    ): Promise<ConnectionRecord | undefined>;
    delete(id: string): Promise<boolean>;
    /** The connections that reach a Deployment (linked to all, or to it), each with its explicit link if any; by conn_id. */
    listForDeployment(workspaceId: string, deploymentId: string): Promise<{ connection: ConnectionRecord; link: ConnectionLinkRecord | null }[]>;
  };
  connectionLinks: {
    /** Creates the link or replaces its overrides. */
    upsert(l: ConnectionLinkRecord): Promise<void>;
    get(connectionId: string, deploymentId: string): Promise<ConnectionLinkRecord | undefined>;
    /** A connection's explicit links with their Deployments' names, by name. */
    listForConnection(connectionId: string): Promise<NamedConnectionLink[]>;
    /** The same for several connections in one query, by connection id (absent: no links). */
    listForConnections(connectionIds: string[]): Promise<Map<string, NamedConnectionLink[]>>;
    delete(connectionId: string, deploymentId: string): Promise<boolean>;
  };
  metastoreConnections: {
    /** Inserts, or replaces the connection with the same conn_id in that Deployment's metadata database. */
    upsert(m: MetastoreConnectionRecord): Promise<'created' | 'replaced'>;
    get(deploymentId: string, connId: string): Promise<MetastoreConnectionRecord | undefined>;
    /** By conn_id. */
    listForDeployment(deploymentId: string): Promise<MetastoreConnectionRecord[]>;
    delete(deploymentId: string, connId: string): Promise<boolean>;
  };
  /**
   * Every sealed value, wherever it is stored ({@link SEALED_COLUMNS}): for moving them to a new
   * master key. Nothing else reads sealed values this way; each domain reads its own.
   */
  sealed: {
    /** The table's sealed values, with the row's key columns in {@link SEALED_COLUMNS} order. */
    list(table: SealedTable): Promise<{ keys: string[]; value: string }[]>;
    /** Compare-and-set: replaces the value only if it is still `from` (a concurrent write wins). */
    replace(table: SealedTable, keys: readonly string[], from: string, to: string): Promise<boolean>;
  };
  settings: {
    /**
     * Holds a named lock until the transaction ends (a PostgreSQL advisory lock): serialises
     * one-time work such as first-start bootstrap across replicas. Only meaningful inside a transaction.
     */
    lock(name: string): Promise<void>;
    get<T>(key: string): Promise<T | undefined>;
    put(key: string, value: unknown): Promise<void>;
  };
}

/** Where sealed values are stored: each table's key columns and its sealed column. */
export const SEALED_COLUMNS = {
  signing_keys: { keys: ['cluster_id', 'kid'], column: 'private_key_enc' },
  deployment_variables: { keys: ['deployment_id', 'key'], column: 'value_sealed' },
  connections: { keys: ['id'], column: 'password_enc' },
  connection_links: { keys: ['connection_id', 'deployment_id'], column: 'password_enc' },
  metastore_connections: { keys: ['id'], column: 'password_enc' },
} as const satisfies Record<string, { keys: readonly string[]; column: string }>;
export type SealedTable = keyof typeof SEALED_COLUMNS;

/** An explicit link with its Deployment's name, as lists show it. */
export type NamedConnectionLink = ConnectionLinkRecord & { deploymentName: string };

export interface AuditListFilter {
  /** Oldest first, from past this seq (exclusive). */
  afterSeq?: number | undefined;
  /** Newest first instead, from before this seq (exclusive) when given. */
  newestFirst?: { beforeSeq?: number | undefined } | undefined;
  limit: number;
  targetId?: string | undefined;
  /** A target id or name. */
  target?: string | undefined;
  actorId?: string | undefined;
  action?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

/** What the token exchange needs to know about a Deployment before building its workload profile. */
export interface WorkloadDeployment {
  deployment: { id: string; name: string; namespace: string; clusterId: string; workspaceId: string };
  /** `<deployment updated>:<identity updated>:<cluster updated>` in ms: changes whenever the profile may. */
  profileVersion: string;
}

/** A join credential joined with its Deployment, for the token exchange. */
export interface JoinCredentialForExchange extends WorkloadDeployment {
  credential: JoinCredentialRecord;
}

const profileVersionOf = (r: { dep_updated_at: Date | string; identity_updated_at: Date | string | null; cluster_updated_at: Date | string }): string =>
  [r.dep_updated_at, r.identity_updated_at, r.cluster_updated_at].map((v) => (v === null ? '-' : toDate(v).getTime())).join(':');

export interface DeploymentFilter {
  /** Only this Deployment (a Deployment-scoped caller's view of a list). */
  id?: string | undefined;
  clusterId?: string | undefined;
  identityId?: string | undefined;
  /** Substring of the name, case-insensitive. */
  nameContains?: string | undefined;
}

/** PostgreSQL's foreign_key_violation: a row is still referenced (or references nothing). */
export function isForeignKeyViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23503';
}

/** Deleting a row something still references is a conflict the caller can resolve, not a 500. */
function referencedConflict(what: string): AppError {
  return new AppError('ERR_CONFLICT', `${what} is still in use (a Deployment refers to it); remove those references first`);
}

/** Name of the constraint a database error reports (PostgreSQL sets it; the SQLite dialect derives it). */
function constraintOf(err: unknown): string {
  const c = (err as { constraint?: unknown } | null)?.constraint;
  return typeof c === 'string' ? c : '';
}

/** PostgreSQL's unique_violation; the SQLite dialect reports the same SQLSTATE. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

type Violation = { kind: 'unique' | 'foreign-key'; constraint: string };

/**
 * Runs a write and turns the constraint violations the caller can fix (a taken name, a row still
 * referenced) into the AppError `explain` returns for them; every other failure, and a violation
 * `explain` has nothing to say about (a colliding id is ours), stays an internal error.
 */
async function explainingViolations<T>(write: () => Promise<T>, explain: (v: Violation) => AppError | undefined): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const kind = isUniqueViolation(err) ? 'unique' : isForeignKeyViolation(err) ? 'foreign-key' : undefined;
    const known = kind && explain({ kind, constraint: constraintOf(err) });
    if (known) throw new AppError(known.code, known.message, { field: known.field, example: known.example, details: known.details, cause: err });
    throw err;
  }
}

/** Deleting a row something still references is a conflict the caller can resolve, not a 500. */
const deleting = (what: string) => (v: Violation) => (v.kind === 'foreign-key' ? referencedConflict(what) : undefined);

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));
const toDateOrNull = (v: Date | string | null): Date | null => (v === null ? null : toDate(v));

function mapCluster(r: Selectable<Database['clusters']>): Cluster {
  return {
    id: r.id,
    organizationId: r.organization_id,
    name: r.name,
    cloud: r.cloud as Cloud,
    type: r.type as ClusterType,
    region: r.region,
    issuerMode: r.issuer_mode as IssuerMode,
    kubernetesIssuerUrl: r.external_issuer_url,
    kubernetesCaCert: r.kubernetes_ca_cert,
    audiences: typeof r.audiences === 'string' ? (JSON.parse(r.audiences) as string[]) : (r.audiences ?? []),
    defaultIdentityAccount: r.default_identity_account,
    defaultIdentityProject: r.default_identity_project,
    defaultIdentityProjectNumber: r.default_identity_project_number,
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

function mapIdentity(r: Selectable<Database['identities']>): SavedIdentity {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    name: r.name,
    spec: r.spec as unknown as SavedIdentity['spec'],
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

function mapDeployment(r: Selectable<Database['deployments']>): Deployment {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    clusterId: r.cluster_id,
    name: r.name,
    description: r.description,
    runtimeVersion: r.runtime_version,
    namespace: r.namespace,
    identitySpec: (r.identity_spec as unknown as Deployment['identitySpec']) ?? null,
    identityId: r.identity_id,
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

function mapKey(r: Selectable<Database['signing_keys']>): SigningKeyRecord {
  return {
    clusterId: r.cluster_id,
    kid: r.kid,
    alg: r.alg as 'RS256',
    publicJwk: typeof r.public_jwk === 'string' ? (JSON.parse(r.public_jwk) as Record<string, unknown>) : r.public_jwk,
    privateKeyEnc: r.private_key_enc,
    createdAt: toDate(r.created_at),
    publishAt: toDate(r.publish_at),
    activateAt: toDate(r.activate_at),
    maxTokenTtlSeconds: r.max_token_ttl_seconds,
    revokedAt: toDateOrNull(r.revoked_at),
  };
}

function mapToken(r: Selectable<Database['api_tokens']>): ApiTokenRecord {
  return {
    id: r.id,
    name: r.name,
    secretHash: r.secret_hash,
    createdAt: toDate(r.created_at),
    lastUsedAt: toDateOrNull(r.last_used_at),
    revokedAt: toDateOrNull(r.revoked_at),
    role: r.role as Role,
    workspaceId: r.workspace_id,
    deploymentId: r.deployment_id,
    expiresAt: toDateOrNull(r.expires_at),
    createdBy: r.created_by,
    rotatedAt: toDateOrNull(r.rotated_at),
    previousSecretHash: r.previous_secret_hash,
    previousSecretExpiresAt: toDateOrNull(r.previous_secret_expires_at),
  };
}

function mapJoinCredential(r: Selectable<Database['join_credentials']>): JoinCredentialRecord {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    component: r.component,
    description: r.description,
    secretHash: r.secret_hash,
    createdAt: toDate(r.created_at),
    expiresAt: toDate(r.expires_at),
    lastUsedAt: toDateOrNull(r.last_used_at),
    revokedAt: toDateOrNull(r.revoked_at),
  };
}

function mapAudit(r: Selectable<Database['audit_events']>): AuditEventRecord {
  return {
    seq: Number(r.seq),
    at: toDate(r.at),
    actorType: r.actor_type,
    actorId: r.actor_id,
    actorName: r.actor_name,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    targetName: r.target_name,
    result: r.result,
    requestId: r.request_id,
    source: r.source,
    details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function mapConnection(r: Selectable<Database['connections']>): ConnectionRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    connId: r.conn_id,
    connType: r.conn_type,
    description: r.description,
    host: r.host,
    schema: r.schema,
    login: r.login,
    passwordEnc: r.password_enc,
    port: r.port,
    extra: typeof r.extra === 'string' ? (JSON.parse(r.extra) as Record<string, unknown>) : r.extra,
    allDeployments: Boolean(r.all_deployments),
    version: r.version,
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

function mapConnectionLink(r: Selectable<Database['connection_links']>): ConnectionLinkRecord {
  return {
    connectionId: r.connection_id,
    deploymentId: r.deployment_id,
    overrides: (typeof r.overrides === 'string' ? JSON.parse(r.overrides) : r.overrides) as ConnectionOverrides,
    passwordEnc: r.password_enc,
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

function mapMetastoreConnection(r: Selectable<Database['metastore_connections']>): MetastoreConnectionRecord {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    connId: r.conn_id,
    connType: r.conn_type,
    description: r.description,
    host: r.host,
    schema: r.schema,
    login: r.login,
    passwordEnc: r.password_enc,
    port: r.port,
    extra: typeof r.extra === 'string' ? (JSON.parse(r.extra) as Record<string, unknown>) : r.extra,
    source: r.source,
    importedAt: toDate(r.imported_at),
  };
}

/** An ILIKE pattern matching names that contain `s` literally: its `%`, `_` and backslashes are escaped. */
function containsPattern(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
}

/** Cursors are the last id seen, base64url-wrapped so callers treat them as opaque. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[a-z]+_[0-9a-z]+$/.test(id)) {
    throw new AppError('ERR_VALIDATION', 'cursor is not one this server issued', { field: 'cursor', example: 'use nextCursor from the previous page' });
  }
  return id;
}

/**
 * The methods that change what a workload profile or a join credential's validity derives from;
 * `onWrite` hears of each (see Store.generation).
 */
const PROFILE_WRITES = {
  clusters: ['insert', 'update', 'delete'],
  identities: ['insert', 'update', 'delete'],
  deployments: ['insert', 'update', 'delete'],
  joinCredentials: ['insert', 'revoke', 'revokeAll'],
} as const;

export interface RepoOptions {
  /**
   * The SQL the database speaks. Queries are written once, in PostgreSQL's terms; the SQLite
   * dialect (sqlite-dialect.ts) translates what it can, and the few statements with no common
   * form branch on this.
   */
  dialect: 'postgres' | 'sqlite';
  /** Hears of every write that changes a workload profile (see Store.generation). */
  onWrite?: (() => void) | undefined;
}

export function createRepos(db: Db, options: RepoOptions): Repos {
  const { onWrite } = options;
  const repos = createPlainRepos(db, options.dialect);
  if (!onWrite) return repos;
  for (const [repo, methods] of Object.entries(PROFILE_WRITES)) {
    const r = repos[repo as keyof typeof PROFILE_WRITES] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const m of methods) {
      const original = r[m]!.bind(r);
      r[m] = async (...a) => {
        try {
          return await original(...a);
        } finally {
          onWrite();
        }
      };
    }
  }
  return repos;
}

function createPlainRepos(db: Db, dialect: RepoOptions['dialect']): Repos {
  /** The explicit links of several connections in one query, with their Deployments' names, by connection id. */
  async function linksOfConnections(connectionIds: string[]): Promise<Map<string, NamedConnectionLink[]>> {
    const out = new Map<string, NamedConnectionLink[]>();
    if (connectionIds.length === 0) return out;
    const rows = await db
      .selectFrom('connection_links as l')
      .innerJoin('deployments as d', 'd.id', 'l.deployment_id')
      .selectAll('l')
      .select('d.name as deployment_name')
      .where('l.connection_id', 'in', connectionIds)
      .orderBy('d.name')
      .execute();
    for (const r of rows) {
      const list = out.get(r.connection_id) ?? [];
      list.push({ ...mapConnectionLink(r), deploymentName: r.deployment_name });
      out.set(r.connection_id, list);
    }
    return out;
  }
  return {
    variables: createVariableRepo(db),
    organizations: {
      async insert(o) {
        await db.insertInto('organizations').values({ id: o.id, name: o.name, created_at: o.createdAt }).execute();
      },
      async get(id) {
        const r = await db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
        return r && { id: r.id, name: r.name, createdAt: toDate(r.created_at) };
      },
      async list() {
        const rows = await db.selectFrom('organizations').selectAll().orderBy('created_at').orderBy('id').execute();
        return rows.map((r) => ({ id: r.id, name: r.name, createdAt: toDate(r.created_at) }));
      },
    },
    workspaces: {
      async insert(w) {
        await db
          .insertInto('workspaces')
          .values({ id: w.id, organization_id: w.organizationId, name: w.name, created_at: w.createdAt })
          .execute();
      },
      async get(id) {
        const r = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
        return r && { id: r.id, organizationId: r.organization_id, name: r.name, createdAt: toDate(r.created_at) };
      },
      async list(organizationId) {
        const rows = await db
          .selectFrom('workspaces')
          .selectAll()
          .where('organization_id', '=', organizationId)
          .orderBy('created_at')
          .orderBy('id')
          .execute();
        return rows.map((r) => ({ id: r.id, organizationId: r.organization_id, name: r.name, createdAt: toDate(r.created_at) }));
      },
    },
    clusters: {
      async insert(c) {
        // Only the name is the caller's to fix; a colliding id is ours, and stays a 500.
        await explainingViolations(
          () =>
            db
              .insertInto('clusters')
              .values({
                id: c.id,
                organization_id: c.organizationId,
                name: c.name,
                cloud: c.cloud,
                type: c.type,
                region: c.region,
                issuer_mode: c.issuerMode,
                external_issuer_url: c.kubernetesIssuerUrl,
                kubernetes_ca_cert: c.kubernetesCaCert,
                audiences: JSON.stringify(c.audiences),
                default_identity_account: c.defaultIdentityAccount,
                default_identity_project: c.defaultIdentityProject,
                default_identity_project_number: c.defaultIdentityProjectNumber,
                created_at: c.createdAt,
                updated_at: c.updatedAt,
              })
              .execute(),
          (v) => (v.kind === 'unique' && v.constraint.includes('name') ? new AppError('ERR_CONFLICT', `a cluster named "${c.name}" already exists`, { field: 'name' }) : undefined),
        );
      },
      async get(id) {
        const r = await db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirst();
        return r && mapCluster(r);
      },
      async getByName(name) {
        const r = await db.selectFrom('clusters').selectAll().where('name', '=', name).executeTakeFirst();
        return r && mapCluster(r);
      },
      async lock(id) {
        const r = await db.selectFrom('clusters').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
        return r !== undefined;
      },
      async list(page) {
        let q = db.selectFrom('clusters').selectAll().orderBy('id').limit(page.limit + 1);
        if (page.cursor) q = q.where('id', '>', decodeCursor(page.cursor));
        const rows = (await q.execute()).map(mapCluster);
        const more = rows.length > page.limit;
        const items = more ? rows.slice(0, page.limit) : rows;
        return more ? { items, nextCursor: encodeCursor(items[items.length - 1]!.id) } : { items };
      },
      async listAll() {
        return (await db.selectFrom('clusters').selectAll().orderBy('id').execute()).map(mapCluster);
      },
      async update(id, patch) {
        const values: Record<string, unknown> = {};
        if (patch.region !== undefined) values.region = patch.region;
        if (patch.updatedAt !== undefined) values.updated_at = patch.updatedAt;
        if (patch.defaultIdentityAccount !== undefined) values.default_identity_account = patch.defaultIdentityAccount;
        if (patch.defaultIdentityProject !== undefined) values.default_identity_project = patch.defaultIdentityProject;
        if (patch.defaultIdentityProjectNumber !== undefined) values.default_identity_project_number = patch.defaultIdentityProjectNumber;
        if (patch.kubernetesIssuerUrl !== undefined) values.external_issuer_url = patch.kubernetesIssuerUrl;
        if (patch.kubernetesCaCert !== undefined) values.kubernetes_ca_cert = patch.kubernetesCaCert;
        if (patch.audiences !== undefined) values.audiences = JSON.stringify(patch.audiences);
        if (Object.keys(values).length === 0) return this.get(id);
        const r = await db.updateTable('clusters').set(values).where('id', '=', id).returningAll().executeTakeFirst();
        return r && mapCluster(r);
      },
      async delete(id) {
        const r = await explainingViolations(() => db.deleteFrom('clusters').where('id', '=', id).executeTakeFirst(), deleting(`cluster ${id}`));
        return Number(r.numDeletedRows) > 0;
      },
    },
    identities: {
      async insert(i) {
        await explainingViolations(
          () =>
            db
              .insertInto('identities')
              .values({
                id: i.id,
                workspace_id: i.workspaceId,
                name: i.name,
                cloud: i.spec.cloud,
                spec: JSON.stringify(i.spec),
                created_at: i.createdAt,
                updated_at: i.updatedAt,
              })
              .execute(),
          (v) => (v.kind === 'unique' && v.constraint.includes('name') ? new AppError('ERR_CONFLICT', `an identity named "${i.name}" already exists`, { field: 'name' }) : undefined),
        );
      },
      async get(id) {
        const r = await db.selectFrom('identities').selectAll().where('id', '=', id).executeTakeFirst();
        return r && mapIdentity(r);
      },
      async getByName(workspaceId, name) {
        const r = await db.selectFrom('identities').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
        return r && mapIdentity(r);
      },
      async lock(id) {
        return (await db.selectFrom('identities').select('id').where('id', '=', id).forUpdate().executeTakeFirst()) !== undefined;
      },
      async list(workspaceId) {
        const rows = await db.selectFrom('identities').selectAll().where('workspace_id', '=', workspaceId).orderBy('name').execute();
        return rows.map(mapIdentity);
      },
      async update(id, patch) {
        const r = await db
          .updateTable('identities')
          .set({ spec: JSON.stringify(patch.spec), cloud: patch.spec.cloud, updated_at: patch.updatedAt })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst();
        return r && mapIdentity(r);
      },
      async delete(id) {
        const r = await explainingViolations(() => db.deleteFrom('identities').where('id', '=', id).executeTakeFirst(), deleting(`identity ${id}`));
        return Number(r.numDeletedRows) > 0;
      },
    },
    deployments: {
      async insert(d) {
        await explainingViolations(
          () =>
            db
              .insertInto('deployments')
              .values({
                id: d.id,
                workspace_id: d.workspaceId,
                cluster_id: d.clusterId,
                name: d.name,
                description: d.description,
                runtime_version: d.runtimeVersion,
                namespace: d.namespace,
                identity_spec: d.identitySpec === null ? null : JSON.stringify(d.identitySpec),
                identity_id: d.identityId,
                created_at: d.createdAt,
                updated_at: d.updatedAt,
              })
              .execute(),
          (v) => {
            if (v.kind === 'foreign-key') return new AppError('ERR_CONFLICT', 'the cluster or saved identity was deleted while this Deployment was being written; try again');
            if (v.constraint.includes('namespace')) return new AppError('ERR_CONFLICT', `namespace "${d.namespace}" is taken on this cluster`, { field: 'namespace' });
            if (v.constraint.includes('name')) return new AppError('ERR_CONFLICT', `a deployment named "${d.name}" already exists`, { field: 'name' });
            return undefined;
          },
        );
      },
      async get(id) {
        const r = await db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
        return r && mapDeployment(r);
      },
      async getByName(workspaceId, name) {
        const r = await db.selectFrom('deployments').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
        return r && mapDeployment(r);
      },
      async list(workspaceId, page, filter = {}) {
        let q = db.selectFrom('deployments').selectAll().where('workspace_id', '=', workspaceId).orderBy('id').limit(page.limit + 1);
        if (filter.id) q = q.where('id', '=', filter.id);
        if (filter.clusterId) q = q.where('cluster_id', '=', filter.clusterId);
        if (filter.identityId) q = q.where('identity_id', '=', filter.identityId);
        if (filter.nameContains) q = q.where('name', 'ilike', containsPattern(filter.nameContains));
        if (page.cursor) q = q.where('id', '>', decodeCursor(page.cursor));
        const rows = (await q.execute()).map(mapDeployment);
        const more = rows.length > page.limit;
        const items = more ? rows.slice(0, page.limit) : rows;
        return more ? { items, nextCursor: encodeCursor(items[items.length - 1]!.id) } : { items };
      },
      async listAll(filter) {
        let q = db.selectFrom('deployments').selectAll().orderBy('created_at').orderBy('id');
        if (filter.clusterId) q = q.where('cluster_id', '=', filter.clusterId);
        if (filter.identityId) q = q.where('identity_id', '=', filter.identityId);
        if (filter.nameContains) q = q.where('name', 'ilike', containsPattern(filter.nameContains));
        return (await q.execute()).map(mapDeployment);
      },
      async namespaceTaken(clusterId, namespace) {
        const r = await db.selectFrom('deployments').select('id').where('cluster_id', '=', clusterId).where('namespace', '=', namespace).executeTakeFirst();
        return r !== undefined;
      },
      async findByNamespaces(keys) {
        if (keys.length === 0) return [];
        const rows = await db
          .selectFrom('deployments as d')
          .innerJoin('clusters as c', 'c.id', 'd.cluster_id')
          .leftJoin('identities as i', 'i.id', 'd.identity_id')
          .select([
            'd.id',
            'd.name',
            'd.namespace',
            'd.cluster_id',
            'd.workspace_id',
            'd.updated_at as dep_updated_at',
            'i.updated_at as identity_updated_at',
            'c.updated_at as cluster_updated_at',
          ])
          .where((eb) => eb.or(keys.map((k) => eb.and([eb('d.cluster_id', '=', k.clusterId), eb('d.namespace', '=', k.namespace)]))))
          .execute();
        return rows.map((r) => ({
          deployment: { id: r.id, name: r.name, namespace: r.namespace, clusterId: r.cluster_id, workspaceId: r.workspace_id },
          profileVersion: profileVersionOf(r),
        }));
      },
      async update(id, patch) {
        const values: Record<string, unknown> = {};
        if (patch.description !== undefined) values.description = patch.description;
        if (patch.runtimeVersion !== undefined) values.runtime_version = patch.runtimeVersion;
        if (patch.identitySpec !== undefined) values.identity_spec = patch.identitySpec === null ? null : JSON.stringify(patch.identitySpec);
        if (patch.identityId !== undefined) values.identity_id = patch.identityId;
        if (patch.updatedAt !== undefined) values.updated_at = patch.updatedAt;
        if (Object.keys(values).length === 0) return this.get(id);
        const r = await db.updateTable('deployments').set(values).where('id', '=', id).returningAll().executeTakeFirst();
        return r && mapDeployment(r);
      },
      async delete(id) {
        const r = await db.deleteFrom('deployments').where('id', '=', id).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      },
    },
    signingKeys: {
      async insert(k) {
        await db
          .insertInto('signing_keys')
          .values({
            cluster_id: k.clusterId,
            kid: k.kid,
            alg: k.alg,
            public_jwk: JSON.stringify(k.publicJwk),
            private_key_enc: k.privateKeyEnc,
            created_at: k.createdAt,
            publish_at: k.publishAt,
            activate_at: k.activateAt,
            max_token_ttl_seconds: k.maxTokenTtlSeconds,
            revoked_at: k.revokedAt,
          })
          .execute();
      },
      async listForCluster(clusterId) {
        const rows = await db
          .selectFrom('signing_keys')
          .selectAll()
          .where('cluster_id', '=', clusterId)
          .orderBy('activate_at')
          .orderBy('created_at')
          .orderBy('kid')
          .execute();
        return rows.map(mapKey);
      },
      async revoke(clusterId, kid, at) {
        const r = await db
          .updateTable('signing_keys')
          .set({ revoked_at: at })
          .where('cluster_id', '=', clusterId)
          .where('kid', '=', kid)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
      },
    },
    apiTokens: {
      async insert(t) {
        await db
          .insertInto('api_tokens')
          .values({
            id: t.id,
            name: t.name,
            secret_hash: t.secretHash,
            created_at: t.createdAt,
            last_used_at: t.lastUsedAt,
            revoked_at: t.revokedAt,
            role: t.role,
            workspace_id: t.workspaceId,
            deployment_id: t.deploymentId,
            expires_at: t.expiresAt,
            created_by: t.createdBy,
            rotated_at: t.rotatedAt,
            previous_secret_hash: t.previousSecretHash,
            previous_secret_expires_at: t.previousSecretExpiresAt,
          })
          .execute();
      },
      async get(id) {
        const r = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
        return r && mapToken(r);
      },
      async list(filter = {}) {
        let q = db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id');
        if (filter.workspaceId) q = q.where('workspace_id', '=', filter.workspaceId);
        return (await q.execute()).map(mapToken);
      },
      async rotate(id, r) {
        const row = await db
          .updateTable('api_tokens')
          .set({ secret_hash: r.secretHash, previous_secret_hash: r.previousSecretHash, previous_secret_expires_at: r.previousExpiresAt, rotated_at: r.at })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .returningAll()
          .executeTakeFirst();
        return row && mapToken(row);
      },
      async touch(id, at) {
        await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
      },
      async revoke(id, at) {
        const r = await db.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
      },
    },
    joinCredentials: {
      async insert(c) {
        await db
          .insertInto('join_credentials')
          .values({
            id: c.id,
            deployment_id: c.deploymentId,
            component: c.component,
            description: c.description,
            secret_hash: c.secretHash,
            created_at: c.createdAt,
            expires_at: c.expiresAt,
            last_used_at: c.lastUsedAt,
            revoked_at: c.revokedAt,
          })
          .execute();
      },
      async listForDeployment(deploymentId) {
        const rows = await db.selectFrom('join_credentials').selectAll().where('deployment_id', '=', deploymentId).orderBy('created_at').orderBy('id').execute();
        return rows.map(mapJoinCredential);
      },
      async getForExchange(ids) {
        if (ids.length === 0) return [];
        const rows = await db
          .selectFrom('join_credentials as j')
          .innerJoin('deployments as d', 'd.id', 'j.deployment_id')
          .innerJoin('clusters as c', 'c.id', 'd.cluster_id')
          .leftJoin('identities as i', 'i.id', 'd.identity_id')
          .selectAll('j')
          .select([
            'd.name as dep_name',
            'd.namespace as dep_namespace',
            'd.cluster_id as dep_cluster_id',
            'd.workspace_id as dep_workspace_id',
            'd.updated_at as dep_updated_at',
            'i.updated_at as identity_updated_at',
            'c.updated_at as cluster_updated_at',
          ])
          .where('j.id', 'in', [...ids])
          .execute();
        return rows.map((r) => ({
          credential: mapJoinCredential(r),
          deployment: { id: r.deployment_id, name: r.dep_name, namespace: r.dep_namespace, clusterId: r.dep_cluster_id, workspaceId: r.dep_workspace_id },
          profileVersion: profileVersionOf(r),
        }));
      },
      async touch(ids, at) {
        if (ids.length === 0) return;
        await db.updateTable('join_credentials').set({ last_used_at: at }).where('id', 'in', [...ids]).execute();
      },
      async revoke(deploymentId, id, at) {
        await db.updateTable('join_credentials').set({ revoked_at: at }).where('id', '=', id).where('deployment_id', '=', deploymentId).where('revoked_at', 'is', null).execute();
        const r = await db.selectFrom('join_credentials').selectAll().where('id', '=', id).where('deployment_id', '=', deploymentId).executeTakeFirst();
        return r && mapJoinCredential(r);
      },
      async revokeAll(deploymentId, at) {
        const r = await db.updateTable('join_credentials').set({ revoked_at: at }).where('deployment_id', '=', deploymentId).where('revoked_at', 'is', null).executeTakeFirst();
        return Number(r.numUpdatedRows);
      },
    },
    audit: {
      async head() {
        const r = await db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
        return r && { seq: Number(r.seq), hash: r.hash };
      },
      async insertMany(events) {
        if (events.length === 0) return;
        const rows = events.map((e) => ({
          seq: e.seq,
          at: e.at.toISOString(),
          actor_type: e.actorType,
          actor_id: e.actorId,
          actor_name: e.actorName,
          action: e.action,
          target_type: e.targetType,
          target_id: e.targetId,
          target_name: e.targetName,
          result: e.result,
          request_id: e.requestId,
          source: e.source,
          details: e.details,
          prev_hash: e.prevHash,
          hash: e.hash,
        }));
        if (dialect === 'sqlite') {
          // In-process: bound parameters cost nothing to ship. 15 per row, well under SQLite's limit per statement.
          for (let i = 0; i < rows.length; i += 500) {
            await db
              .insertInto('audit_events')
              .values(rows.slice(i, i + 500).map((r) => ({ ...r, details: JSON.stringify(r.details) })))
              .execute();
          }
          return;
        }
        // One parameter for the whole batch (a JSON array expanded by the server): far cheaper
        // than 15 bound parameters per row over the wire.
        await sql`insert into audit_events select * from jsonb_populate_recordset(null::audit_events, ${JSON.stringify(rows)}::jsonb)`.execute(db);
      },
      async list(o) {
        let q = db
          .selectFrom('audit_events')
          .selectAll()
          .orderBy('seq', o.newestFirst ? 'desc' : 'asc')
          .limit(o.limit);
        if (o.afterSeq !== undefined) q = q.where('seq', '>', String(o.afterSeq) as never);
        if (o.newestFirst?.beforeSeq !== undefined) q = q.where('seq', '<', String(o.newestFirst.beforeSeq) as never);
        if (o.targetId) q = q.where('target_id', '=', o.targetId);
        if (o.target) {
          const t = o.target;
          q = q.where((eb) => eb.or([eb('target_id', '=', t), eb('target_name', '=', t)]));
        }
        if (o.actorId) q = q.where('actor_id', '=', o.actorId);
        if (o.action) q = q.where('action', '=', o.action);
        if (o.since) q = q.where('at', '>=', o.since);
        if (o.until) q = q.where('at', '<', o.until);
        return (await q.execute()).map(mapAudit);
      },
      async lastBefore(at) {
        const r = await db.selectFrom('audit_events').select(['seq', 'hash']).where('at', '<', at).orderBy('seq', 'desc').limit(1).executeTakeFirst();
        return r && { seq: Number(r.seq), hash: r.hash };
      },
      async deleteThrough(seq) {
        // The table refuses deletions (migration 0007) unless retention opens its gate, for this
        // transaction only: a setting local to it on PostgreSQL, a one-row flag on SQLite.
        const run = async (tx: Db) => {
          if (dialect === 'sqlite') await sql`update audit_retention_gate set open = 1`.execute(tx);
          else await sql`select set_config('airlock.audit_retention', 'on', true)`.execute(tx);
          const r = await tx.deleteFrom('audit_events').where('seq', '<=', String(seq) as never).executeTakeFirst();
          if (dialect === 'sqlite') await sql`update audit_retention_gate set open = 0`.execute(tx);
          return Number(r.numDeletedRows);
        };
        return db.isTransaction ? run(db) : db.transaction().execute(run);
      },
    },
    connections: {
      async insert(c) {
        await explainingViolations(
          () =>
            db
              .insertInto('connections')
              .values({
                id: c.id,
                workspace_id: c.workspaceId,
                conn_id: c.connId,
                conn_type: c.connType,
                description: c.description,
                host: c.host,
                schema: c.schema,
                login: c.login,
                password_enc: c.passwordEnc,
                port: c.port,
                extra: JSON.stringify(c.extra),
                all_deployments: c.allDeployments,
                version: c.version,
                created_at: c.createdAt,
                updated_at: c.updatedAt,
              })
              .execute(),
          (v) =>
            v.kind === 'unique' && v.constraint.includes('conn_id')
              ? new AppError('ERR_CONFLICT', `a connection with conn_id "${c.connId}" already exists in this workspace`, { field: 'connId', example: `airlock connection update ${c.connId} …` })
              : undefined,
        );
      },
      async get(id) {
        const r = await db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirst();
        return r && mapConnection(r);
      },
      async getByConnId(workspaceId, connId) {
        const r = await db.selectFrom('connections').selectAll().where('workspace_id', '=', workspaceId).where('conn_id', '=', connId).executeTakeFirst();
        return r && mapConnection(r);
      },
      async list(workspaceId) {
        const rows = await db.selectFrom('connections').selectAll().where('workspace_id', '=', workspaceId).orderBy('conn_id').execute();
        return rows.map(mapConnection);
      },
      async update(id, expectedVersion, patch) {
        const values: Record<string, unknown> = { updated_at: patch.updatedAt, version: sql`version + 1` };
        if (patch.connType !== undefined) values.conn_type = patch.connType;
        if (patch.description !== undefined) values.description = patch.description;
        if (patch.host !== undefined) values.host = patch.host;
        if (patch.schema !== undefined) values.schema = patch.schema;
        if (patch.login !== undefined) values.login = patch.login;
        if (patch.passwordEnc !== undefined) values.password_enc = patch.passwordEnc;
        if (patch.port !== undefined) values.port = patch.port;
        if (patch.extra !== undefined) values.extra = JSON.stringify(patch.extra);
        if (patch.allDeployments !== undefined) values.all_deployments = patch.allDeployments;
        const r = await db.updateTable('connections').set(values).where('id', '=', id).where('version', '=', expectedVersion).returningAll().executeTakeFirst();
        return r && mapConnection(r);
      },
      async delete(id) {
        const r = await db.deleteFrom('connections').where('id', '=', id).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      },
      async listForDeployment(workspaceId, deploymentId) {
        const rows = await db
          .selectFrom('connections as c')
          .leftJoin('connection_links as l', (j) => j.onRef('l.connection_id', '=', 'c.id').on('l.deployment_id', '=', deploymentId))
          .selectAll('c')
          .select([
            'l.deployment_id as link_deployment_id',
            'l.overrides as link_overrides',
            'l.password_enc as link_password_enc',
            'l.created_at as link_created_at',
            'l.updated_at as link_updated_at',
          ])
          .where('c.workspace_id', '=', workspaceId)
          .where((eb) => eb.or([eb('c.all_deployments', '=', true), eb('l.deployment_id', 'is not', null)]))
          .orderBy('c.conn_id')
          .execute();
        return rows.map((r) => ({
          connection: mapConnection(r),
          link:
            r.link_deployment_id === null
              ? null
              : mapConnectionLink({
                  connection_id: r.id,
                  deployment_id: r.link_deployment_id,
                  overrides: r.link_overrides!,
                  password_enc: r.link_password_enc,
                  created_at: r.link_created_at!,
                  updated_at: r.link_updated_at!,
                }),
        }));
      },
    },
    connectionLinks: {
      async upsert(l) {
        const overrides = JSON.stringify(l.overrides);
        await explainingViolations(
          () =>
            db
              .insertInto('connection_links')
              .values({
                connection_id: l.connectionId,
                deployment_id: l.deploymentId,
                overrides,
                password_enc: l.passwordEnc,
                created_at: l.createdAt,
                updated_at: l.updatedAt,
              })
              .onConflict((oc) => oc.columns(['connection_id', 'deployment_id']).doUpdateSet({ overrides, password_enc: l.passwordEnc, updated_at: l.updatedAt }))
              .execute(),
          (v) => (v.kind === 'foreign-key' ? new AppError('ERR_CONFLICT', 'the connection or the Deployment was deleted while the link was being written; try again') : undefined),
        );
      },
      async get(connectionId, deploymentId) {
        const r = await db.selectFrom('connection_links').selectAll().where('connection_id', '=', connectionId).where('deployment_id', '=', deploymentId).executeTakeFirst();
        return r && mapConnectionLink(r);
      },
      async listForConnection(connectionId) {
        return (await linksOfConnections([connectionId])).get(connectionId) ?? [];
      },
      listForConnections: (connectionIds) => linksOfConnections(connectionIds),
      async delete(connectionId, deploymentId) {
        const r = await db.deleteFrom('connection_links').where('connection_id', '=', connectionId).where('deployment_id', '=', deploymentId).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      },
    },
    metastoreConnections: {
      async upsert(m) {
        const existing = await db.selectFrom('metastore_connections').select('id').where('deployment_id', '=', m.deploymentId).where('conn_id', '=', m.connId).executeTakeFirst();
        const fields = {
          conn_type: m.connType,
          description: m.description,
          host: m.host,
          schema: m.schema,
          login: m.login,
          password_enc: m.passwordEnc,
          port: m.port,
          extra: JSON.stringify(m.extra),
          source: m.source,
          imported_at: m.importedAt,
        };
        if (existing) {
          await db.updateTable('metastore_connections').set(fields).where('id', '=', existing.id).execute();
          return 'replaced';
        }
        await explainingViolations(
          () => db.insertInto('metastore_connections').values({ id: m.id, deployment_id: m.deploymentId, conn_id: m.connId, ...fields }).execute(),
          (v) =>
            v.kind === 'unique' && v.constraint.includes('conn_id')
              ? new AppError('ERR_CONFLICT', `connection "${m.connId}" was imported for this Deployment by another request at the same time; import again`, { field: 'content' })
              : v.kind === 'foreign-key'
                ? new AppError('ERR_CONFLICT', 'the Deployment was deleted while its connections were being imported')
                : undefined,
        );
        return 'created';
      },
      async get(deploymentId, connId) {
        const r = await db.selectFrom('metastore_connections').selectAll().where('deployment_id', '=', deploymentId).where('conn_id', '=', connId).executeTakeFirst();
        return r && mapMetastoreConnection(r);
      },
      async listForDeployment(deploymentId) {
        const rows = await db.selectFrom('metastore_connections').selectAll().where('deployment_id', '=', deploymentId).orderBy('conn_id').execute();
        return rows.map(mapMetastoreConnection);
      },
      async delete(deploymentId, connId) {
        const r = await db.deleteFrom('metastore_connections').where('deployment_id', '=', deploymentId).where('conn_id', '=', connId).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      },
    },
    sealed: {
      async list(table) {
        const { keys, column } = SEALED_COLUMNS[table];
        const cols = sql.join(keys.map((k) => sql.ref(k)));
        const r = await sql<Record<string, string>>`select ${cols}, ${sql.ref(column)} as sealed_value from ${sql.table(table)} where ${sql.ref(column)} is not null`.execute(db);
        return r.rows.map((row) => ({ keys: keys.map((k) => String(row[k])), value: String(row.sealed_value) }));
      },
      async replace(table, values, from, to) {
        const { keys, column } = SEALED_COLUMNS[table];
        if (values.length !== keys.length) throw new Error(`sealed.replace(${table}): expected ${keys.length} key values`);
        const match = sql.join(
          keys.map((k, i) => sql`${sql.ref(k)} = ${values[i]}`),
          sql` and `,
        );
        const r = await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${to} where ${match} and ${sql.ref(column)} = ${from}`.execute(db);
        return Number(r.numAffectedRows ?? 0) > 0;
      },
    },
    settings: {
      async lock(name) {
        // SQLite: the transaction already holds the only connection, and the data-directory
        // lock keeps other processes out; there is nothing more to wait for.
        if (dialect === 'sqlite') return;
        await sql`select pg_advisory_xact_lock(hashtext(${name}))`.execute(db);
      },
      async get<T>(key: string) {
        const r = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
        // Both drivers hand jsonb back already parsed; parsing again would break string values.
        return r === undefined ? undefined : (r.value as T);
      },
      async put(key, value) {
        const v = JSON.stringify(value);
        await db
          .insertInto('settings')
          .values({ key, value: v })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: v, updated_at: sql`now()` }))
          .execute();
      },
    },
  };
}
