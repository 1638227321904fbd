export { AppError, isAppError, type AppErrorOptions } from './app-error.ts';
export { ERRORS, type ErrorCode } from './catalogue.ts';
export { OAuthError, OAUTH_ERRORS, type OAuthErrorCode } from './oauth-error.ts';
