/**
 * Every stable error code Airlock returns, with its HTTP status and a one-line meaning.
 * A test checks that each code here is documented in docs/errors.md, so this list is the contract.
 */
export const ERRORS = {
  ERR_VALIDATION: { status: 400, description: 'A field is missing, of the wrong type, or not in the accepted form.' },
  ERR_MALFORMED_JSON: { status: 400, description: 'The request body is not valid JSON.' },
  ERR_UNKNOWN_FIELD: { status: 400, description: 'The request names a field the endpoint does not accept.' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request body is not application/json.' },
  ERR_BODY_TOO_LARGE: { status: 413, description: 'The request body is larger than the server accepts.' },
  ERR_UNAUTHENTICATED: { status: 401, description: 'No valid API token was presented (missing, malformed, unknown, expired or revoked).' },
  ERR_FORBIDDEN: { status: 403, description: "The API token's role does not allow this operation, or it would create a token with more power than its own." },
  ERR_NOT_FOUND: { status: 404, description: "No resource with that id or name exists within the caller's reach (another workspace's objects are not found)." },
  ERR_ROUTE_NOT_FOUND: { status: 404, description: 'No endpoint exists at that method and path.' },
  ERR_CONFLICT: { status: 409, description: 'The change conflicts with existing state (a duplicate name, an object in use).' },
  ERR_PRECONDITION_FAILED: { status: 412, description: 'The If-Match header names a version the resource is no longer at: someone changed it since it was read.' },
  ERR_RULE_VIOLATION: { status: 422, description: 'The request is well-formed but breaks a product rule.' },
  ERR_CONFIG_INVALID: { status: 400, description: 'The configuration has one or more problems; all are listed.' },
  ERR_MASTER_KEY: { status: 500, description: 'The master key is missing, malformed, or does not match the stored keys.' },
  ERR_NO_SIGNING_KEY: { status: 503, description: 'The cluster has no key that may sign right now.' },
  ERR_TOKEN_TTL: { status: 400, description: 'The requested token lifetime is outside the allowed bounds.' },
  ERR_UPSTREAM: { status: 502, description: 'A server Airlock talked to answered with an error.' },
  ERR_INTERNAL: { status: 500, description: 'An unexpected failure; details are in the server log.' },
} as const satisfies Record<string, { status: number; description: string }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERRORS;
