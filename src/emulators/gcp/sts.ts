/**
 * Security Token Service: `POST https://sts.googleapis.com/v1/token`, the RFC 8693 token
 * exchange that turns a workload's OIDC token into a federated access token.
 *
 * The checks run in the order Google appears to run them (each failure answers with the OAuth
 * code and, where it has been observed, the exact wording Google uses):
 *   request parameters            → invalid_request / unsupported_grant_type
 *   provider exists and enabled   → invalid_target
 *   iss equals the issuer URI     → invalid_grant "The issuer in ID Token … does not match …"
 *   signature, key, times         → invalid_grant (signature / "Error connecting …" / "stale")
 *   aud in allowed audiences      → invalid_grant "The audience in ID Token […] does not match …"
 *   attribute mapping             → invalid_request
 *   attribute condition           → unauthorized_client "…rejected by the attribute condition."
 *   google.subject present, ≤127 B → invalid_request
 */
import type { Clock } from '../../lib/clock.ts';
import { TokenCheckError, type OidcVerifier } from '../shared/oidc-verifier.ts';
import { applyMapping, MappingError, MAX_SUBJECT_BYTES } from './attribute-mapping.ts';
import { evaluateCondition } from './cel.ts';
import { StsError } from './errors.ts';
import { parseStsAudience, providerPath } from './resource-names.ts';
import type { GcpState } from './state.ts';
import type { FederatedIdentity, TokenStore } from './tokens.ts';

/** The only grant type STS accepts (RFC 8693). */
export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** The only token type STS issues. */
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** Subject token types an OIDC provider accepts: a JWT, or (the same thing) an ID token. */
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
/** See {@link TOKEN_TYPE_JWT}. */
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

/** Longest federated token Google issues; a shorter-lived subject token shortens it further. */
export const MAX_FEDERATED_LIFETIME_SECONDS = 3600;
/** Signing algorithms Google accepts on OIDC tokens. */
export const ACCEPTED_ALGORITHMS = ['RS256', 'ES256'];

/** The form (or JSON) parameters of a token exchange; every value as the client sent it. */
export type StsRequest = Partial<Record<'grant_type' | 'audience' | 'scope' | 'requested_token_type' | 'subject_token' | 'subject_token_type' | 'options', unknown>>;

/** The RFC 8693 success response. */
export interface StsResponse {
  access_token: string;
  issued_token_type: typeof TOKEN_TYPE_ACCESS_TOKEN;
  token_type: 'Bearer';
  expires_in: number;
}

/** What a token exchange reads and writes. */
export interface StsDeps {
  state: GcpState;
  verifier: OidcVerifier;
  tokens: TokenStore;
  clock: Clock;
  /** Tolerance on iat, as Google's (about a minute each way). */
  clockSkewSeconds?: number;
}

/** proto3 JSON also names fields in lowerCamelCase (`grantType`); a JSON body may use either. */
const camel = (snake: string) => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function param(req: StsRequest, name: keyof StsRequest, required: boolean): string | undefined {
  const v = req[name] ?? (req as Record<string, unknown>)[camel(name)];
  if (v === undefined || v === '') {
    if (required) throw new StsError('invalid_request', `Missing required parameter: ${name}.`);
    return undefined;
  }
  // A repeated form field arrives as a list; RFC 6749 §3.2 forbids repeating parameters.
  if (typeof v !== 'string') throw new StsError('invalid_request', `Invalid value for "${name}". The parameter must be given once, as a string.`);
  return v;
}

const showList = (v: unknown) => `[${(Array.isArray(v) ? v : typeof v === 'string' ? [v] : []).join(', ')}]`;

