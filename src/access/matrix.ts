/**
 * Who may do what, written once as data. The HTTP edge checks every route's declared permission
 * against {@link ROLE_PERMISSIONS}; docs/access.md's table is generated from it
 * ({@link permissionTable}); a test keeps the two in step and another walks every route × role.
 *
 * Roles are bound to a scope: the organization (everything in it), one workspace (its Deployments,
 * saved identities, join credentials and tokens), or one Deployment. A token holds exactly one
 * role at one scope.
 */

/** Where a role applies. */
export const SCOPE_LEVELS = ['organization', 'workspace', 'deployment'] as const;
export type ScopeLevel = (typeof SCOPE_LEVELS)[number];

export const ROLES = ['organization-owner', 'organization-member', 'workspace-owner', 'workspace-operator', 'workspace-viewer', 'deployment-admin'] as const;
export type Role = (typeof ROLES)[number];

export interface RoleInfo {
  level: ScopeLevel;
  /** The name a person uses with the scope (`--workspace data-eng --role operator`). */
  short: string;
  description: string;
}

export const ROLE_INFO: Record<Role, RoleInfo> = {
  'organization-owner': { level: 'organization', short: 'owner', description: 'Everything, in every workspace. The admin token is one.' },
  'organization-member': { level: 'organization', short: 'member', description: 'Reads organization objects: clusters, workspaces, workload lookups; scrapes /metrics (the webhook and Prometheus use one).' },
  'workspace-owner': { level: 'workspace', short: 'owner', description: "Everything in one workspace, including its tokens (up to its own role)." },
  'workspace-operator': { level: 'workspace', short: 'operator', description: "Creates, updates and deletes one workspace's Deployments, identities, join credentials and Airflow connections." },
  'workspace-viewer': { level: 'workspace', short: 'viewer', description: 'Reads one workspace; never a secret value.' },
  'deployment-admin': { level: 'deployment', short: 'admin', description: 'Reads one Deployment and the connections that reach it, and manages its join credentials and environment variables; nothing else.' },
};

/**
 * Every permission a route can require. `level` says whether the edge scopes the request to one
 * workspace: `workspace` objects are looked up in the request's workspace (`?workspace=`, else the
 * token's own), and objects of any other workspace are not found (404), so their existence does
 * not leak. `organization` routes act on what the whole organization shares (clusters, workspaces,
 * the audit log) or, for tokens, narrow to the caller's own scope themselves.
 */
export const PERMISSIONS = {
  'api.read': { level: 'organization', description: "Read the OpenAPI document and the calling token's own role, scope and permissions" },
  'cluster.read': { level: 'organization', description: 'List and get clusters and their signing-key metadata' },
  'cluster.write': { level: 'organization', description: 'Create, update and delete clusters; rotate their keys' },
  'workload.read': { level: 'organization', description: 'Look up the workload profile of a service account (the webhook)' },
  'workspace.read': { level: 'organization', description: 'List workspaces (a workspace-scoped token sees its own)' },
  'workspace.write': { level: 'organization', description: 'Create workspaces' },
  'deployment.read': { level: 'workspace', description: 'List and get Deployments and their cloud setup' },
  'deployment.write': { level: 'workspace', description: 'Create, update and delete Deployments' },
  'identity.read': { level: 'workspace', description: 'List and get saved identities and Deployment options' },
  'identity.write': { level: 'workspace', description: 'Save and delete saved identities' },
  'credential.read': { level: 'workspace', description: "List a Deployment's join credentials (never their secrets)" },
  'credential.write': { level: 'workspace', description: 'Create and revoke join credentials' },
  'variable.read': { level: 'workspace', description: "List a Deployment's environment variables and render its environment (plain values only, never a secret's)" },
  'variable.write': { level: 'workspace', description: "Create, update and delete a Deployment's environment variables (secrets are write-only)" },
  'connection.read': { level: 'workspace', description: 'List and get Airflow connections and their links (never a password)' },
  'connection.write': { level: 'workspace', description: 'Create, update, delete, link, unlink and import Airflow connections' },
  // Tokens span scopes (an organization owner manages all); the token service narrows to the caller's own.
  'token.read': { level: 'organization', description: 'List API tokens (never their secrets)' },
  'token.write': { level: 'organization', description: 'Create, rotate and revoke API tokens, never one with more power than the caller' },
  'audit.read': { level: 'organization', description: 'Read, export and verify the audit log' },
  'backup.read': { level: 'organization', description: 'List the snapshots of the embedded store and the backup schedule' },
  'backup.write': { level: 'organization', description: 'Take a snapshot of the embedded store now' },
  'master-key.read': { level: 'organization', description: 'See which master keys seal the stored secrets (fingerprints and counts; never a key)' },
  'master-key.write': { level: 'organization', description: 'Move every sealed value to the current master key (rotation)' },
  'metrics.read': { level: 'organization', description: 'Scrape the Prometheus metrics at /metrics (counts and cluster ids; no secret, no Deployment name)' },
} as const satisfies Record<string, { level: 'organization' | 'workspace'; description: string }>;

