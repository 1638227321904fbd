/**
 * Allow-policy evaluation: which roles an identity holds on a resource, and whether they carry a
 * permission. Only the roles and permissions the sandbox's endpoints check are modelled; any
 * other role may be granted (and shows up in whoami) but grants nothing the sandbox enforces.
 */
import type { CompiledBinding, GcpIndex, ProjectConfig } from './config.ts';
import type { Member } from './resource-names.ts';
import type { Identity } from './tokens.ts';

/** The permissions the sandbox checks. */
export const PERMISSIONS = {
  getAccessToken: 'iam.serviceAccounts.getAccessToken',
  implicitDelegation: 'iam.serviceAccounts.implicitDelegation',
  getProject: 'resourcemanager.projects.get',
} as const;

/**
 * The modelled part of Google's predefined roles. Workload Identity User can mint tokens for the
 * account it is granted on but cannot delegate; Token Creator can also be a link in a delegation
 * chain (`iam.serviceAccounts.implicitDelegation`).
 */
export const ROLE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  'roles/iam.workloadIdentityUser': ['iam.serviceAccounts.get', 'iam.serviceAccounts.getAccessToken', 'iam.serviceAccounts.getOpenIdToken', 'iam.serviceAccounts.list'],
  'roles/iam.serviceAccountTokenCreator': [
    'iam.serviceAccounts.get',
    'iam.serviceAccounts.getAccessToken',
    'iam.serviceAccounts.getOpenIdToken',
    'iam.serviceAccounts.implicitDelegation',
    'iam.serviceAccounts.list',
    'iam.serviceAccounts.signBlob',
    'iam.serviceAccounts.signJwt',
  ],
  'roles/browser': ['resourcemanager.projects.get'],
  'roles/viewer': ['resourcemanager.projects.get'],
  'roles/editor': ['resourcemanager.projects.get'],
  'roles/owner': ['resourcemanager.projects.get'],
};

function matches(member: Member, id: Identity): boolean {
  if (member.kind === 'serviceAccount') return id.kind === 'serviceAccount' && id.email === member.email;
  if (id.kind !== 'federated') return false;
  if (member.pool.projectNumber !== id.pool.projectNumber || member.pool.poolId !== id.pool.poolId) return false;
  switch (member.kind) {
    case 'subject':
      return member.subject === id.subject;
    case 'pool':
      return true;
    case 'attribute': {
      const v = id.attributes[member.name];
      return Array.isArray(v) ? v.includes(member.value) : v === member.value;
    }
    case 'group': {
      const g = id.google.groups;
      return Array.isArray(g) ? g.includes(member.group) : g === member.group;
    }
  }
}

/** The roles the bindings give the identity. */
export function rolesIn(bindings: CompiledBinding[], id: Identity): string[] {
  return bindings.filter((b) => b.members.some((m) => matches(m.member, id))).map((b) => b.role);
}

/** A resource whose policy is checked. */
export type IamResource = { kind: 'project'; project: ProjectConfig } | { kind: 'serviceAccount'; email: string };

/**
 * The roles an identity holds on a resource. A service account inherits its project's policy, as
 * in Google: Token Creator granted on the project applies to every account in it.
 */
export function effectiveRoles(index: GcpIndex, resource: IamResource, id: Identity): string[] {
  if (resource.kind === 'project') return rolesIn(index.projectBindings.get(resource.project.projectId) ?? [], id);
  const sa = index.serviceAccountsByEmail.get(resource.email);
  if (!sa) return [];
  return [...new Set([...rolesIn(sa.bindings, id), ...rolesIn(index.projectBindings.get(sa.project.projectId) ?? [], id)])];
}

/** Whether the identity holds the permission on the resource. */
export function hasPermission(index: GcpIndex, resource: IamResource, id: Identity, permission: string): boolean {
  return effectiveRoles(index, resource, id).some((r) => ROLE_PERMISSIONS[r]?.includes(permission));
}
