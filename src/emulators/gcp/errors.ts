/**
 * The two error shapes Google's endpoints answer with, so client libraries parse sandbox
 * failures exactly as they parse Google's:
 *   - STS (OAuth 2.0): HTTP 400 `{ "error": "invalid_grant", "error_description": "…" }`
 *   - Google APIs (iamcredentials, cloudresourcemanager):
 *     `{ "error": { "code": 403, "message": "…", "status": "PERMISSION_DENIED", "details": [ … ] } }`
 */

/** An OAuth error from STS. */
export class StsError extends Error {
  constructor(
    /** The OAuth error code: invalid_request, invalid_grant, invalid_target, unauthorized_client, … */
    readonly error: string,
    /** The error_description, worded as Google words it where known. */
    readonly description: string,
    /**
     * What the sandbox knows beyond Google's message (which check failed and why). Sent in the
     * `airlock-sandbox-detail` header, never in the body, so the body stays Google's.
     */
    readonly detail?: string,
    readonly httpStatus = 400,
  ) {
    super(`${error}: ${description}`);
    this.name = 'StsError';
  }

  toBody(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

/** A `google.rpc.Status` as Google's JSON APIs render it. */
export interface GoogleErrorBody {
  error: { code: number; message: string; status: string; details?: Record<string, unknown>[] };
}

/** An error from a Google JSON API. */
export class GoogleApiError extends Error {
  /** Sandbox-only explanation, sent in the `airlock-sandbox-detail` header (see {@link StsError.detail}). */
  detail: string | undefined;

  constructor(
    readonly code: number,
    readonly status: string,
    message: string,
    readonly details: Record<string, unknown>[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GoogleApiError';
  }

  /** Adds the sandbox-only explanation; returns this for `throw err.withDetail(…)`. */
  withDetail(detail: string): this {
    this.detail = detail;
    return this;
  }

  toBody(): GoogleErrorBody {
    const error: GoogleErrorBody['error'] = { code: this.code, message: this.message, status: this.status };
    if (this.details.length) error.details = this.details;
    return { error };
  }
}

/** Which API method failed; Google names it in ErrorInfo metadata. */
export interface ApiMethod {
  service: string;
  method: string;
}

/** IAM Credentials generateAccessToken, as named in error metadata. */
export const GENERATE_ACCESS_TOKEN: ApiMethod = { service: 'iamcredentials.googleapis.com', method: 'google.iam.credentials.v1.IAMCredentials.GenerateAccessToken' };
/** Resource Manager projects.get, as named in error metadata. */
export const GET_PROJECT: ApiMethod = { service: 'cloudresourcemanager.googleapis.com', method: 'google.cloudresourcemanager.v1.Projects.GetProject' };
/** The sandbox's own whoami (not a Google API). */
export const SANDBOX_WHOAMI: ApiMethod = { service: 'airlock-sandbox', method: 'whoami' };

const errorInfo = (reason: string, domain: string, metadata: Record<string, string>) => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain,
  metadata,
});

/** 401 for a missing, unknown or expired bearer token. */
export function unauthenticated(why: 'missing' | 'invalid' | 'expired', m: ApiMethod): GoogleApiError {
  const message =
    why === 'missing'
      ? 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.'
      : 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
  const reason = why === 'missing' ? 'CREDENTIALS_MISSING' : why === 'expired' ? 'ACCESS_TOKEN_EXPIRED' : 'ACCESS_TOKEN_TYPE_UNSUPPORTED';
  const headers: Record<string, string> = { 'www-authenticate': why === 'missing' ? 'Bearer realm="https://accounts.google.com/"' : 'Bearer realm="https://accounts.google.com/", error="invalid_token"' };
  return new GoogleApiError(401, 'UNAUTHENTICATED', message, [errorInfo(reason, 'googleapis.com', { ...m })], headers);
}

/** 403 when the bearer token lacks the scope the API requires. */
export function scopeInsufficient(m: ApiMethod): GoogleApiError {
  return new GoogleApiError(403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.', [errorInfo('ACCESS_TOKEN_SCOPE_INSUFFICIENT', 'googleapis.com', { ...m })], {
    'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"',
  });
}

/** 403 from IAM; Google words it the same whether the resource is missing or the grant is. */
export function iamPermissionDenied(permission: string): GoogleApiError {
  return new GoogleApiError(403, 'PERMISSION_DENIED', `Permission '${permission}' denied on resource (or it may not exist).`, [
    errorInfo('IAM_PERMISSION_DENIED', 'iam.googleapis.com', { permission }),
  ]);
}

/** 400 INVALID_ARGUMENT naming the field at fault. */
export function invalidArgument(message: string, field?: string, description?: string): GoogleApiError {
  const details = field ? [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field, description: description ?? message }] }] : [];
  return new GoogleApiError(400, 'INVALID_ARGUMENT', message, details);
}

/** 404 NOT_FOUND. */
export function notFound(message: string): GoogleApiError {
  return new GoogleApiError(404, 'NOT_FOUND', message);
}
