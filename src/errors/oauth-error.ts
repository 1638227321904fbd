/**
 * An OAuth 2.0 error (RFC 6749 §5.2), as the token endpoint answers it: `{error, error_description}`.
 * Kept apart from AppError because its wire format is the standard's, not the API's; the codes are
 * the standard's too (RFC 8693 adds `invalid_target`).
 */
export const OAUTH_ERRORS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  server_error: 500,
  temporarily_unavailable: 503,
} as const;
export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;
  constructor(error: OAuthErrorCode, description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = 'OAuthError';
    this.error = error;
    this.status = OAUTH_ERRORS[error];
  }
  body(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.message };
  }
}
