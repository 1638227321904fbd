import { ERRORS, type ErrorCode } from './catalogue.ts';

/** Options that travel with an {@link AppError}. */
export interface AppErrorOptions {
  /**
   * The input at fault, by its domain name (`name`, `azure.clientId`, `cursor`); the HTTP edge
   * tells the caller where it sent it (`body.name`, `query.cursor`).
   */
  field?: string;
  /** An example of the accepted form, shown to the caller beside the message. */
  example?: unknown;
  /** The underlying error; logged, never shown to the client. */
  cause?: unknown;
  /** Extra structured details that are safe to show (never secrets). */
  details?: Record<string, unknown>;
}

/**
 * The one error type of Airlock. Every failure a caller can act on is an AppError with a stable
 * `code` from the catalogue; its HTTP status comes from the catalogue too, so the same code always
 * means the same status. Anything that is not an AppError is treated as a bug and shown as an
 * opaque 500.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  readonly example: unknown;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.field = options.field;
    this.example = options.example;
    this.details = options.details;
  }

  /** Whether the message may be shown to a client (oidc-provider's `expose`). */
  get expose(): boolean {
    return this.status < 500;
  }
}

/** True for errors the caller caused or can act on. */
export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
