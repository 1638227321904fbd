import { randomUUID } from 'node:crypto';

/**
 * The token endpoint's refusals, in Microsoft Entra ID's words. Codes, `error` values and message
 * texts were taken from Entra responses quoted in Microsoft's documentation and in public issue
 * threads; where Entra's text could not be confirmed the sandbox's own wording is used and
 * docs/sandbox-azure.md says so. Clients (MSAL, azure-identity) show `error_description`, so a
 * developer sees the same `AADSTS…` code in the sandbox as in Azure.
 */

/** The OAuth 2.0 `error` values Entra uses for these failures. */
export type OAuthError = 'invalid_request' | 'invalid_client' | 'invalid_scope' | 'invalid_tenant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_instance';

/** One AADSTS refusal. `status` is what Entra answers with: 401 for failed client authentication, 400 otherwise. */
export class EntraError extends Error {
  constructor(
    readonly code: number,
    readonly error: OAuthError,
    readonly status: 400 | 401,
    message: string,
  ) {
    super(message);
    this.name = 'EntraError';
  }

  /** `AADSTS70021: …` without the trace lines. */
  get summary(): string {
    return `AADSTS${this.code}: ${this.message}`;
  }
}

/** The JSON body of an Entra error (the OAuth fields plus Entra's diagnostics). */
export interface EntraErrorBody {
  error: OAuthError;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

/** Entra's timestamp form: `2016-01-09 02:02:12Z`. */
export function entraTimestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** The .NET-style instant Entra prints inside AADSTS700024: `2024-10-02T22:05:03.6755165Z`. */
export function entraInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/**
 * Renders an {@link EntraError} as Entra does. `correlationId` is the client's
 * `client-request-id` header when it sent one (MSAL does), as Entra echoes it.
 */
export function entraErrorBody(e: EntraError, o: { nowMs: number; correlationId?: string | undefined; traceId?: string }): EntraErrorBody {
  const timestamp = entraTimestamp(o.nowMs);
  const traceId = o.traceId ?? randomUUID();
  const correlationId = o.correlationId && /^[\w-]{1,64}$/.test(o.correlationId) ? o.correlationId : randomUUID();
  return {
    error: e.error,
    error_description: `${e.summary}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [e.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    // Informational only, as in Entra; nothing fetches it.
    error_uri: `https://login.microsoftonline.com/error?code=${e.code}`,
  };
}

const FIC_DOCS = 'https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation';

/** Every refusal the sandbox's token endpoint can give, one factory per AADSTS code. */
export const aadsts = {
  /** Instance discovery for an authority that is not this cloud's. */
  unknownInstance: () => new EntraError(50049, 'invalid_instance', 400, 'Unknown or invalid instance.'),
  tenantNotFound: (tenant: string) =>
    new EntraError(
      90002,
      'invalid_tenant',
      400,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
  missingParameter: (name: string) => new EntraError(900144, 'invalid_request', 400, `The request body must contain the following parameter: '${name}'.`),
  duplicateParameter: (name: string) => new EntraError(9000411, 'invalid_request', 400, `The request is not properly formatted. The parameter '${name}' is duplicated.`),
  unsupportedGrantType: (grantType: string) =>
    new EntraError(70003, 'unsupported_grant_type', 400, `The app requested an unsupported grant type '${grantType}'. The sandbox supports only 'client_credentials'.`),
  scopeWithoutDefault: (scope: string) =>
    new EntraError(
      1002012,
      'invalid_scope',
      400,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  invalidScope: (scope: string) =>
    new EntraError(70011, 'invalid_scope', 400, `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`),
  clientNotFound: (clientId: string, tenant: string) =>
    new EntraError(
      700016,
      'unauthorized_client',
      400,
      `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  missingClientCredential: () =>
    new EntraError(7000218, 'invalid_client', 401, `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.`),
  clientSecretNotAccepted: () =>
    new EntraError(7000215, 'invalid_client', 401, 'Invalid client secret provided. A user-assigned managed identity has no client secret; present a federated token as client_assertion.'),
  badAssertionType: (given: string | undefined) =>
    new EntraError(
      90014,
      'invalid_request',
      400,
      given === undefined
        ? `The required field 'client_assertion_type' is missing from the credential. Ensure that you have all the necessary parameters for the login request.`
        : `The value '${given}' of 'client_assertion_type' is not supported. Expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.`,
    ),
  malformedAssertion: (detail: string) => new EntraError(50027, 'invalid_request', 400, `JWT token is invalid or malformed. ${detail}`),
  unsupportedAlgorithm: (alg: string) =>
    new EntraError(50027, 'invalid_request', 400, `JWT token is invalid or malformed. Federated assertions must be signed with RS256; this one uses '${alg}'.`),
  badSignature: (issuer: string) =>
    new EntraError(50027, 'invalid_request', 400, `JWT token is invalid or malformed. External ID token from issuer '${issuer}' failed signature verification.`),
  issuerUnreachable: () => new EntraError(90061, 'invalid_request', 400, 'Request to External OIDC endpoint failed.'),
  unknownSigningKey: (kid: string, issuer: string) =>
    new EntraError(
      7000272,
      'invalid_client',
      401,
      `The certificate with identifier ${kid} used to sign the federated credential could not be found in the metadata of identity provider ${issuer}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.`,
    ),
  assertionTimeRange: (nowMs: number, nbfMs: number | undefined, expMs: number | undefined) =>
    new EntraError(
      700024,
      'invalid_client',
      401,
      `Client assertion is not within its valid time range. Current time: ${entraInstant(nowMs)}, assertion valid from ${entraInstant(nbfMs ?? 0)}, expiry time of assertion ${entraInstant(expMs ?? 0)}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
    ),
  noMatchingCredential: (issuer: string, subject: string, audience: string) =>
    new EntraError(
      70021,
      'invalid_request',
      400,
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: '${subject}'. Assertion Audience: '${audience}'.`,
    ),
  audienceMismatch: (audience: string) =>
    new EntraError(
      700212,
      'invalid_client',
      401,
      `No matching federated identity record found for presented assertion audience '${audience}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${FIC_DOCS}`,
    ),
} as const;
