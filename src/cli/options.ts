/** Option values shared by several commands, parsed once with the same errors. */
import { loadConfig } from '../config/load.ts';
import type { Config, ConfigInput } from '../config/schema.ts';
import { AppError } from '../errors/index.ts';
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

/**
 * The server's configuration for a command that works on its store directly (`admin-token reset`,
 * `backup restore`): file, environment, then flags; a bad one is a usage error (exit 2).
 */
export function serverConfig(file: string | undefined, flags: Partial<ConfigInput>): Config {
  try {
    return loadConfig({ file, flags });
  } catch (err) {
    if (err instanceof AppError) throw new CliError(err.message, err.code, undefined, undefined, 2);
    throw err;
  }
}
