import type { CustomerIdentity } from '../cloud/types.ts';
import type { Role } from '../access/matrix.ts';
import type { Cloud, ClusterType, IssuerMode } from './terms.ts';

export type { Cloud, ClusterType, IssuerMode } from './terms.ts';

/**
 * The records Airlock keeps, as domain code sees them. The store (src/store) reads and writes
 * these; no SQL row shape leaks past it.
 */

export interface Organization {
  id: string;
  name: string;
  createdAt: Date;
}

export interface Workspace {
  id: string;
  organizationId: string;
  name: string;
  createdAt: Date;
}

export interface Cluster {
  id: string;
  organizationId: string;
  name: string;
  cloud: Cloud;
  type: ClusterType;
  region: string;
  /** `airlock`: Airlock is the cluster's OIDC issuer. `kubernetes`: the cluster's own issuer (e.g. EKS) is. */
  issuerMode: IssuerMode;
  /**
   * The cluster's own Kubernetes service-account issuer (kube-apiserver's `--service-account-issuer`):
   * what the clouds trust in `kubernetes` mode, and what pod tokens presented for a token exchange
   * are verified against in either mode. Null when not configured.
   */
  kubernetesIssuerUrl: string | null;
  /** PEM CA bundle for that issuer's discovery and JWKS, when it is not publicly trusted. */
  kubernetesCaCert: string | null;
  /** Extra audiences the cluster's workloads may ask tokens for, beyond their clouds'. */
  audiences: string[];
  /** AWS account holding the platform roles that are this cluster's Deployments' default identities. */
  defaultIdentityAccount: string | null;
  /** GCP project holding the platform service accounts that are this cluster's Deployments' default identities. */
  defaultIdentityProject: string | null;
  /** That project's number: GCP's federation audience names projects by number. */
  defaultIdentityProjectNumber: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A customer-managed identity saved under a name ("Save Configuration"), selectable by any Deployment of the workspace. */
export interface SavedIdentity {
  id: string;
  workspaceId: string;
  name: string;
  spec: CustomerIdentity;
  createdAt: Date;
  updatedAt: Date;
}

export interface Deployment {
  id: string;
  workspaceId: string;
  clusterId: string;
  name: string;
  description: string;
  runtimeVersion: string;
  /** Kubernetes namespace: generated once, unique per cluster, never changed. */
  namespace: string;
  /** A customer identity given inline (AWS role ARN, GCP service account). */
  identitySpec: CustomerIdentity | null;
  /** Or a saved identity. Neither = the default identity. */
  identityId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SigningKeyRecord {
  clusterId: string;
  /** RFC 7638 thumbprint of the public key. */
  kid: string;
  alg: 'RS256';
  publicJwk: Record<string, unknown>;
  /** Envelope-encrypted PKCS#8 private key (see src/crypto/envelope.ts). Never leaves the server. */
  privateKeyEnc: string;
  createdAt: Date;
  /** From this instant the key is in the JWKS. */
  publishAt: Date;
  /** From this instant the key signs (until a successor activates). */
  activateAt: Date;
  /** The longest token lifetime in force when the key was made; bounds how long it stays published after retiring. */
  maxTokenTtlSeconds: number;
  /** Set when the key was withdrawn at once (compromise): no longer published nor used. */
  revokedAt: Date | null;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  /** SHA-256 of the token's secret part, hex. The token itself is never stored. */
  secretHash: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** One role of src/access/matrix.ts, at the scope the two ids below give. */
  role: Role;
  /** Workspace- and Deployment-scoped roles: the workspace. */
  workspaceId: string | null;
  /** `deployment-admin`: the Deployment. */
  deploymentId: string | null;
  /** Null: no expiry. */
  expiresAt: Date | null;
  /** The token that created this one; null for the bootstrap (admin) token. */
  createdBy: string | null;
  rotatedAt: Date | null;
  /** After a rotation, the old secret's hash, valid until `previousSecretExpiresAt` (the overlap). */
  previousSecretHash: string | null;
  previousSecretExpiresAt: Date | null;
}

/** The Deployment components a join credential can be scoped to (see deployments/components.ts). */
export interface JoinCredentialRecord {
  id: string;
  deploymentId: string;
  component: string;
  description: string;
  /** SHA-256 of the secret part, hex. The credential itself is never stored. */
  secretHash: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** The fields a connection overrides for one Deployment (absent: the connection's own value). */
export interface ConnectionOverrides {
  connType?: string;
  description?: string;
  host?: string | null;
  schema?: string | null;
  login?: string | null;
  port?: number | null;
  /** Merged into the connection's extra key by key; a key set to null removes it. */
  extra?: Record<string, unknown>;
}

/** An Airflow connection held in a workspace (the Environment Manager). */
export interface ConnectionRecord {
  id: string;
  workspaceId: string;
  connId: string;
  connType: string;
  description: string;
  host: string | null;
  schema: string | null;
  login: string | null;
  /** Envelope-sealed password (aad `connection-password:<id>`); null when the connection has none. */
  passwordEnc: string | null;
  port: number | null;
  extra: Record<string, unknown>;
  /** Linked to every Deployment of the workspace, present and future. */
  allDeployments: boolean;
  /** Bumped by every change; a write that names an older version is refused (ERR_CONFLICT). */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** An explicit link of a connection to one Deployment, with that Deployment's overrides. */
export interface ConnectionLinkRecord {
  connectionId: string;
  deploymentId: string;
  overrides: ConnectionOverrides;
  /** Sealed password override (aad `connection-link-password:<connection id>:<deployment id>`). */
  passwordEnc: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A connection as a Deployment's Airflow metadata database holds it (imported from `airflow connections export`). */
export interface MetastoreConnectionRecord {
  id: string;
  deploymentId: string;
  connId: string;
  connType: string | null;
  description: string | null;
  host: string | null;
  schema: string | null;
  login: string | null;
  /** Sealed (aad `metastore-connection-password:<id>`). */
  passwordEnc: string | null;
  port: number | null;
  extra: Record<string, unknown>;
  /** Where it came from (the imported file's name). */
  source: string;
  importedAt: Date;
}

/** One audit record as stored (hash-chained by `seq`). */
export interface AuditEventRecord {
  seq: number;
  at: Date;
  actorType: string;
  actorId: string;
  actorName: string;
  action: string;
  targetType: string;
  targetId: string;
  targetName: string;
  /** `success`, or the error code of a refusal. */
  result: string;
  requestId: string | null;
  source: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** A page of results and the cursor for the next one (absent on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string | undefined;
}

/**
 * One environment variable of a Deployment as stored. Exactly one of `value` (plain) and
 * `valueSealed` (secret, sealed under the master key) is set.
 */
export interface DeploymentVariableRecord {
  deploymentId: string;
  key: string;
  secret: boolean;
  value: string | null;
  valueSealed: string | null;
  /** 1 when created; +1 on every update (optimistic concurrency). */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}
