/**
 * Errors of the sandbox's admin API. They are shaped like Azure Resource Manager errors
 * (`{ error: { code, message, target, details } }`) because the admin API stands in for
 * `az identity …`, and scripts written against ARM look at `error.code`.
 *
 * Token-endpoint failures are not these: they are {@link EntraError}s in `aadsts.ts`.
 */

/** The ARM error codes the admin API answers with, and the HTTP status each always has. */
export const ADMIN_ERRORS = {
  /** A field is missing or malformed, or a limit (such as 20 credentials per identity) is reached. */
  BadRequest: 400,
  /** A name in the path breaks Azure's naming rules. */
  InvalidResourceName: 400,
  /** No tenant, identity or credential at that path. */
  ResourceNotFound: 404,
  /** The change collides with existing state (a duplicate issuer + subject, a client id in use). */
  Conflict: 409,
  /** The content type is not JSON. */
  UnsupportedMediaType: 415,
} as const;

export type AdminErrorCode = keyof typeof ADMIN_ERRORS;

/** One problem inside a rejected configuration; `target` is a dotted path such as `identities.0.name`. */
export interface AdminErrorDetail {
  code: AdminErrorCode;
  message: string;
  target?: string;
}

/** A refused admin request. Its message is always safe to show: the sandbox holds no secrets in config. */
export class AzureAdminError extends Error {
  readonly code: AdminErrorCode;
  readonly status: number;
  readonly target: string | undefined;
  readonly details: AdminErrorDetail[] | undefined;

  constructor(code: AdminErrorCode, message: string, options: { target?: string; details?: AdminErrorDetail[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AzureAdminError';
    this.code = code;
    this.status = ADMIN_ERRORS[code];
    this.target = options.target;
    this.details = options.details;
  }

  /** The ARM error body. */
  toBody(): { error: { code: string; message: string; target?: string; details?: AdminErrorDetail[] } } {
    const error: { code: string; message: string; target?: string; details?: AdminErrorDetail[] } = { code: this.code, message: this.message };
    if (this.target !== undefined) error.target = this.target;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}
