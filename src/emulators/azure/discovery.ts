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

/**
 * The answer of `GET /common/discovery/instance`, Entra's instance-discovery endpoint. MSAL calls
 * it only when instance discovery is on, and then at login.microsoftonline.com rather than at the
 * configured authority, so clients must disable instance discovery to stay on the sandbox; this
 * answer exists for clients that ask the authority host itself. `authorizationEndpoint` is the
 * `authorization_endpoint` query parameter; the tenant is read from it.
 */
export function instanceDiscovery(origin: string, host: string, authorizationEndpoint: string | undefined) {
  const tenant = /^https?:\/\/[^/]+\/([^/]+)\//.exec(authorizationEndpoint ?? '')?.[1] ?? 'common';
  return {
    tenant_discovery_endpoint: `${origin}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
}
