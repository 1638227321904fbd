/**
 * Airflow's connection formats, parsed and rendered exactly as Airflow's `Connection` does:
 * the `AIRFLOW_CONN_*` URI (`Connection(uri=…)`, `get_uri()`) and JSON (`Connection.from_json`,
 * `as_json()`). Pure functions: no I/O, no clock.
 *
 * The rules are those of airflow/models/connection.py (2.x; airflow-core in 3.x), facts read from
 * Airflow's source and tests, the code ours. Where Airflow versions differ we say which one we
 * follow and why; the rule throughout is that what we render is read back by every Airflow
 * version (2.x and 3.x) as the same connection:
 *
 * - Parsing is identical across versions, including its accidents (a lower-cased host, `+` as a
 *   space in query values, an unescaped `#` starting a fragment, an empty password read as none).
 * - `get_uri()` with a host that carries the connection type as its own protocol (`http` +
 *   `http://h`): Airflow 3's airflow-core keeps the whole host percent-encoded, Airflow 2.x splits
 *   the protocol off, which its own parser then loses. We render the newer form; every version
 *   parses it back to the same host.
 * - `get_uri()` with non-string extra values (`{"verify": false}`): Airflow 2.x and 3.0/3.1 put the
 *   whole extra in `__extra__=<JSON>`; Airflow's main branch since apache/airflow#59339 writes them
 *   as stringified flat query parameters (`verify=false`) and its `extra_dejson` decodes such
 *   strings back. The flat form reaches Airflow 2.x hooks as the string "false", so we render
 *   `__extra__`, which every version reads back exactly. With string-only extras (the common case,
 *   and every cloud connection Airlock writes except GCP's credential configuration) all versions
 *   render the same bytes as we do.
 * - The `extra` we return is the extra Airflow stores (`json.loads(extra)`): query parameters as
 *   strings. Airflow's main branch additionally decodes JSON-looking strings when a hook reads
 *   `extra_dejson` (`"3"` → 3); older versions do not.
 */
import { AppError } from '../errors/index.ts';
import { pyJsonDumps } from './codec/python-json.ts';
import { hostname, parseQsl, password as splitPassword, port as splitPort, PythonValueError, pyRepr, quote, unquote, urlencode, urlsplit, username, type SplitResult } from './codec/python-url.ts';

/** The fields of an Airflow connection, as Airflow holds them after parsing. */
export interface AirflowConnectionFields {
  conn_type: string | null;
  host: string | null;
  login: string | null;
  password: string | null;
  schema: string | null;
  port: number | null;
  /** `Connection.extra` decoded: always an object, `{}` when there is none. */
  extra: Record<string, unknown>;
}

/** An accepted URI, shown beside errors. */
const CONNECTION_URI_EXAMPLE = 'postgres://user:p%40ss@db.example.com:5432/analytics?sslmode=require';
/** An accepted JSON connection, shown beside errors. */
const CONNECTION_JSON_EXAMPLE = '{"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::123456789012:role/etl", "region_name": "us-east-1"}}';

const EXTRA_KEY = '__extra__';
/** Airflow's conn_id length limit (CONN_ID_MAX_LEN). */
const CONN_ID_MAX_LEN = 250;

type Field = 'uri' | 'json';

function reject(field: Field, reason: string, airflowError: string, hint?: string): AppError {
  const what = field === 'uri' ? 'connection URI' : 'connection JSON';
  return new AppError('ERR_VALIDATION', `Airflow rejects this ${what}: ${reason}${hint ? ` (${hint})` : ''}`, {
    field,
    example: field === 'uri' ? CONNECTION_URI_EXAMPLE : CONNECTION_JSON_EXAMPLE,
    details: { airflowError, reason },
  });
}

/** Runs a Python-emulating step; its ValueError becomes Airflow's reason. Messages never echo the input. */
function python<T>(field: Field, step: () => T, hint?: string): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof PythonValueError) throw reject(field, redact(err.message), 'ValueError', hint);
    throw err;
  }
}

/**
 * Python quotes the offending text in some messages; with an unescaped `/` or `@` in a password
 * that text is part of the password, so those quotes are dropped.
 */
