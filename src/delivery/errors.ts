/**
 * Failures of the workload side of delivery (`airlock exec`, `airlock agent`, the workload client).
 * They never reach an HTTP response, so they are not in the server's catalogue; docs/errors.md lists
 * them in their own table (a test checks).
 *
 * Messages never contain a join credential, a service-account token or an issued token.
 */
export const DELIVERY_ERRORS = {
  ERR_UNREACHABLE: 'The Airlock server (or the sandbox) could not be reached, or did not answer in time.',
  ERR_BAD_RESPONSE: 'A server answered with something that is not the documented response.',
  ERR_WORKLOAD_MISMATCH: 'The credential belongs to another Deployment or component than the one named with --deployment / --component.',
  ERR_TOKEN_EXCHANGE: 'The token exchange was refused; the message carries the server\'s OAuth error and its description.',
  ERR_NO_TOKEN_ENDPOINT: 'The cluster is in issuer mode kubernetes: the kubelet projects its tokens, there is nothing to exchange.',
  ERR_NO_IDENTITY: 'The Deployment has no workload identity in force (or it is incomplete), so there is nothing to deliver; the message says why.',
  ERR_CHILD_START: 'The command given to airlock exec could not be started (not found, or not executable).',
  ERR_STOPPED: 'exec or the agent was stopping: a token that arrived meanwhile was not written (its directory may be going away).',
} as const;

export type DeliveryErrorCode = keyof typeof DELIVERY_ERRORS | 'ERR_VALIDATION' | 'ERR_UNAUTHENTICATED' | (string & {});

/** A failure a person can act on; `field`/`example` name the input at fault when there is one. */
export class DeliveryError extends Error {
  readonly code: DeliveryErrorCode;
  readonly field: string | undefined;
  readonly example: unknown;
  /** The RFC 6749 error of a refused exchange (`invalid_grant`, …). */
  readonly oauthError: string | undefined;
  /** HTTP status of the answer that caused it, when there was one. */
  readonly status: number | undefined;

  constructor(code: DeliveryErrorCode, message: string, o: { field?: string; example?: unknown; oauthError?: string; status?: number; cause?: unknown } = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'DeliveryError';
    this.code = code;
    this.field = o.field;
    this.example = o.example;
    this.oauthError = o.oauthError;
    this.status = o.status;
  }
}
