import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Clock } from '../../lib/clock.ts';
import { TokenCheckError, type OidcVerifier } from '../shared/oidc-verifier.ts';
import { aadsts } from './aadsts.ts';
import type { AccessTokenService } from './access-tokens.ts';
import { tenantIssuer } from './discovery.ts';
import type { ManagedIdentity } from './model.ts';
import type { AzureState } from './state.ts';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A token request as the form carried it (each parameter once; duplicates are refused earlier). */
export interface TokenRequest {
  /** The `<tenant>` path segment. */
  tenant: string;
  params: Record<string, string | undefined>;
  /** `https://<host>` the client used; the issued token's `iss` is built from it. */
  origin: string;
}

/** Entra's successful client-credentials response. */
export interface TokenResponse {
  token_type: 'Bearer';
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
}

/** The outcome with the identity, for logs and tests; the HTTP layer sends only `response`. */
export interface TokenGrant {
  response: TokenResponse;
  identity: ManagedIdentity;
}

export interface TokenExchangeDeps {
  state: AzureState;
  verifier: OidcVerifier;
  tokens: AccessTokenService;
  clock: Clock;
}

export interface TokenExchange {
  /** Grants a token or throws the `EntraError` Entra would answer with. */
  exchange(req: TokenRequest): Promise<TokenGrant>;
}

const DEFAULT_SUFFIX = '/.default';

/** The resource a client-credentials scope names, or the AADSTS error Entra gives for the scope. */
export function resourceOfScope(scope: string | undefined): string {
  if (scope === undefined || scope.trim() === '') throw aadsts.missingParameter('scope');
  const scopes = scope.trim().split(/\s+/);
  // Client credentials get one resource per token; several scopes are refused whole.
  if (scopes.length > 1) throw aadsts.invalidScope(scope);
  const only = scopes[0]!;
  if (!only.endsWith(DEFAULT_SUFFIX)) throw aadsts.scopeWithoutDefault(only);
  const resource = only.slice(0, -DEFAULT_SUFFIX.length);
  if (resource === '') throw aadsts.invalidScope(only);
  return resource;
}

function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

/** Unverified claims, only ever used to word an error message. */
function peekClaims(token: string): { sub: string; aud: string; nbf?: number | undefined; exp?: number | undefined } {
  try {
    const c = decodeJwt(token);
    return { sub: typeof c.sub === 'string' ? c.sub : '', aud: audiences(c.aud).join(','), nbf: c.nbf, exp: c.exp };
  } catch {
    return { sub: '', aud: '' };
  }
}

/**
 * What Entra does with `grant_type=client_credentials` and a federated `client_assertion` for a
 * user-assigned managed identity, in this order:
 *
 *  1. the tenant in the path exists (AADSTS90002);
 *  2. the form is a client-credentials request with a `.default` scope (900144, 70003, 1002012, 70011);
 *  3. the client id is a managed identity in that tenant (700016);
 *  4. a federated assertion is presented (7000218, 90014, 7000215);
 *  5. some federated credential on the identity names the assertion's issuer, read unverified
 *     (70021). Only then is anything fetched from that issuer, so an assertion cannot make the
 *     sandbox fetch from a URL nobody configured;
 *  6. signature, algorithm (RS256 only) and lifetime against the issuer's JWKS (50027, 90061,
 *     7000272, 700024);
 *  7. a credential matches issuer and subject exactly, case-sensitively (70021), and its
 *     audience is among the assertion's `aud` (700212).
 */
export function createTokenExchange(d: TokenExchangeDeps): TokenExchange {
  async function verified(assertion: string, issuer: string) {
    try {
      return await d.verifier.verify(assertion, issuer, { algorithms: ['RS256'] });
    } catch (err) {
      if (!(err instanceof TokenCheckError)) throw err;
      switch (err.reason) {
        case 'malformed':
          throw aadsts.malformedAssertion(err.message);
        case 'issuer-unreachable':
          throw aadsts.issuerUnreachable();
        case 'unknown-key': {
          let kid = '(none)';
          try {
            kid = decodeProtectedHeader(assertion).kid ?? kid;
          } catch {
            /* the header decoded once already; keep the placeholder */
          }
          throw aadsts.unknownSigningKey(kid, issuer);
        }
        case 'bad-signature':
          throw aadsts.badSignature(issuer);
        case 'bad-algorithm': {
          let alg = '(none)';
          try {
            alg = decodeProtectedHeader(assertion).alg ?? alg;
          } catch {
            /* as above */
          }
          throw aadsts.unsupportedAlgorithm(alg);
        }
        case 'expired':
        case 'not-yet-valid': {
          const c = peekClaims(assertion);
          throw aadsts.assertionTimeRange(d.clock.now(), c.nbf === undefined ? undefined : c.nbf * 1000, c.exp === undefined ? undefined : c.exp * 1000);
        }
      }
    }
  }

  return {
    async exchange({ tenant, params, origin }) {
      const directory = d.state.getTenant(tenant);
      if (!directory) throw aadsts.tenantNotFound(tenant);

      const grantType = params.grant_type;
      if (!grantType) throw aadsts.missingParameter('grant_type');
      if (grantType !== 'client_credentials') throw aadsts.unsupportedGrantType(grantType);
      const clientId = params.client_id;
      if (!clientId) throw aadsts.missingParameter('client_id');
      const resource = resourceOfScope(params.scope);

      const identity = d.state.findByClientId(directory.tenantId, clientId);
      if (!identity) throw aadsts.clientNotFound(clientId, tenant);

      const assertion = params.client_assertion;
      if (!assertion) throw params.client_secret ? aadsts.clientSecretNotAccepted() : aadsts.missingClientCredential();
      if (params.client_assertion_type !== JWT_BEARER_ASSERTION_TYPE) throw aadsts.badAssertionType(params.client_assertion_type);

      let issuer: string;
      try {
        issuer = d.verifier.peekIssuer(assertion);
      } catch (err) {
        throw aadsts.malformedAssertion(err instanceof Error ? err.message : 'the assertion cannot be decoded');
      }
      const byIssuer = identity.federatedIdentityCredentials.filter((c) => c.issuer === issuer);
      if (byIssuer.length === 0) {
        const c = peekClaims(assertion);
        throw aadsts.noMatchingCredential(issuer, c.sub, c.aud);
      }

      const { claims } = (await verified(assertion, issuer))!;
      const subject = typeof claims.sub === 'string' ? claims.sub : '';
      const presented = audiences(claims.aud);
      const bySubject = byIssuer.filter((c) => c.subject === subject);
      if (bySubject.length === 0) throw aadsts.noMatchingCredential(issuer, subject, presented.join(','));
      if (!bySubject.some((c) => presented.includes(c.audiences[0]))) throw aadsts.audienceMismatch(presented.join(','));

      const issued = await d.tokens.issue({ identity, resource, issuer: tenantIssuer(origin, directory.tenantId) });
      return {
        identity,
        response: { token_type: 'Bearer', expires_in: issued.expiresIn, ext_expires_in: issued.expiresIn, access_token: issued.token },
      };
    },
  };
}

/**
 * Reads an `application/x-www-form-urlencoded` token request. A parameter given twice is refused
 * as Entra refuses it (AADSTS9000411) rather than letting one copy silently win.
 */
export function parseTokenForm(raw: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(raw)) {
    if (Object.hasOwn(out, k)) throw aadsts.duplicateParameter(k);
    out[k] = v;
  }
  return out;
}
