/**
 * Reads the files `airflow connections export` writes (and Airflow's LocalFilesystemBackend
 * reads), as Airflow reads them:
 *
 * - `json`: `{"<conn_id>": {...}, ...}` — each value a dict of Connection's parameters
 *   (`conn_type, description, host, login, password, schema, port, extra`, and `conn_id`, `uri`,
 *   `extra_dejson` as Airflow's `_create_connection` allows), `extra` a JSON string (Airflow < 2.8
 *   exports) or an object (`Connection.to_dict`); or a URI string.
 * - `yaml`: the same mapping in YAML.
 * - `env`: `<conn_id>=<uri>` lines (`--serialization-format json` writes `<conn_id>=<json>`);
 *   blank lines and `#` comments skipped, key and value trimmed, a line without `=` or with an
 *   empty value refused, a conn_id given twice refused (Airflow: "multiple connections with the
 *   same conn_id").
 *
 * Errors name the conn_id and the key at fault, never a value (files carry passwords).
 */
import { parse as parseYaml } from 'yaml';
import { AppError } from '../errors/index.ts';
import { isValidConnId, parseConnectionJson, parseConnectionUri, type AirflowConnectionFields } from './codec.ts';

export const EXPORT_FORMATS = ['json', 'yaml', 'env'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** One connection read from an export file. */
export interface ExportedConnection {
  connId: string;
  description: string | null;
  fields: AirflowConnectionFields;
}

/** The parameters Airflow's `Connection(...)` takes, plus `extra_dejson` (local_filesystem._create_connection). */
const PARAMETERS = new Set(['conn_id', 'conn_type', 'description', 'host', 'login', 'password', 'schema', 'port', 'extra', 'uri', 'extra_dejson']);

const JSON_EXAMPLE = '{"aws_default": {"conn_type": "aws", "extra": "{\\"region_name\\": \\"us-east-1\\"}"}}';
const ENV_EXAMPLE = 'my_postgres=postgres://user:pass@db.example.com:5432/analytics';

function fail(message: string, field: string, example: string, details?: Record<string, unknown>): never {
  throw new AppError('ERR_VALIDATION', message, { field, example, ...(details ? { details } : {}) });
}

/** The format a file name implies (Airflow decides by extension too), if any. */
export function formatOfFileName(name: string): ExportFormat | undefined {
  const m = /\.(json|ya?ml|env)$/i.exec(name);
  if (!m) return undefined;
  const ext = m[1].toLowerCase();
  return ext === 'yml' ? 'yaml' : (ext as ExportFormat);
}

/** Parses a whole export file; all-or-nothing. */
export function parseConnectionsExport(content: string, format: ExportFormat): ExportedConnection[] {
  if (format === 'env') return parseEnv(content);
  let doc: unknown;
  try {
    doc = format === 'json' ? JSON.parse(content) : parseYaml(content, { uniqueKeys: true });
  } catch (err) {
    // The parser's message can quote the file (passwords): say only where.
    const where = format === 'yaml' && err instanceof Error && 'linePos' in err ? ` (line ${String((err as { linePos?: { line: number }[] }).linePos?.[0]?.line ?? '?')})` : '';
    fail(`the file is not valid ${format.toUpperCase()}${where}`, 'content', JSON_EXAMPLE);
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) fail(`an \`airflow connections export\` ${format} file is a mapping of conn_id to connection`, 'content', JSON_EXAMPLE);
  return Object.entries(doc as Record<string, unknown>).map(([connId, value]) => fromValue(connId, value));
}

function checkConnId(connId: string, field: string): void {
  if (!isValidConnId(connId)) {
    fail(`conn_id "${connId.slice(0, 250)}" is not one Airflow accepts (1–250 of letters, digits and _ # ! ( ) - . : / \\)`, field, 'aws_default');
  }
}

function fromValue(connId: string, value: unknown): ExportedConnection {
  const field = `connections.${connId}`;
  checkConnId(connId, field);
  if (typeof value === 'string') return { connId, description: null, fields: fromString(value, field) };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${field}: a connection is a mapping of its fields, or a URI`, field, JSON_EXAMPLE);
  const v = value as Record<string, unknown>;
  const illegal = Object.keys(v).filter((k) => !PARAMETERS.has(k));
  if (illegal.length) fail(`${field}: unknown key${illegal.length > 1 ? 's' : ''} ${illegal.join(', ')}; a connection takes ${[...PARAMETERS].join(', ')}`, `${field}.${illegal[0]}`, JSON_EXAMPLE);
  if ('extra' in v && 'extra_dejson' in v) fail(`${field}: extra and extra_dejson are mutually exclusive`, `${field}.extra_dejson`, JSON_EXAMPLE);
  if (v.conn_id !== undefined && v.conn_id !== connId) fail(`${field}: its conn_id says otherwise than its key`, `${field}.conn_id`, JSON_EXAMPLE);

  const str = (k: string): string | null => {
    const x = v[k];
    if (x === undefined || x === null) return null;
    if (typeof x === 'string') return x;
    // YAML may read an unquoted number or boolean; Airflow's columns are strings.
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    return fail(`${field}.${k}: must be a string`, `${field}.${k}`, JSON_EXAMPLE);
  };

  if (v.uri !== undefined && v.uri !== null) {
    // Connection(uri=...) refuses other fields next to it (except description and extra handling is Airflow's).
    const others = ['conn_type', 'host', 'login', 'password', 'schema', 'port', 'extra', 'extra_dejson'].filter((k) => v[k] !== undefined && v[k] !== null);
    if (others.length) fail(`${field}: give either uri or the separate fields (${others.join(', ')}), as Airflow's Connection requires`, `${field}.uri`, JSON_EXAMPLE);
    const uri = str('uri');
    return { connId, description: str('description'), fields: parseConnectionUri(uri ?? '') };
  }

  let port: number | null = null;
  if (v.port !== undefined && v.port !== null && v.port !== '') {
    const n = typeof v.port === 'number' ? v.port : typeof v.port === 'string' && /^\d+$/.test(v.port.trim()) ? Number(v.port.trim()) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${field}.port: must be an integer from 0 to 65535`, `${field}.port`, '5432');
    port = n;
  }

  let extra: Record<string, unknown> = {};
  const rawExtra = v.extra_dejson ?? v.extra;
  const extraKey = v.extra_dejson !== undefined ? 'extra_dejson' : 'extra';
  if (typeof rawExtra === 'string') {
    if (rawExtra.trim() !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawExtra);
      } catch {
        fail(`${field}.extra: is not valid JSON`, `${field}.extra`, '{"region_name": "us-east-1"}');
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail(`${field}.extra: must hold a JSON object`, `${field}.extra`, '{"region_name": "us-east-1"}');
      extra = parsed as Record<string, unknown>;
    }
  } else if (rawExtra !== undefined && rawExtra !== null) {
    if (typeof rawExtra !== 'object' || Array.isArray(rawExtra)) fail(`${field}.${extraKey}: must be a JSON object (or its text)`, `${field}.${extraKey}`, '{"region_name": "us-east-1"}');
    extra = rawExtra as Record<string, unknown>;
  }

  return {
    connId,
    description: str('description'),
    fields: { conn_type: str('conn_type'), host: str('host'), login: str('login'), password: str('password'), schema: str('schema'), port, extra },
  };
}

/** A string value: JSON when it starts with `{` (as AIRFLOW_CONN_* values are read), else a URI. */
function fromString(value: string, field: string): AirflowConnectionFields {
  const trimmed = value.trim();
  try {
    return trimmed.startsWith('{') ? parseConnectionJson(trimmed) : parseConnectionUri(trimmed);
  } catch (err) {
    if (err instanceof AppError) throw new AppError(err.code, `${field}: ${err.message}`, { field, example: err.example, details: err.details });
    throw err;
  }
}

function parseEnv(content: string): ExportedConnection[] {
  const seen = new Set<string>();
  const out: ExportedConnection[] = [];
  content.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    if (raw.trim() === '' || /^\s*#/.test(raw)) return;
    const eq = raw.indexOf('=');
    if (eq < 0) fail(`line ${lineNo}: no "=" (each line is <conn_id>=<uri or json>)`, `line.${lineNo}`, ENV_EXAMPLE);
    const key = raw.slice(0, eq).trim();
    const value = raw.slice(eq + 1).trim();
    if (key === '') fail(`line ${lineNo}: the conn_id is empty`, `line.${lineNo}`, ENV_EXAMPLE);
    if (value === '') fail(`line ${lineNo}: the value is empty`, `line.${lineNo}`, ENV_EXAMPLE);
    checkConnId(key, `line.${lineNo}`);
    if (seen.has(key)) fail(`line ${lineNo}: conn_id "${key}" appears more than once; Airflow refuses multiple connections with the same conn_id`, `line.${lineNo}`, ENV_EXAMPLE);
    seen.add(key);
    out.push({ connId: key, description: null, fields: fromString(value, `line.${lineNo}`) });
  });
  return out;
}