export type Permission = keyof typeof PERMISSIONS;

const WORKSPACE_VIEWER: readonly Permission[] = ['api.read', 'cluster.read', 'workspace.read', 'deployment.read', 'identity.read', 'credential.read', 'variable.read', 'connection.read'];
const WORKSPACE_OPERATOR: readonly Permission[] = [...WORKSPACE_VIEWER, 'deployment.write', 'identity.write', 'credential.write', 'variable.write', 'connection.write'];

/** The matrix: what each role may do. Anything not listed is denied. */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  'organization-owner': Object.keys(PERMISSIONS) as Permission[],
  'organization-member': ['api.read', 'cluster.read', 'workload.read', 'workspace.read', 'metrics.read'],
  'workspace-owner': [...WORKSPACE_OPERATOR, 'token.read', 'token.write'],
  'workspace-operator': WORKSPACE_OPERATOR,
  'workspace-viewer': WORKSPACE_VIEWER,
  // connection.read narrows to the connections linked to its Deployment or to all (and its own link on them).
  'deployment-admin': ['api.read', 'workspace.read', 'deployment.read', 'credential.read', 'credential.write', 'variable.read', 'variable.write', 'connection.read'],
};

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

export function isPermission(s: string): s is Permission {
  return Object.hasOwn(PERMISSIONS, s);
}

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

/**
 * Whether a holder of `a` could do everything a holder of `b` could, at the same scope: the
 * rule that stops a token from minting a more powerful one.
 */
export function roleCovers(a: Role, b: Role): boolean {
  return ROLE_PERMISSIONS[b].every((p) => roleAllows(a, p));
}

/** The permission matrix as a Markdown table (rows: permissions; columns: roles). docs/access.md embeds it. */
export function permissionTable(): string {
  const head = `| Permission | What it allows | ${ROLES.map((r) => `\`${r}\``).join(' | ')} |`;
  const rule = `|---|---|${ROLES.map(() => ':-:').join('|')}|`;
  const rows = (Object.keys(PERMISSIONS) as Permission[]).map(
    (p) => `| \`${p}\` | ${PERMISSIONS[p].description} | ${ROLES.map((r) => (roleAllows(r, p) ? '✓' : '')).join(' | ')} |`,
  );
  return [head, rule, ...rows].join('\n');
}

/** The roles as a Markdown table (scope, the short name used with a scope, meaning). */
export function roleTable(): string {
  return [
    '| Role | Scope | Short name | What it is for |',
    '|---|---|---|---|',
    ...ROLES.map((r) => `| \`${r}\` | ${ROLE_INFO[r].level} | \`${ROLE_INFO[r].short}\` | ${ROLE_INFO[r].description} |`),
  ].join('\n');
}

/** Markers around the generated tables in docs/access.md. */
export const GENERATED_BEGIN = '<!-- generated from src/access/matrix.ts: do not edit by hand -->';
export const GENERATED_END = '<!-- end of generated tables -->';

/** The generated part of docs/access.md, markers included. */
export function generatedAccessDocs(): string {
  return [GENERATED_BEGIN, '', '### Roles', '', roleTable(), '', '### Permissions', '', permissionTable(), '', GENERATED_END].join('\n');
}
