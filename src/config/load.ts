import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { AppError } from '../errors/index.ts';
import { CONFIG_KEYS, configSchema, type Config, type ConfigInput } from './schema.ts';

/**
 * Environment variables read elsewhere, which are not server settings: the CLI's server and token,
 * the master key, the config file, and the launcher's (bin/compiled.js) compile cache and
 * run-from-sources switch.
 */
const NON_CONFIG_ENV = new Set(['AIRLOCK_URL', 'AIRLOCK_TOKEN', 'AIRLOCK_MASTER_KEY', 'AIRLOCK_MASTER_KEY_PREVIOUS', 'AIRLOCK_CONFIG', 'AIRLOCK_COMPILE_CACHE', 'AIRLOCK_RUN_SOURCES', 'AIRLOCK_UI_DIR', 'AIRLOCK_UI_CACHE']);

/** `publicUrl` → `AIRLOCK_PUBLIC_URL`; `databaseUrl` is also read from the conventional `DATABASE_URL`. */
export function envName(key: string): string {
  return 'AIRLOCK_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

export interface LoadConfigOptions {
  /** Path of a YAML or JSON config file. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags (highest precedence). */
  flags?: Partial<Record<keyof ConfigInput, unknown>>;
}

export interface ConfigProblem {
  key: string;
  source: string;
  message: string;
}

/**
 * Builds the config from file < environment < flags, reporting every problem at once.
 * Unknown keys in the file and unknown `AIRLOCK_*` variables are errors: a typo should not
 * silently leave a setting at its default.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: ConfigProblem[] = [];
  const merged: Record<string, unknown> = {};
  const sourceOf: Record<string, string> = {};

  const file = options.file ?? env.AIRLOCK_CONFIG;
  if (file) {
    let raw: unknown;
    try {
      const text = readFileSync(file, 'utf8');
      raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    } catch (err) {
      problems.push({ key: '(file)', source: file, message: `cannot read config file: ${(err as Error).message}` });
    }
    if (raw !== undefined && raw !== null) {
      if (typeof raw !== 'object' || Array.isArray(raw)) {
        problems.push({ key: '(file)', source: file, message: 'config file must hold a mapping of settings' });
      } else {
        for (const [k, v] of Object.entries(raw)) {
          merged[k] = v;
          sourceOf[k] = file;
        }
      }
    }
  }

  const known = new Map(CONFIG_KEYS.map((k) => [envName(k), k]));
  if (env.DATABASE_URL) {
    merged.databaseUrl = env.DATABASE_URL;
    sourceOf.databaseUrl = 'env DATABASE_URL';
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('AIRLOCK_') || NON_CONFIG_ENV.has(name) || value === undefined) continue;
    const key = known.get(name);
    if (!key) {
      problems.push({ key: name, source: 'env', message: `unknown setting; known: ${[...known.keys()].join(', ')}` });
      continue;
    }
    merged[key] = value;
    sourceOf[key] = `env ${name}`;
  }

  for (const [k, v] of Object.entries(options.flags ?? {})) {
    if (v === undefined) continue;
    merged[k] = v;
    sourceOf[k] = 'flag';
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          problems.push({ key: k, source: sourceOf[k] ?? 'input', message: `unknown setting; known: ${CONFIG_KEYS.join(', ')}` });
        }
        continue;
      }
      const key = issue.path.join('.') || '(config)';
      problems.push({ key, source: sourceOf[key] ?? 'default', message: issue.message });
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new AppError('ERR_CONFIG_INVALID', formatProblems(problems), { details: { problems } });
  }
  return Object.freeze(result.data);
}

export function formatProblems(problems: ConfigProblem[]): string {
  return [`configuration has ${problems.length} problem(s):`, ...problems.map((p) => `  - ${p.key} (${p.source}): ${p.message}`)].join('\n');
}

/** The URL the server is reached at, from config or the bound port. */
export function resolvePublicUrl(config: Config, boundPort: number): string {
  const url = config.publicUrl ?? `http://127.0.0.1:${boundPort}`;
  return url.replace(/\/+$/, '');
}
