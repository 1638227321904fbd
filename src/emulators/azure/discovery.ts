/**
 * The documents MSAL and the Azure SDKs read before asking for a token. Their URLs are built from
 * the address the client used (`origin`), so the same sandbox answers at https://127.0.0.1:<port>
 * and at https://localhost:<port> alike.
 */

/** Entra's v2.0 issuer for a tenant: `<origin>/<tenant>/v2.0`. */
export function tenantIssuer(origin: string, tenantId: string): string {
  return `${origin}/${tenantId}/v2.0`;
}

/**
 * A tenant's `/v2.0/.well-known/openid-configuration`, with the members Entra publishes. MSAL
 * requires `authorization_endpoint`, `token_endpoint`, `issuer` and `jwks_uri` (its
 * `isOpenIdConfigResponse`) and reads `end_session_endpoint`; the others are there so generic OIDC
 * libraries find what they expect. Endpoints the sandbox does not serve (authorize, device code,
 * logout) are listed because MSAL insists on them, and answer 404.
 */
export function openIdConfiguration(origin: string, tenantId: string) {
  const base = `${origin}/${tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: tenantIssuer(origin, tenantId),
    request_uri_parameter_supported: false,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'appid', 'azp', 'idtyp', 'ver'],
    tenant_region_scope: 'NA',
    cloud_instance_name: 'airlock-sandbox',
  };
}

/** What `GET /common/discovery/instance` answers: the metadata, or Entra's refusal of an unknown authority. */
export type InstanceDiscoveryAnswer = { known: true; body: ReturnType<typeof instanceMetadata> } | { known: false };

function instanceMetadata(authorityOrigin: string, authorityHost: string, tenant: string) {
  return {
    tenant_discovery_endpoint: `${authorityOrigin}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    // The authority is its own cloud: one alias, and MSAL's preferred network is the authority
    // itself, so MSAL keeps sending every later request to the sandbox.
    metadata: [{ preferred_network: authorityHost, preferred_cache: authorityHost, aliases: [authorityHost] }],
  };
}

/**
 * The answer of `GET /common/discovery/instance`, Entra's instance-discovery endpoint. MSAL asks
 * it about any authority it does not know, and always at login.microsoftonline.com whatever the
 * authority (unless instance discovery is disabled); the sandbox's CONNECT proxy tunnels that host
 * to the Azure emulator, so the question arrives here. Entra answers it for its own clouds and
 * refuses other authorities with `invalid_instance`, which MSAL reports as an untrusted authority.
 *
 * The authority is read from the `authorization_endpoint` query parameter
 * (`https://<host>/<tenant>/oauth2/v2.0/authorize`). It is known when `isSandbox(host)` says its
 * host (with port) is this emulator; then the answer makes it a cloud of its own. Without the
 * parameter the answer is about the host the request was sent to, as before.
 */
export function instanceDiscovery(requestOrigin: string, authorizationEndpoint: string | undefined, isSandbox: (hostAndPort: string) => boolean): InstanceDiscoveryAnswer {
  if (authorizationEndpoint === undefined) {
    const host = new URL(requestOrigin).host;
    return { known: true, body: instanceMetadata(requestOrigin, host, 'common') };
  }
  let url: URL;
  try {
    url = new URL(authorizationEndpoint);
  } catch {
    return { known: false };
  }
  const tenant = /^\/([^/]+)\/oauth2\/v2\.0\/authorize$/.exec(url.pathname)?.[1];
  if (url.protocol !== 'https:' || !tenant || !isSandbox(url.host)) return { known: false };
  return { known: true, body: instanceMetadata(url.origin, url.host, tenant) };
}
