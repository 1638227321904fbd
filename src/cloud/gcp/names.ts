/**
 * Google's identifiers, resource names and IAM member strings as Airlock generates them.
 *
 * Naming scheme (why it is shaped this way is in docs/gcp.md, "Pools and providers"):
 *
 * - **One workload identity pool per Airlock cluster** and project: `airlock-<cluster name>`.
 *   `principal://…/subject/<sub>` names a pool, not a provider, so two clusters in one pool would
 *   share subjects: a Deployment on cluster B whose namespace happens to equal one on cluster A
 *   would become A's service account. A pool per cluster keeps subjects unambiguous without
 *   rewriting `google.subject`, and it makes `principalSet://…/<pool>/*` mean exactly "every
 *   service account of this cluster", which is what the wildcard option promises.
 * - **One OIDC provider per Deployment** inside that pool: `ns-<namespace>`, whose attribute
 *   condition admits only that namespace. A per-cluster provider could only restrict to one
 *   namespace, so a second Deployment of the same cluster in the same project would either be
 *   refused or force a condition that admits every namespace. Providers cost nothing at exchange
 *   time and each one's audience is its own resource name, so tokens minted for one Deployment
 *   are refused by every other provider.
 * - **Wildcard (dedicated clusters)**: one shared provider `all-namespaces` per pool, whose
 *   condition admits every Kubernetes service account of the cluster, and a single
 *   `principalSet://…/<pool>/*` member.
 *
 * Google limits pool and provider IDs to 4–32 characters of `[a-z0-9-]` and reserves the `gcp-`
 * prefix. Airlock also keeps them starting with a letter and ending with a letter or digit (some
 * tooling validates that shape). When the readable form does not fit, the ID keeps as much of the
 * name as fits and ends in 8 hex digits of SHA-256 of the full name, so it stays deterministic,
 * recognisable and distinct.
 */
import { createHash } from 'node:crypto';

/** The Airlock shape of a pool or provider ID (a subset of what Google accepts). */
export const POOL_OR_PROVIDER_ID = /^[a-z][a-z0-9-]{2,30}[a-z0-9]$/;
/** Project IDs: 6–30 characters, lower-case letters, digits and hyphens, starting with a letter. */
export const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Project numbers: decimal, no leading zero. */
export const PROJECT_NUMBER = /^[1-9][0-9]{0,18}$/;
/**
 * User-managed service account emails: `<account-id>@<project-id>.iam.gserviceaccount.com`.
 * Google creates account IDs of 6–30 characters; shorter ones are accepted here (IAM itself is the
 * authority on whether the account exists), so only the shape that yields the project is enforced.
 */
export const SERVICE_ACCOUNT_EMAIL = /^([a-z](?:[a-z0-9-]{0,28}[a-z0-9])?)@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/;
/** Predefined (`roles/…`) and custom (`projects/<id>/roles/…`, `organizations/<n>/roles/…`) roles. */
export const ROLE = /^(roles\/[A-Za-z0-9_.]+|projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/roles\/[A-Za-z0-9_.]+|organizations\/[0-9]+\/roles\/[A-Za-z0-9_.]+)$/;

/** Prefix of every pool ID Airlock derives. */
export const POOL_ID_PREFIX = 'airlock-';
/** Prefix of per-Deployment provider IDs. */
export const PROVIDER_ID_PREFIX = 'ns-';
/** The provider that a dedicated cluster's wildcard Deployments share. */
export const WILDCARD_PROVIDER_ID = 'all-namespaces';
/** Google's documented limit on the mapped `google.subject`, in bytes. */
export const MAX_SUBJECT_BYTES = 127;

const IAM_HOST = 'iam.googleapis.com';
const MAX_ID = 32;
const HASH_CHARS = 8;

/** True for a pool or provider ID in Airlock's shape that Google also accepts. */
export function isValidPoolOrProviderId(id: string): boolean {
  return POOL_OR_PROVIDER_ID.test(id) && !id.startsWith('gcp-');
}

/**
 * `prefix + name` when that is a valid ID, otherwise `prefix + <head of name> + '-' + <8 hex of
 * sha256(name)>`. `prefix` must start with a letter and must not be `gcp-`.
 */
export function deriveId(prefix: string, name: string): string {
  const readable = `${prefix}${name}`;
  if (isValidPoolOrProviderId(readable)) return readable;
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_CHARS);
  const room = MAX_ID - prefix.length - 1 - HASH_CHARS;
  const head = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, Math.max(room, 0))
    .replace(/^-+|-+$/g, '');
  return head ? `${prefix}${head}-${hash}` : `${prefix}${hash}`;
}

/** The pool of a cluster: `airlock-<cluster name>`, hashed when longer than 24 characters. */
export function poolIdForCluster(clusterName: string): string {
  return deriveId(POOL_ID_PREFIX, clusterName);
}

/** The provider of one Deployment: `ns-<namespace>`, hashed when longer than 29 characters. */
export function providerIdForNamespace(namespace: string): string {
  return deriveId(PROVIDER_ID_PREFIX, namespace);
}

/** A pool, named as Google names it in members and audiences. */
export interface PoolRef {
  /** Digits, or a `${PLACEHOLDER}` when unknown. */
  projectNumber: string;
  poolId: string;
}

/** A provider inside a pool. */
export interface ProviderRef extends PoolRef {
  providerId: string;
}

/** `projects/<number>/locations/global/workloadIdentityPools/<pool>`. */
export function poolResourceName(p: PoolRef): string {
  return `projects/${p.projectNumber}/locations/global/workloadIdentityPools/${p.poolId}`;
}

/** `projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
export function providerResourceName(p: ProviderRef): string {
  return `${poolResourceName(p)}/providers/${p.providerId}`;
}

/**
 * The audience a token must carry for STS to accept it at this provider, and the `audience` of
 * the credential configuration: the provider's full resource name. With no `allowed_audiences`
 * configured, Google accepts exactly this (and its `https://iam.googleapis.com/…` spelling).
 */
export function providerAudience(p: ProviderRef): string {
  return `//${IAM_HOST}/${providerResourceName(p)}`;
}

/** `principal://iam.googleapis.com/projects/<n>/locations/global/workloadIdentityPools/<pool>/subject/<sub>`. */
export function subjectMember(p: PoolRef, subject: string): string {
  return `principal://${IAM_HOST}/${poolResourceName(p)}/subject/${subject}`;
}

/** `principalSet://…/<pool>/*`: every identity of the pool (with a pool per cluster: the whole cluster). */
export function poolMember(p: PoolRef): string {
  return `principalSet://${IAM_HOST}/${poolResourceName(p)}/*`;
}

/** `principalSet://…/<pool>/attribute.<name>/<value>`. */
export function attributeMember(p: PoolRef, name: string, value: string): string {
  return `principalSet://${IAM_HOST}/${poolResourceName(p)}/attribute.${name}/${value}`;
}

/** `serviceAccount:<email>`. */
export function serviceAccountMember(email: string): string {
  return `serviceAccount:${email}`;
}

/** `projects/<project>/serviceAccounts/<email>`: how Terraform's `service_account_id` names it. */
export function serviceAccountResourceName(email: string, projectId: string): string {
  return `projects/${projectId}/serviceAccounts/${email}`;
}

/** The IAM Credentials URL that mints an access token for `email`. */
export function impersonationUrl(email: string): string {
  return `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${email}:generateAccessToken`;
}

/** The project ID of a user-managed service account email, or undefined for other forms. */
export function projectIdOfServiceAccount(email: string): string | undefined {
  return SERVICE_ACCOUNT_EMAIL.exec(email)?.[2];
}
