/** Option values shared by several commands, parsed once with the same errors. */
import { LOG_LEVELS, type LogLevel } from '../lib/logger.ts';
import { CliError } from './client.ts';

/** `--log-level`: one of the logger's levels, or a usage error (exit 2). */
export function parseLogLevel(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, 'ERR_VALIDATION', '--log-level', 'info', 2);
  }
  return value as LogLevel;
}

export const LOG_LEVEL_HELP = `log verbosity on stderr (${LOG_LEVELS.join(', ')})`;