/** Runs a token exchange. Throws {@link StsError} for every refusal. */
export async function exchangeToken(d: StsDeps, req: StsRequest): Promise<StsResponse> {
  const skew = d.clockSkewSeconds ?? 60;
  const grantType = param(req, 'grant_type', true)!;
  if (grantType !== GRANT_TYPE_TOKEN_EXCHANGE) {
    throw new StsError('unsupported_grant_type', `Invalid value for "grant_type". Supported: ${GRANT_TYPE_TOKEN_EXCHANGE}.`);
  }
  const requested = param(req, 'requested_token_type', true)!;
  if (requested !== TOKEN_TYPE_ACCESS_TOKEN) throw new StsError('invalid_request', 'Invalid value of requested_token_type in request.');
  const subjectTokenType = param(req, 'subject_token_type', true)!;
  const subjectToken = param(req, 'subject_token', true)!;
  const audience = param(req, 'audience', true)!;
  const scope = param(req, 'scope', false);
  const options = param(req, 'options', false);
  if (options !== undefined) {
    // Accepted and ignored: userProject (workforce pools) and accessBoundary are not modelled.
    let parsed: unknown;
    try {
      parsed = JSON.parse(options);
    } catch {
      throw new StsError('invalid_request', 'Invalid value for "options". It must be a JSON object.');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new StsError('invalid_request', 'Invalid value for "options". It must be a JSON object.');
  }
  const scopes = (scope ?? '').split(/\s+/).filter(Boolean);
  if (scopes.length === 0) throw new StsError('invalid_request', 'Scope(s) must be provided.');

  const name = parseStsAudience(audience);
  if (!name) throw new StsError('invalid_request', 'Invalid value for "audience". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats.');
  const compiled = d.state.index().providers.get(providerPath(name));
  if (!compiled || compiled.provider.disabled || compiled.pool.disabled) {
    const why = !compiled
      ? d.state.index().projectsById.has(name.projectNumber)
        ? `"${name.projectNumber}" is a project ID; the audience names the project by its number`
        : `no provider ${providerPath(name)}`
      : compiled.pool.disabled
        ? `pool ${compiled.pool.poolId} is disabled`
        : `provider ${compiled.provider.providerId} is disabled`;
    throw new StsError(
      'invalid_target',
      'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.',
      why,
    );
  }
  if (subjectTokenType !== TOKEN_TYPE_JWT && subjectTokenType !== TOKEN_TYPE_ID_TOKEN) {
    throw new StsError('invalid_request', `Invalid value for "subject_token_type". An OIDC provider accepts ${TOKEN_TYPE_JWT} or ${TOKEN_TYPE_ID_TOKEN}.`);
  }

  const expectedIssuer = compiled.provider.oidc.issuerUri;
  let iss: string | null;
  try {
    iss = d.verifier.peekIssuer(subjectToken);
  } catch {
    const loose = peekIssuerLoosely(subjectToken);
    if (loose === undefined) throw new StsError('invalid_grant', 'Unable to parse the ID Token.', 'the subject token is not a JWT');
    iss = loose;
  }
  if (iss !== expectedIssuer) {
    throw new StsError('invalid_grant', `The issuer in ID Token ${iss} does not match the expected one in config: ${expectedIssuer}.`);
  }

  let claims: Record<string, unknown>;
  try {
    ({ claims } = await d.verifier.verify(subjectToken, expectedIssuer, { algorithms: ACCEPTED_ALGORITHMS }));
  } catch (err) {
    if (!(err instanceof TokenCheckError)) throw err;
    throw tokenFailure(err, subjectToken);
  }
  const now = d.clock.now() / 1000;
  // jose checks exp and nbf; Google also wants iat and exp present and iat not in the future.
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') {
    throw new StsError('invalid_grant', `ID Token issued at ${typeof claims.iat === 'number' ? claims.iat : 'null'} is stale to sign-in.`, 'the token needs numeric iat and exp claims');
  }
  if (claims.iat > now + skew) {
    throw new StsError('invalid_grant', `ID Token issued at ${claims.iat} is stale to sign-in.`, `iat is ${Math.round(claims.iat - now)}s in the future`);
  }

  const aud = claims.aud;
  const auds: unknown[] = Array.isArray(aud) ? aud : [aud];
  if (!auds.some((a) => typeof a === 'string' && compiled.audiences.includes(a))) {
    throw new StsError('invalid_grant', `The audience in ID Token ${showList(aud)} does not match the expected audience.`, `allowed audiences: ${compiled.audiences.join(', ')}`);
  }

  let mapped;
  try {
    mapped = applyMapping(compiled.mapping, claims);
  } catch (err) {
    if (err instanceof MappingError) throw new StsError('invalid_request', err.message);
    throw err;
  }
  if (compiled.condition) {
    const r = evaluateCondition(compiled.condition, { assertion: claims, attribute: mapped.attributes, google: mapped.google });
    if (!r.pass) throw new StsError('unauthorized_client', 'The given credential is rejected by the attribute condition.', `condition ${r.reason}`);
  }
  if (mapped.subject === undefined || mapped.subject === '') {
    throw new StsError('invalid_request', 'The mapped attribute google.subject must not be empty. Either modify your attribute mapping or the incoming assertion to produce a non-empty google.subject.');
  }
  if (Buffer.byteLength(mapped.subject, 'utf8') > MAX_SUBJECT_BYTES) {
    throw new StsError(
      'invalid_request',
      'The size of mapped attribute google.subject exceeds the 127 bytes limit. Either modify your attribute mapping or the incoming assertion to produce a mapped attribute that is less than 127 bytes.',
    );
  }

  const { subject: _subject, ...googleRest } = mapped.google;
  const identity: FederatedIdentity = {
    kind: 'federated',
    pool: { projectNumber: compiled.name.projectNumber, poolId: compiled.name.poolId },
    providerId: compiled.name.providerId,
    subject: mapped.subject,
    google: googleRest,
    attributes: mapped.attributes,
  };
  // As measured against Google: the federated token lives until the subject token expires, at
  // most an hour. A token inside the skew window past exp still gets at least a second.
  const lifetime = Math.max(1, Math.min(MAX_FEDERATED_LIFETIME_SECONDS, Math.floor(claims.exp - now)));
  const issued = d.tokens.issue(identity, scopes, lifetime);
  return { access_token: issued.token, issued_token_type: TOKEN_TYPE_ACCESS_TOKEN, token_type: 'Bearer', expires_in: lifetime };
}

/** `iss` of a token that decodes but has no usable iss (Google then reports "null"). */
function peekIssuerLoosely(token: string): string | null | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
    const iss = (payload as { iss?: unknown }).iss;
    return typeof iss === 'string' ? iss : null;
  } catch {
    return undefined;
  }
}

function iatOf(token: string): string {
  try {
    const iat = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: unknown }).iat;
    return typeof iat === 'number' ? String(iat) : 'null';
  } catch {
    return 'null';
  }
}

/** Maps the shared verifier's reasons to what Google's STS answers. */
function tokenFailure(err: TokenCheckError, token: string): StsError {
  switch (err.reason) {
    case 'expired':
      return new StsError('invalid_grant', `ID Token issued at ${iatOf(token)} is stale to sign-in.`, err.message);
    case 'not-yet-valid':
      return new StsError('invalid_grant', `ID Token issued at ${iatOf(token)} is not valid yet.`, err.message);
    case 'bad-signature':
    case 'bad-algorithm':
      return new StsError('invalid_grant', 'Unable to verify the ID Token signature.', err.message);
    case 'issuer-unreachable':
    case 'unknown-key':
      // Google answers an unknown kid the same way as an unreachable issuer.
      return new StsError('invalid_grant', "Error connecting to the given credential's issuer.", err.message);
    case 'malformed':
      return new StsError('invalid_grant', 'Unable to parse the ID Token.', err.message);
  }
}