function redact(message: string): string {
  if (message.startsWith('Port could not be cast')) return 'Port could not be cast to integer value';
  if (message.includes('does not appear to be an IPv4 or IPv6 address')) return 'the bracketed host does not appear to be an IPv4 or IPv6 address';
  if (message.includes('under NFKC normalization')) return 'netloc contains invalid characters under NFKC normalization';
  return message;
}

/** Airflow's `_normalize_conn_type`: `postgresql` → `postgres`, else every `-` → `_`. */
function normalizeConnType(connType: string): string {
  if (connType === 'postgresql') return 'postgres';
  return connType.includes('-') ? connType.replaceAll('-', '_') : connType;
}

/** Python truthiness of a JSON value. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An object with these own properties in this order (safe for a key named `__proto__`). */
function objectFrom(entries: [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * Connection._validate_extra (a ValueError in Airflow 3; Airflow 2.x only warned and then read
 * the extra as `{}`): the stored extra text must be a JSON object.
 */
function decodeExtra(field: Field, text: string): Record<string, unknown> {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw reject(field, 'Encountered non-JSON in `extra` field', 'ValueError', 'the extra must be a JSON object; in a URI, either flat query parameters or __extra__=<url-encoded JSON object>');
  }
  if (!isPlainObject(parsed)) {
    throw reject(
      field,
      'Encountered JSON value in `extra` which does not parse as a dictionary. The `extra` field must contain a JSON representation of a Python dict.',
      'ValueError',
    );
  }
  return parsed;
}

/** Airflow's `_parse_netloc_to_hostname`: the lower-cased hostname, unless it holds a `/`. */
function netlocToHostname(parts: SplitResult): string {
  let host = unquote(hostname(parts) ?? '');
  if (host.includes('/')) {
    host = parts.netloc;
    if (host.includes('@')) host = host.slice(host.lastIndexOf('@') + 1);
    if (host.includes(':')) host = host.slice(0, host.indexOf(':'));
    host = unquote(host);
  }
  return host;
}

function parseUri(uri: string, field: Field): AirflowConnectionFields {
  if (typeof uri !== 'string' || uri.trim() === '') {
    throw new AppError('ERR_VALIDATION', 'The connection URI is empty', { field, example: CONNECTION_URI_EXAMPLE });
  }
  const schemes = uri.split('://').length - 1;
  if (schemes > 2) {
    throw reject(field, 'Invalid connection string', 'AirflowException', `it contains "://" ${schemes} times; Airflow allows the type's and one more, for a host with its own protocol: spark://k8s://host:443`);
  }
  const hostWithProtocol = schemes === 2;
  const connType = python(field, () => urlsplit(uri)).scheme;
  // Airflow replaces every occurrence, not just the first (so `http://http://h` loses its protocol).
  const rest = uri.replaceAll(`${connType}://`, hostWithProtocol ? '' : '//');
  if (hostWithProtocol) {
    const beforeProtocol = rest.slice(0, rest.indexOf('://'));
    if (beforeProtocol.includes('@') || beforeProtocol.includes(':')) {
      throw reject(field, 'Invalid connection string', 'AirflowException', 'with a protocol in the host, login and password follow it: type://protocol://login:password@host:port');
    }
  }
  const parts = python(field, () => urlsplit(rest));
  const protocol = hostWithProtocol ? parts.scheme : '';
  const host = netlocToHostname(parts);
  const quotedSchema = parts.path.slice(1);
  const login = username(parts);
  const pw = splitPassword(parts);
  const port = python(field, () => splitPort(parts), "the text after the host's last ':' must be a port number; a login or password holding '/', '?', '#' or '@' must be percent-encoded");
  let extra: Record<string, unknown> = {};
  if (parts.query) {
    const pairs = parseQsl(parts.query);
    const nested = pairs.find(([k]) => k === EXTRA_KEY);
    extra = nested ? decodeExtra(field, nested[1]) : objectFrom(pairs);
  }
  return {
    conn_type: normalizeConnType(connType),
    host: host && protocol ? `${protocol}://${host}` : host,
    login: login ? unquote(login) : login,
    // Airflow's password setter ignores a falsy value: `user:@host` has no password.
    password: pw ? unquote(pw) : null,
    schema: quotedSchema ? unquote(quotedSchema) : quotedSchema,
    port,
    extra,
  };
}

/**
 * Parses an `AIRFLOW_CONN_*` URI as `Connection(uri=…)` does. A URI Airflow would reject throws
 * ERR_VALIDATION (field `uri`) with Airflow's reason; the message never repeats the URI.
 */
export function parseConnectionUri(uri: string): AirflowConnectionFields {
  return parseUri(uri, 'uri');
}

function renderError(field: keyof AirflowConnectionFields, message: string): AppError {
  return new AppError('ERR_VALIDATION', message, { field });
}

function quoteField(field: keyof AirflowConnectionFields, value: string): string {
  try {
    return quote(value);
  } catch (err) {
    if (err instanceof PythonValueError) throw renderError(field, `${field} cannot be encoded as UTF-8: ${err.message}`);
    throw err;
  }
}

function checkRenderable(c: AirflowConnectionFields): void {
  if (c.port !== null && !Number.isInteger(c.port)) throw renderError('port', 'port must be a whole number or null');
  if (!isPlainObject(c.extra)) throw renderError('extra', 'extra must be an object');
}

/**
 * Renders the connection as `Connection.get_uri()` does (see the module comment for the two
 * places where Airflow versions differ and which form this follows).
 */
export function renderConnectionUri(c: AirflowConnectionFields): string {
  checkRenderable(c);
  let uri = c.conn_type ? `${c.conn_type.toLowerCase().replaceAll('_', '-')}://` : '//';
  let host = c.host;
  if (c.host && c.host.includes('://')) {
    const i = c.host.indexOf('://');
    const protocol = c.host.slice(0, i);
    if (protocol !== c.conn_type) {
      host = c.host.slice(i + 3);
      if (protocol) uri += `${protocol}://`;
    }
  }
  let authority = '';
  if (c.login !== null) authority += quoteField('login', c.login);
  // Connection(password='') stores no password.
  if (c.password) authority += ':' + quoteField('password', c.password);
  if (authority) {
    authority += '@';
    uri += authority;
  }
  let hostBlock = host ? quoteField('host', host) : '';
  if (c.port) hostBlock += hostBlock === '' && authority === '' ? `@:${c.port}` : `:${c.port}`;
  if (c.schema) hostBlock += `/${quoteField('schema', c.schema)}`;
  uri += hostBlock;
  const entries = Object.entries(c.extra);
  if (entries.length > 0) {
    const flat = entries.every((e): e is [string, string] => typeof e[1] === 'string');
    let query: string;
    try {
      query = flat ? urlencode(entries) : urlencode([[EXTRA_KEY, pyJsonDumps(c.extra)]]);
    } catch (err) {
      if (err instanceof PythonValueError) throw renderError('extra', `extra cannot be encoded as UTF-8: ${err.message}`);
      throw err;
    }
    uri += (c.schema ? '?' : '/?') + query;
  }
  return uri;
}

/** Keys `Connection.from_json` passes to `Connection(...)` that it accepts (team_name: Airflow 3). */
const JSON_KEYS = new Set(['conn_type', 'description', 'host', 'login', 'password', 'schema', 'port', 'extra', 'uri', 'team_name']);

/** Python's `int(value)` on a JSON value, as from_json applies it to `port`. */
function jsonPort(value: unknown): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Math.trunc(value);
  if (typeof value === 'string') {
    const s = value.trim();
    if (/^[+-]?[0-9]+(?:_[0-9]+)*$/.test(s)) return Number(s.replaceAll('_', ''));
    throw reject('json', `Expected integer value for \`port\`, but got ${pyRepr(value)} instead.`, 'ValueError');
  }
  const type = Array.isArray(value) ? 'list' : 'dict';
  throw reject('json', `int() argument must be a string, a bytes-like object or a real number, not '${type}'`, 'TypeError', 'port must be a number or a string of digits');
}

