/**
 * IAM Service Account Credentials:
 * `POST https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/<email>:generateAccessToken`.
 *
 * The caller (a federated token, or a service account token in a chain) asks for a token of a
 * service account. Each hop of the chain — caller → delegates[0] → … → target — is an IAM check
 * on the account being stepped onto: the last hop needs `iam.serviceAccounts.getAccessToken`
 * (Workload Identity User or Token Creator), every earlier hop needs
 * `iam.serviceAccounts.implicitDelegation` (Token Creator), as Google documents for `delegates`.
 */
import type { Clock } from '../../lib/clock.ts';
import { GENERATE_ACCESS_TOKEN, iamPermissionDenied, invalidArgument, notFound, scopeInsufficient } from './errors.ts';
import { hasPermission, PERMISSIONS } from './iam.ts';
import { authenticate, hasAnyScope } from './identity.ts';
import type { GcpState } from './state.ts';
import { principalOf, type Identity, type TokenStore } from './tokens.ts';

/** The scope every Google API accepts; a caller of generateAccessToken needs it or {@link IAM_SCOPE}. */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** The narrower scope IAM Credentials also accepts. */
export const IAM_SCOPE = 'https://www.googleapis.com/auth/iam';
/** Longest lifetime without the org policy that extends it to 12 hours (not modelled). */
export const MAX_SA_TOKEN_LIFETIME_SECONDS = 3600;

/** What generateAccessToken reads: the world, the issued tokens, now. */
export interface IamCredentialsDeps {
  state: GcpState;
  tokens: TokenStore;
  clock: Clock;
}

/** A generateAccessToken call, unpacked from HTTP by the routes. */
export interface GenerateAccessTokenRequest {
  /** The `projects/<project>` segment of the path; Google requires `-`. */
  project: string;
  /** The account segment of the path: an email or a unique ID. */
  account: string;
  authorization: string | undefined;
  body: unknown;
}

/** Google's response body, field for field. */
export interface GenerateAccessTokenResponse {
  accessToken: string;
  /** RFC 3339 in UTC without fractional seconds, as Google sends it (Python parses it strictly). */
  expireTime: string;
}

/** `2026-11-21T23:00:00Z`: Google's format, which some clients parse with a fixed pattern. */
export function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const SCOPE_FORM = /^https:\/\/www\.googleapis\.com\/auth\/[a-z0-9._-]+$/;
const SHORT_SCOPES = ['openid', 'email', 'profile'];

function parseScopes(raw: unknown): string[] {
  if (raw === undefined) throw invalidArgument('Request contains an invalid argument.', 'scope', 'At least one scope is required.');
  if (!Array.isArray(raw) || raw.some((s) => typeof s !== 'string')) {
    throw invalidArgument('Request contains an invalid argument.', 'scope', 'scope must be a list of strings.');
  }
  const given = (raw as string[]).filter((s) => s !== '');
  // Measured against Google: [""] yields a cloud-platform token rather than an error.
  if (raw.length > 0 && given.length === 0) return [CLOUD_PLATFORM_SCOPE];
  if (given.length === 0) throw invalidArgument('Request contains an invalid argument.', 'scope', 'At least one scope is required.');
  for (const s of given) {
    if (!SCOPE_FORM.test(s) && !SHORT_SCOPES.includes(s)) {
      throw invalidArgument('Request contains an invalid argument.', 'scope', `"${s}" is not an OAuth scope; scopes look like ${CLOUD_PLATFORM_SCOPE}.`);
    }
  }
  return [...new Set(given)];
}

