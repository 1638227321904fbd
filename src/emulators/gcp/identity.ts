/**
 * Who a bearer token is, as the Google APIs the sandbox stands in for see it: bearer checks,
 * `GET /oauth2/v3/tokeninfo`, Cloud Resource Manager's `GET /v1/projects/<id or number>` (what
 * client libraries call for `getProjectId()`), and the sandbox's own whoami.
 */
import type { Clock } from '../../lib/clock.ts';
import { GET_PROJECT, GoogleApiError, scopeInsufficient, unauthenticated, type ApiMethod } from './errors.ts';
import { effectiveRoles, hasPermission, PERMISSIONS } from './iam.ts';
import { providerPath } from './resource-names.ts';
import type { GcpState } from './state.ts';
import { principalOf, principalSetsOf, type IssuedToken, type TokenStore } from './tokens.ts';

/** Whether a token's scopes include any of the accepted ones. */
export function hasAnyScope(scopes: string[], accepted: string[]): boolean {
  return scopes.some((s) => accepted.includes(s));
}

/** The token behind an `Authorization: Bearer …` header; throws Google's 401 otherwise. */
export function authenticate(tokens: TokenStore, authorization: string | undefined, m: ApiMethod): IssuedToken {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) throw unauthenticated('missing', m);
  const found = tokens.lookup(match[1]!);
  if (found.status === 'unknown') throw unauthenticated('invalid', m).withDetail('the bearer token was not issued by this sandbox (or it restarted since)');
  if (found.status === 'expired') throw unauthenticated('expired', m).withDetail(`the bearer token expired at ${new Date(found.record.expiresAt).toISOString()}`);
  return found.record;
}

/** Google's tokeninfo answer for a valid service account token. */
export interface TokenInfo {
  azp: string;
  aud: string;
  sub?: string;
  scope: string;
  exp: string;
  expires_in: string;
  email?: string;
  email_verified?: string;
  access_type: 'online';
}

/** Error body Google's tokeninfo sends for anything it does not recognise. */
export const TOKENINFO_INVALID = { error: 'invalid_token', error_description: 'Invalid Value' } as const;

const EMAIL_SCOPES = ['https://www.googleapis.com/auth/userinfo.email', 'email'];

/**
 * `GET /oauth2/v3/tokeninfo?access_token=…`. Google's tokeninfo knows service account tokens
 * only; a federated token gets `invalid_token`, as from Google. Like Google, the email (and
 * `sub`) appear only when the token carries the userinfo.email scope.
 */
export function tokenInfo(tokens: TokenStore, clock: Clock, accessToken: string | undefined): { status: 200; body: TokenInfo } | { status: 400; body: typeof TOKENINFO_INVALID } {
  if (!accessToken) return { status: 400, body: TOKENINFO_INVALID };
  const found = tokens.lookup(accessToken);
  if (found.status !== 'valid' || found.record.identity.kind !== 'serviceAccount') return { status: 400, body: TOKENINFO_INVALID };
  const { record } = found;
  const sa = record.identity as Extract<IssuedToken['identity'], { kind: 'serviceAccount' }>;
  const body: TokenInfo = {
    azp: sa.uniqueId,
    aud: sa.uniqueId,
    scope: record.scopes.join(' '),
    exp: String(record.expiresAt / 1000),
    expires_in: String(Math.max(0, Math.floor((record.expiresAt - clock.now()) / 1000))),
    access_type: 'online',
  };
  if (hasAnyScope(record.scopes, EMAIL_SCOPES)) Object.assign(body, { sub: sa.uniqueId, email: sa.email, email_verified: 'true' });
  return { status: 200, body };
}

/** Cloud Resource Manager v1 Project, the fields client libraries read. */
export interface ProjectResource {
  projectNumber: string;
  projectId: string;
  lifecycleState: 'ACTIVE';
  name: string;
}

const CRM_SCOPES = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/cloud-platform.read-only',
  'https://www.googleapis.com/auth/cloudplatformprojects',
  'https://www.googleapis.com/auth/cloudplatformprojects.readonly',
];

/**
 * `GET /v1/projects/<id or number>`. Needs `resourcemanager.projects.get` (Browser, Viewer, …)
 * on the project, for service account and federated tokens alike; Google answers an unknown
 * project and a missing grant with the same 403 so project IDs cannot be probed.
 */
export function getProject(d: { state: GcpState; tokens: TokenStore }, ref: string, authorization: string | undefined): ProjectResource {
  const caller = authenticate(d.tokens, authorization, GET_PROJECT);
  if (!hasAnyScope(caller.scopes, CRM_SCOPES)) throw scopeInsufficient(GET_PROJECT);
  const index = d.state.index();
  const project = index.projectsById.get(ref) ?? index.projectsByNumber.get(ref);
  const denied = new GoogleApiError(403, 'PERMISSION_DENIED', 'The caller does not have permission');
  if (!project) throw denied.withDetail(`no project "${ref}" in the sandbox`);
  if (!hasPermission(index, { kind: 'project', project }, caller.identity, PERMISSIONS.getProject)) {
    throw denied.withDetail(`${principalOf(caller.identity)} lacks ${PERMISSIONS.getProject} on project ${project.projectId}; grant e.g. roles/browser`);
  }
  return { projectNumber: project.projectNumber, projectId: project.projectId, lifecycleState: 'ACTIVE', name: project.displayName ?? project.projectId };
}

/** What `GET /_sandbox/gcp/whoami` answers: the identity behind a token and its direct grants. */
export interface WhoAmI {
  type: 'federated' | 'serviceAccount';
  /** The member string IAM bindings use for this identity. */
  principal: string;
  /** For federated identities: every principalSet the identity belongs to. */
  principalSets: string[];
  /** Federated: the provider that issued it and the mapped attributes. */
  provider?: string;
  subject?: string;
  attributes?: Record<string, string | string[]>;
  /** Service account: email, unique ID and the principals that led here. */
  email?: string;
  uniqueId?: string;
  delegationChain?: string[];
  scopes: string[];
  expireTime: string;
  /** Roles held on each project through project-level bindings (the direct-grant route). */
  projectRoles: { projectId: string; projectNumber: string; roles: string[] }[];
}

/** The identity behind a bearer token (federated or service account). */
export function whoami(d: { state: GcpState; tokens: TokenStore }, authorization: string | undefined, m: ApiMethod): WhoAmI {
  const { identity, scopes, expiresAt } = authenticate(d.tokens, authorization, m);
  const index = d.state.index();
  const projectRoles = [...index.projectsById.values()]
    .map((p) => ({ projectId: p.projectId, projectNumber: p.projectNumber, roles: effectiveRoles(index, { kind: 'project', project: p }, identity) }))
    .filter((p) => p.roles.length > 0);
  const base = { principal: principalOf(identity), principalSets: principalSetsOf(identity), scopes, expireTime: new Date(expiresAt).toISOString().replace('.000Z', 'Z'), projectRoles };
  if (identity.kind === 'federated') {
    return {
      type: 'federated',
      ...base,
      provider: providerPath({ ...identity.pool, providerId: identity.providerId }),
      subject: identity.subject,
      attributes: identity.attributes,
    };
  }
  return { type: 'serviceAccount', ...base, email: identity.email, uniqueId: identity.uniqueId, delegationChain: identity.delegationChain };
}