function stringOrNull(obj: Record<string, unknown>, key: 'host' | 'login' | 'password' | 'schema'): string | null {
  const v = obj[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw reject('json', `\`${key}\` must be a string or null`, 'TypeError');
  return v;
}

/**
 * Parses a connection as `Connection.from_json` does (the JSON form of `AIRFLOW_CONN_*`, Airflow
 * ≥ 2.3). `description` and `team_name` are accepted as Airflow accepts them, but are not
 * connection fields here and are dropped.
 */
export function parseConnectionJson(json: string): AirflowConnectionFields {
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch (err) {
    // JSON.parse's message quotes the input, which may hold a password: only its position is kept.
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw reject('json', `it is not valid JSON${at === undefined ? '' : ` (at character ${at})`}`, 'JSONDecodeError');
  }
  if (!isPlainObject(obj)) throw reject('json', 'the value must be a JSON object of connection fields', 'AttributeError');
  const extra = truthy(obj.extra) ? (typeof obj.extra === 'string' ? obj.extra : pyJsonDumps(obj.extra)) : null;
  const rawType = obj.conn_type;
  if (truthy(rawType) && typeof rawType !== 'string') throw reject('json', '`conn_type` must be a string', 'TypeError');
  const connType = truthy(rawType) ? normalizeConnType(rawType as string) : null;
  const port = truthy(obj.port) ? jsonPort(obj.port) : null;
  for (const key of Object.keys(obj)) {
    if (key === 'conn_id') throw reject('json', "Connection.__init__() got multiple values for keyword argument 'conn_id'", 'TypeError', 'the connection id is the variable name (AIRFLOW_CONN_<ID>) or the key in a secrets backend, not a field');
    if (!JSON_KEYS.has(key)) throw reject('json', `Connection.__init__() got an unexpected keyword argument ${pyRepr(key)}`, 'TypeError', 'fields: conn_type, description, host, login, password, schema, port, extra');
  }
  const host = stringOrNull(obj, 'host');
  const login = stringOrNull(obj, 'login');
  const password = stringOrNull(obj, 'password');
  const schema = stringOrNull(obj, 'schema');
  if (truthy(obj.uri)) {
    if (connType || host || login || password || schema || port || extra) {
      throw reject(
        'json',
        "You must create an object using the URI or individual values (conn_type, host, login, password, schema, port or extra).You can't mix these two ways to create this object.",
        'AirflowException',
      );
    }
    if (typeof obj.uri !== 'string') throw reject('json', '`uri` must be a string', 'TypeError');
    return parseUri(obj.uri, 'json');
  }
  return { conn_type: connType, host, login, password: password || null, schema, port, extra: extra === null ? {} : decodeExtra('json', extra) };
}

/**
 * Renders the connection as `Connection.as_json()` does: conn_type, host, login, password,
 * schema, port and extra in that order, null fields left out, extra only when not empty, written
 * by Python's json.dumps.
 */
export function renderConnectionJson(c: AirflowConnectionFields): string {
  checkRenderable(c);
  const entries: [string, unknown][] = [];
  const put = (k: string, v: unknown) => {
    if (v !== null && v !== undefined) entries.push([k, v]);
  };
  put('conn_type', c.conn_type);
  put('host', c.host);
  put('login', c.login);
  put('password', c.password || null);
  put('schema', c.schema);
  put('port', c.port);
  if (Object.keys(c.extra).length > 0) entries.push(['extra', c.extra]);
  return pyJsonDumps(objectFrom(entries));
}

/**
 * Whether Airflow accepts `id` as a conn_id: 1–250 of letters, digits and `_ # ! ( ) - . : / \`
 * (RE_SANITIZE_CONN_ID). Letters and digits are ASCII only: Airflow 2.x matches with re2, whose
 * `\w` is ASCII; Airflow 3's `re` would also take other Unicode letters, which 2.x rejects.
 */
export function isValidConnId(id: string): boolean {
  return typeof id === 'string' && id.length <= CONN_ID_MAX_LEN && /^[A-Za-z0-9_#!()\-.:/\\]+$/.test(id);
}
