export { AppError, isAppError, type AppErrorOptions } from './app-error.ts';
export { ERRORS, type ErrorCode } from './catalogue.ts';
