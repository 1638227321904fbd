/**
 * Google's resource names and IAM member strings, parsed and formatted in one place so every
 * module agrees on them. Google requires the project *number* in workload identity names; an ID
 * in its place is the most common misconfiguration, so the messages here say so.
 */

/** Project IDs: 6–30 characters, lower-case letters, digits and hyphens, starting with a letter. */
export const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Project numbers are decimal, without leading zeros. */
export const PROJECT_NUMBER = /^[1-9][0-9]{0,18}$/;
/** Pool and provider IDs: 4–32 characters of lower-case letters, digits and hyphens. */
export const POOL_OR_PROVIDER_ID = /^[a-z0-9-]{4,32}$/;
/** Service account IDs (the part before `@`): 6–30 characters, starting with a letter. */
export const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Roles: predefined (`roles/…`) or custom (`projects/<id>/roles/…`, `organizations/<n>/roles/…`). */
export const ROLE = /^(roles\/[A-Za-z0-9_.]+|(projects|organizations)\/[a-z0-9-]+\/roles\/[A-Za-z0-9_.]+)$/;

const IAM_HOST = 'iam.googleapis.com';

/** `projects/<n>/locations/global/workloadIdentityPools/<pool>/providers/<provider>` in parts. */
export interface ProviderName {
  projectNumber: string;
  poolId: string;
  providerId: string;
}

/** The relative resource name of a provider. */
export function providerPath(p: ProviderName): string {
  return `projects/${p.projectNumber}/locations/global/workloadIdentityPools/${p.poolId}/providers/${p.providerId}`;
}

/**
 * The audiences a provider accepts when none are configured: its full resource name, with the
 * `//iam.googleapis.com/` form and the `https://iam.googleapis.com/` form both accepted, as Google
 * documents.
 */
export function defaultAudiences(p: ProviderName): string[] {
  return [`//${IAM_HOST}/${providerPath(p)}`, `https://${IAM_HOST}/${providerPath(p)}`];
}

/**
 * Parses the STS `audience` parameter. Returns undefined when it is not the full resource name of
 * a workload identity provider (STS then answers invalid_request); a well-formed name whose
 * project is an ID rather than a number still parses, so the caller answers invalid_target — what
 * Google does for a provider that does not exist.
 */
export function parseStsAudience(audience: string): ProviderName | undefined {
  const m = /^\/\/iam\.googleapis\.com\/projects\/([^/]+)\/locations\/global\/workloadIdentityPools\/([^/]+)\/providers\/([^/]+)$/.exec(audience);
  if (!m) return undefined;
  return { projectNumber: m[1]!, poolId: m[2]!, providerId: m[3]! };
}

/** A pool, named as IAM members name it. */
export interface PoolName {
  projectNumber: string;
  poolId: string;
}

function poolPrefix(p: PoolName): string {
  return `${IAM_HOST}/projects/${p.projectNumber}/locations/global/workloadIdentityPools/${p.poolId}`;
}

/** `principal://…/subject/<subject>`: one federated identity. */
export function subjectPrincipal(p: PoolName, subject: string): string {
  return `principal://${poolPrefix(p)}/subject/${subject}`;
}

/** `principalSet://…/attribute.<name>/<value>`: every identity whose attribute has that value. */
export function attributePrincipalSet(p: PoolName, name: string, value: string): string {
  return `principalSet://${poolPrefix(p)}/attribute.${name}/${value}`;
}

/** `principalSet://…/group/<group>`: every identity whose google.groups holds the group. */
export function groupPrincipalSet(p: PoolName, group: string): string {
  return `principalSet://${poolPrefix(p)}/group/${group}`;
}

/** `principalSet://…/*`: every identity of the pool. */
export function poolPrincipalSet(p: PoolName): string {
  return `principalSet://${poolPrefix(p)}/*`;
}

/** An IAM member the sandbox understands. */
export type Member =
  | { kind: 'serviceAccount'; email: string }
  | { kind: 'subject'; pool: PoolName; subject: string }
  | { kind: 'attribute'; pool: PoolName; name: string; value: string }
  | { kind: 'group'; pool: PoolName; group: string }
  | { kind: 'pool'; pool: PoolName };

/** The result of parsing a member: the member, or why it is refused. */
export type MemberParse = { ok: true; member: Member } | { ok: false; message: string };

const SA_EMAIL = /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/;

/**
 * Parses an IAM member string. Accepted: `serviceAccount:<email>` and the workload identity
 * forms `principal://…/subject/…`, `principalSet://…/attribute.<name>/<value>`,
 * `principalSet://…/group/<group>`, `principalSet://…/*`. Users, groups and domains have no
 * meaning in the sandbox (nobody can sign in as them) and are refused.
 */
export function parseMember(s: string): MemberParse {
  if (s.startsWith('serviceAccount:')) {
    const email = s.slice('serviceAccount:'.length);
    return SA_EMAIL.test(email)
      ? { ok: true, member: { kind: 'serviceAccount', email } }
      : { ok: false, message: `"${email}" is not a service account email (<account-id>@<project-id>.iam.gserviceaccount.com)` };
  }
  const m = /^(principal|principalSet):\/\/iam\.googleapis\.com\/projects\/([^/]+)\/locations\/([^/]+)\/workloadIdentityPools\/([^/]+)\/(.+)$/.exec(s);
  if (m) {
    const [, scheme, project, location, poolId, rest] = m as unknown as [string, string, string, string, string, string];
    if (!PROJECT_NUMBER.test(project)) {
      return { ok: false, message: `"${project}" is not a project number; workload identity principals name the project by its number, not its ID` };
    }
    if (location !== 'global') return { ok: false, message: `workload identity pools live in location "global", not "${location}"` };
    if (!POOL_OR_PROVIDER_ID.test(poolId)) return { ok: false, message: `"${poolId}" is not a pool ID (4–32 lower-case letters, digits, hyphens)` };
    const pool = { projectNumber: project, poolId };
    if (scheme === 'principal') {
      const sub = /^subject\/(.+)$/.exec(rest);
      return sub ? { ok: true, member: { kind: 'subject', pool, subject: sub[1]! } } : { ok: false, message: 'a principal:// member must end in /subject/<subject>' };
    }
    if (rest === '*') return { ok: true, member: { kind: 'pool', pool } };
    const attr = /^attribute\.([a-z_][a-z0-9_]{0,99})\/(.+)$/.exec(rest);
    if (attr) return { ok: true, member: { kind: 'attribute', pool, name: attr[1]!, value: attr[2]! } };
    const group = /^group\/(.+)$/.exec(rest);
    if (group) return { ok: true, member: { kind: 'group', pool, group: group[1]! } };
    return { ok: false, message: 'a principalSet:// member must end in /attribute.<name>/<value>, /group/<group> or /*' };
  }
  if (/^(user|group|domain|deleted):|^allUsers$|^allAuthenticatedUsers$/.test(s)) {
    return { ok: false, message: `"${s}" cannot sign in to the sandbox; grant to serviceAccount:…, principal://… or principalSet://… members` };
  }
  return { ok: false, message: `"${s}" is not an IAM member; expected serviceAccount:<email>, principal://iam.googleapis.com/… or principalSet://iam.googleapis.com/…` };
}

/** The email of a service account. */
export function serviceAccountEmail(accountId: string, projectId: string): string {
  return `${accountId}@${projectId}.iam.gserviceaccount.com`;
}

/** The project ID a service account email belongs to, when it has the standard form. */
export function projectIdOfEmail(email: string): string | undefined {
  return /^[^@]+@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/.exec(email)?.[1];
}
