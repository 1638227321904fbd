/**
 * The errors the AWS query APIs (IAM, STS) answer with. Codes, statuses and the Sender/Receiver
 * split are AWS's own, so an unmodified SDK maps them to the same exception classes it would
 * raise against AWS (for example `InvalidIdentityToken` → `InvalidIdentityTokenException`).
 */

/** Whether the caller (`Sender`) or the service (`Receiver`) is at fault, as in `<Error><Type>`. */
export type AwsFaultType = 'Sender' | 'Receiver';

/**
 * Every code the emulator can answer with, and the HTTP status AWS uses for it. A code that is not
 * here cannot be thrown, so a typo cannot produce an error no SDK knows.
 */
export const AWS_ERRORS = {
  // Shared by the query APIs
  MissingAction: 400,
  InvalidAction: 400,
  MissingParameter: 400,
  ValidationError: 400,
  InvalidParameterValue: 400,
  MissingAuthenticationToken: 403,
  IncompleteSignature: 400,
  SignatureDoesNotMatch: 403,
  InvalidClientTokenId: 403,
  ExpiredToken: 400,
  AccessDenied: 403,
  InternalFailure: 500,
  // STS AssumeRoleWithWebIdentity
  InvalidIdentityToken: 400,
  ExpiredTokenException: 400,
  IDPCommunicationError: 400,
  IDPRejectedClaim: 403,
  // IAM
  NoSuchEntity: 404,
  EntityAlreadyExists: 409,
  MalformedPolicyDocument: 400,
  InvalidInput: 400,
  LimitExceeded: 409,
} as const satisfies Record<string, number>;

/** A code from {@link AWS_ERRORS}. */
export type AwsErrorCode = keyof typeof AWS_ERRORS;

/**
 * A failure the emulator reports to the client in AWS's `<ErrorResponse>` form. The message is
 * always safe to show: it never carries secrets (no keys, no token contents beyond claims the
 * caller sent).
 */
export class AwsError extends Error {
  readonly code: AwsErrorCode;
  readonly status: number;
  readonly type: AwsFaultType;

  constructor(code: AwsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AwsError';
    this.code = code;
    this.status = AWS_ERRORS[code];
    this.type = this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

/** The message AWS uses for a request whose access key it does not know. */
export const INVALID_CLIENT_TOKEN_MESSAGE = 'The security token included in the request is invalid.';
