// The shapes of the API's JSON answers the UI reads (src/api/routes/*.ts declares them).

export type Cloud = 'aws' | 'gcp' | 'azure';

export interface IdentityJson {
  cloud: Cloud;
  value: string;
  roleArn?: string;
  serviceAccountEmail?: string;
  projectNumber?: string;
  managedIdentityName?: string;
  resourceGroup?: string;
  subscriptionId?: string;
  clientId?: string;
  tenantId?: string;
}

export interface Deployment {
  id: string;
  name: string;
  description: string;
  workspaceId: string;
  clusterId: string;
  clusterName: string;
  cloud: Cloud;
  runtimeVersion: string;
  namespace: string;
  oidcIssuerUrl: string;
  workloadIdentity: (IdentityJson & { type: 'aws-iam-role' | 'gcp-service-account' | 'saved'; savedIdentityId?: string; savedIdentityName?: string }) | null;
  effectiveWorkloadIdentity: (IdentityJson & { mode: 'default' | 'customer-managed'; savedIdentityName?: string }) | null;
  effectiveWorkloadIdentityReason?: string;
  components: { component: string; serviceAccount: string; subject: string }[];
  createdAt: string;
  updatedAt: string;
}

export interface Cluster {
  id: string;
  name: string;
  cloud: Cloud;
  type: 'standard' | 'dedicated';
  region: string;
  issuerMode: 'airlock' | 'kubernetes';
  oidcIssuerUrl: string;
  tokenEndpoint: string | null;
  audiences: string[];
  createdAt: string;
}

export interface SigningKey {
  kid: string;
  state: 'pending' | 'active' | 'retired' | 'removed' | 'revoked';
  publishAt: string;
  activateAt: string;
  retiredAt?: string;
  removeAt?: string;
  revokedAt?: string;
}

export interface SavedIdentity {
  id: string;
  name: string;
  cloud: Cloud;
  identity: IdentityJson;
  createdAt: string;
  updatedAt: string;
}

export interface DeploymentOptions {
  workloadIdentityOptions: { name: string; id: string; cloud: string; value: string; deploymentsUsing: number; capacity?: number }[];
  defaultIdentity?: { available: boolean; pattern?: string; reason?: string };
}

export interface Credential {
  id: string;
  deploymentId: string;
  component: string;
  description: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  status: 'live' | 'expired' | 'revoked';
}

export interface SetupStep {
  title: string;
  description?: string;
  commands: string[];
  document?: { filename: string; content: unknown };
}

export interface Setup {
  cloud: Cloud;
  mode: 'default' | 'customer-managed';
  issuerUrl: string;
  audience: string;
  subjects: string[];
  steps: SetupStep[];
  connection: { conn_type: string; extra: Record<string, unknown> };
  environment?: Record<string, string>;
  placeholders: { name: string; description: string }[];
  notes: string[];
}

/** POST …/identity/check: what the cloud holds, checked against what the Deployment needs. */
export interface TrustCheck {
  cloud: Cloud;
  mode: 'default' | 'customer-managed';
  checked: string;
  ok: boolean;
  checks: { principal: string; component?: string | undefined; trusted: boolean; reason: string }[];
  findings: { severity: 'error' | 'warning' | 'info'; message: string }[];
}

export interface Variable {
  key: string;
  secret: boolean;
  /** null for a secret: the API never returns its value. */
  value: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface Connection {
  id: string;
  connId: string;
  connType: string;
  description: string;
  host: string | null;
  schema: string | null;
  login: string | null;
  /** Whether a password is stored; the password itself is never returned. */
  passwordSet: boolean;
  port: number | null;
  extra: Record<string, unknown>;
  allDeployments: boolean;
  deployments: { id: string; name: string; overrides: Record<string, unknown>; passwordOverridden: boolean }[];
  version: number;
  createdAt: string;
  updatedAt: string;
  derivation?: string;
}

/** A connection in a Deployment's metadata database (imported from an `airflow connections export` file); never its password. */
export interface MetastoreConnection {
  id: string;
  connId: string;
  connType: string | null;
  description: string | null;
  host: string | null;
  schema: string | null;
  login: string | null;
  passwordSet: boolean;
  port: number | null;
  extra: Record<string, unknown>;
  source: string;
  importedAt: string;
}

export interface ResolveDefinition {
  conn_type?: string | null;
  host?: string | null;
  login?: string | null;
  schema?: string | null;
  port?: number | null;
  extra?: Record<string, unknown>;
  passwordSet: boolean;
  withheld?: boolean;
}

export interface Resolved {
  connId: string;
  deployment: { id: string; name: string };
  winner: 'environment-manager' | 'environment-variable' | 'metadata-database' | null;
  secretsBackendConsultedFirst: boolean;
  steps: {
    position: number;
    source: 'secrets-backend' | 'environment-manager' | 'environment-variable' | 'metadata-database';
    status: 'consulted-first' | 'skips-connections' | 'winner' | 'shadowed' | 'not-defined' | 'not-configured' | 'unreadable';
    detail?: string;
    definition?: ResolveDefinition;
    differsFrom?: string[];
    secretsBackend?: { className: string; kwargs: Record<string, unknown> | null; kwargsWithheld: boolean; lookup?: string };
  }[];
  warnings: string[];
}

/** One audit record, as stored (GET /api/v1/audit). */
export interface AuditRecord {
  seq: number;
  at: string;
  actorType: string;
  actorId: string;
  actorName: string;
  action: string;
  targetType: string;
  targetId: string;
  targetName: string;
  result: string;
  requestId: string | null;
  source: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** GET /api/v1/audit/verify. */
export interface AuditVerify {
  ok: boolean;
  checked: number;
  firstSeq: number | null;
  lastSeq: number | null;
  brokenSeq: number | null;
  reason: string | null;
}

/** A snapshot of the embedded store (GET/POST /api/v1/backups). */
export interface Backup {
  name: string;
  path: string;
  bytes: number;
  createdAt: string;
}

/** GET /api/v1/backups: the snapshots, newest first, and the schedule; `dir` null on PostgreSQL. */
export interface BackupList {
  dir: string | null;
  dataDir: string | null;
  intervalSeconds: number;
  keep: number;
  items: Backup[];
}

/** An API token as listed (GET /api/v1/tokens); never its secret. */
export interface ApiToken {
  id: string;
  name: string;
  role: string;
  workspaceId: string | null;
  workspaceName: string | null;
  deploymentId: string | null;
  deploymentName: string | null;
  createdAt: string;
  createdBy: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  rotatedAt: string | null;
  previousSecretExpiresAt: string | null;
  revokedAt: string | null;
  status: 'live' | 'expired' | 'revoked';
}

/** GET /api/v1/tokens/self: the calling token, with every permission its role holds. */
export interface Self extends ApiToken {
  permissions: string[];
}

/** GET /api/v1/workspaces. */
export interface Workspace {
  id: string;
  name: string;
  organizationId: string;
  createdAt: string;
}