function parseLifetime(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return MAX_SA_TOKEN_LIFETIME_SECONDS;
  const m = typeof raw === 'string' ? /^(\d{1,12})(\.\d{1,9})?s$/.exec(raw) : null;
  if (!m) throw invalidArgument(`Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(raw)}`, 'lifetime', 'a duration such as "3600s"');
  const seconds = Number(m[1]);
  if (seconds <= 0) throw invalidArgument('Lifetime of access token must be larger then zero.', 'lifetime');
  if (seconds > MAX_SA_TOKEN_LIFETIME_SECONDS) {
    throw invalidArgument(
      'The lifetime of the access token can not be more than 1 hour. Use the Org Policy Constraint constraints/iam.allowServiceAccountCredentialLifetimeExtension to allow up to 12 hours.',
      'lifetime',
    );
  }
  return seconds;
}

function parseDelegates(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidArgument('Request contains an invalid argument.', 'delegates', 'delegates must be a list of strings.');
  return raw.map((d, i) => {
    const m = typeof d === 'string' ? /^projects\/-\/serviceAccounts\/([^/]+)$/.exec(d) : null;
    if (!m) {
      throw invalidArgument('Request contains an invalid argument.', `delegates[${i}]`, `expected projects/-/serviceAccounts/<email or unique ID>, got ${JSON.stringify(d)}`);
    }
    return m[1]!;
  });
}

/** Issues a service account access token to an authorised caller. */
export function generateAccessToken(d: IamCredentialsDeps, req: GenerateAccessTokenRequest): GenerateAccessTokenResponse {
  if (req.project !== '-') {
    throw invalidArgument('Request contains an invalid argument.', 'name', 'The resource name must be projects/-/serviceAccounts/<email or unique ID>; the - wildcard is required.');
  }
  const caller = authenticate(d.tokens, req.authorization, GENERATE_ACCESS_TOKEN);
  if (!hasAnyScope(caller.scopes, [CLOUD_PLATFORM_SCOPE, IAM_SCOPE])) throw scopeInsufficient(GENERATE_ACCESS_TOKEN);

  const body = req.body ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('Invalid JSON payload received. Expected an object.');
  const known = ['scope', 'lifetime', 'delegates', 'name'];
  const unknown = Object.keys(body).find((k) => !known.includes(k));
  if (unknown) throw invalidArgument(`Invalid JSON payload received. Unknown name "${unknown}": Cannot find field.`, unknown);
  const b = body as Record<string, unknown>;
  const scopes = parseScopes(b.scope);
  const lifetime = parseLifetime(b.lifetime);
  const delegateRefs = parseDelegates(b.delegates);

  const index = d.state.index();
  const resolve = (ref: string) => {
    const e = index.serviceAccountsByEmail.get(ref) ?? index.serviceAccountsByUniqueId.get(ref);
    if (!e) throw notFound(`Not found; Gaia id not found for email ${ref}`);
    return e.account;
  };
  const target = resolve(req.account);
  const chain = [...delegateRefs.map(resolve), target];

  let actor: Identity = caller.identity;
  chain.forEach((account, i) => {
    const last = i === chain.length - 1;
    const permission = last ? PERMISSIONS.getAccessToken : PERMISSIONS.implicitDelegation;
    if (!hasPermission(index, { kind: 'serviceAccount', email: account.email }, actor, permission)) {
      // Google reports getAccessToken for any broken link; the sandbox detail says which one.
      throw iamPermissionDenied(PERMISSIONS.getAccessToken).withDetail(`${principalOf(actor)} lacks ${permission} on ${account.email}`);
    }
    actor = { kind: 'serviceAccount', email: account.email, uniqueId: account.uniqueId, delegationChain: [] };
  });

  const callerChain = caller.identity.kind === 'serviceAccount' ? [...caller.identity.delegationChain, principalOf(caller.identity)] : [principalOf(caller.identity)];
  const issued = d.tokens.issue(
    { kind: 'serviceAccount', email: target.email, uniqueId: target.uniqueId, delegationChain: [...callerChain, ...chain.slice(0, -1).map((a) => `serviceAccount:${a.email}`)] },
    scopes,
    lifetime,
  );
  return { accessToken: issued.token, expireTime: rfc3339Seconds(issued.expiresAt) };
}
