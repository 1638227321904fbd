/** Claims every token we mint carries (advertised in discovery). */
export const CLAIMS_SUPPORTED = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'kubernetes.io'] as const;

/** The JWKS path under an issuer, as Kubernetes serves it. */
export const JWKS_PATH = '/openid/v1/jwks';

/**
 * The OIDC discovery document, in the shape Kubernetes' service-account issuer serves. `issuer`
 * is byte-for-byte the `iss` of our tokens (no trailing slash): AWS, GCP and Entra all compare
 * them exactly.
 */
export function discoveryDocument(issuerUrl: string) {
  return {
    issuer: issuerUrl,
    jwks_uri: issuerUrl + JWKS_PATH,
    // Where workloads exchange a join credential or a pod token for a token (RFC 8693); relying
    // parties ignore it.
    token_endpoint: issuerUrl + '/token',
    grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange'],
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: [...CLAIMS_SUPPORTED],
  };
}
