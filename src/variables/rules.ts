/**
 * The rules of a Deployment's environment variables, as pure functions shared by the server
 * (which enforces them) and the CLI (which parses `KEY=VALUE` arguments and `.env` files before
 * sending them). No error here ever quotes a value: it may be a secret.
 */
import { AppError } from '../errors/index.ts';
import { parseConnectionJson, parseConnectionUri, type AirflowConnectionFields } from '../connections/codec.ts';

/** A POSIX-style environment variable name: what a shell, Kubernetes and Airflow all accept. */
export const VARIABLE_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const VARIABLE_KEY_MAX = 255;
/** Large enough for a service-account key or a long JSON kwargs document. */
export const VARIABLE_VALUE_MAX = 32_768;

export const SECRETS_BACKEND = 'AIRFLOW__SECRETS__BACKEND';
export const SECRETS_BACKEND_KWARGS = 'AIRFLOW__SECRETS__BACKEND_KWARGS';
export const CONN_PREFIX = 'AIRFLOW_CONN_';

export interface VariableInput {
  key: string;
  value: string;
  secret?: boolean | undefined;
}

const KEY_EXAMPLE = 'AIRFLOW__CORE__LOAD_EXAMPLES';

/** Splits `KEY=VALUE` on the first `=`; an empty key or value is refused. */
export function parseAssignment(arg: string, field = 'variable'): { key: string; value: string } {
  const at = arg.indexOf('=');
  if (at < 0) throw new AppError('ERR_VALIDATION', `"${arg.length > 64 ? arg.slice(0, 64) + '…' : arg}" is not KEY=VALUE`, { field, example: 'AIRFLOW__CORE__LOAD_EXAMPLES=False' });
  const key = arg.slice(0, at);
  const value = arg.slice(at + 1);
  checkKey(key, field);
  if (value === '') throw new AppError('ERR_VALIDATION', `${key} has an empty value; give it one, or delete the variable`, { field, example: `${key}=value` });
  return { key, value };
}

export function checkKey(key: string, field = 'key'): void {
  if (key === '') throw new AppError('ERR_VALIDATION', 'the variable name is empty', { field, example: KEY_EXAMPLE });
  if (key.length > VARIABLE_KEY_MAX) throw new AppError('ERR_VALIDATION', `variable names are at most ${VARIABLE_KEY_MAX} characters`, { field, example: KEY_EXAMPLE });
  if (!VARIABLE_KEY_PATTERN.test(key)) {
    throw new AppError('ERR_VALIDATION', `variable name "${key}" must be letters, digits and "_", not starting with a digit`, { field, example: KEY_EXAMPLE });
  }
}

/**
 * Parses a `.env` file: one `KEY=VALUE` per line, split on the first `=`; whitespace around key
 * and value is trimmed, then one pair of matching quotes (`"…"` or `'…'`) around the value;
 * inside double quotes `\\`, `\"`, `\n` and `\r` are escapes (as python-dotenv and Compose read them; single
 * quotes are literal); blank lines and lines starting with `#` are skipped; `export KEY=VALUE` is read as `KEY=VALUE`.
 * A `#` after a value is part of it (passwords and URIs contain them). A key given twice, an
 * empty key or value, or a line without `=` is refused with its line number (never its value).
 */
export function parseDotenv(text: string, file = '.env'): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const at = body.indexOf('=');
    const field = `${file}:${n}`;
    if (at < 0) throw new AppError('ERR_VALIDATION', `${file} line ${n} is not KEY=VALUE`, { field, example: 'API_URL=https://example.com' });
    const key = body.slice(0, at).trim();
    let value = body.slice(at + 1).trim();
    if (value.length >= 2 && value[0] === "'" && value.endsWith("'")) value = value.slice(1, -1);
    else if (value.length >= 2 && value[0] === '"' && value.endsWith('"')) value = unescapeDouble(value.slice(1, -1));
    checkKey(key, field);
    if (value === '') throw new AppError('ERR_VALIDATION', `${file} line ${n}: ${key} has an empty value`, { field, example: `${key}=value` });
    const first = seen.get(key);
    if (first !== undefined) throw new AppError('ERR_VALIDATION', `${file} sets ${key} twice (lines ${first} and ${n}); keep one`, { field, example: `${key}=value` });
    seen.set(key, n);
    out.push({ key, value });
  });
  return out;
}

function unescapeDouble(v: string): string {
  return v.replace(/\\([\\"nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/**
 * What Airflow would choke on at start-up or at the first lookup, refused now:
 * the secrets backend's kwargs must be a JSON object, the backend a dotted class path, and an
 * `AIRFLOW_CONN_<ID>` a connection URI or JSON that Airflow's `Connection` parses.
 */
export function checkVariable(key: string, value: string, field = 'value'): void {
  checkKey(key, field === 'value' ? 'key' : field);
  if (value === '') throw new AppError('ERR_VALIDATION', `${key} has an empty value`, { field, example: `${key}=value` });
  if (value.length > VARIABLE_VALUE_MAX) throw new AppError('ERR_VALIDATION', `${key}: values are at most ${VARIABLE_VALUE_MAX} characters`, { field });
  if (key === SECRETS_BACKEND_KWARGS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new AppError('ERR_VALIDATION', `${key} must be a JSON object (Airflow passes it to the backend as keyword arguments)`, {
        field,
        example: '{"connections_prefix": "airflow-connections", "variables_prefix": "airflow-variables", "project_id": "my-secrets-project"}',
      });
    }
  } else if (key === SECRETS_BACKEND) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(value)) {
      throw new AppError('ERR_VALIDATION', `${key} must be the dotted path of a Python class (Airflow imports it)`, {
        field,
        example: 'airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend',
      });
    }
  } else if (key.startsWith(CONN_PREFIX)) {
    if (key.length === CONN_PREFIX.length) throw new AppError('ERR_VALIDATION', `${CONN_PREFIX} needs a connection id after it`, { field: field === 'value' ? 'key' : field, example: 'AIRFLOW_CONN_AWS_DEFAULT' });
    try {
      parseConnectionValue(value);
    } catch (err) {
      if (err instanceof AppError) throw new AppError('ERR_VALIDATION', `${key}: ${err.message}`, { field, example: err.example, details: err.details });
      throw err;
    }
  }
}

/** The connection id Airflow looks up with `AIRFLOW_CONN_<KEY>`: it upper-cases the id, so the key names it in any case. */
export function connIdOfVariable(key: string): string | undefined {
  return key.startsWith(CONN_PREFIX) && key.length > CONN_PREFIX.length ? key.slice(CONN_PREFIX.length) : undefined;
}

/** The variable Airflow reads a connection from: `AIRFLOW_CONN_` + the id upper-cased. */
export function variableOfConnId(connId: string): string {
  return CONN_PREFIX + connId.toUpperCase();
}

/**
 * Reads a connection stored as a string as Airflow's `BaseSecretsBackend.deserialize_connection`
 * does (environment variables and secrets backends alike): stripped, then JSON when it starts
 * with `{`, else a URI.
 */
export function parseConnectionValue(value: string): AirflowConnectionFields {
  const v = value.trim();
  return v.startsWith('{') ? parseConnectionJson(v) : parseConnectionUri(v);
}
