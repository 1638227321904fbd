/**
 * Which definition of a connection a Deployment's Airflow uses, and what it shadows.
 *
 * Airflow looks a conn_id up in its secrets backends in order and takes the FIRST one that has it
 * (`Connection.get_connection_from_secrets`: the configured backend, then environment variables,
 * then the metadata database). Airlock's Environment Manager sits between the configured backend
 * and the environment variables (its connections are delivered as a LocalFilesystemBackend file
 * consulted ahead of the environment, and as `AIRFLOW_CONN_*` that replace a variable of the same
 * name). So the order is: secrets backend → Environment Manager → environment variables → metadata
 * database, and a definition lower down never overrides one above it: it is shadowed. (The seeds
 * say a source "will override" the ones below; that wording is wrong. Nothing merges: the first
 * match is used whole.)
 *
 * Airlock cannot see inside a secrets backend: when one is configured, it is reported as
 * consulted first, with its kwargs and the secret name it will be asked for, and the winner among
 * what Airlock can see holds only if the backend has no such secret.
 *
 * Pure: the caller passes every definition (passwords included, for comparison); what is shown is
 * stripped of passwords and of any value a secret variable holds.
 */
import type { AirflowConnectionFields } from './codec.ts';

export const RESOLVE_SOURCES = ['secrets-backend', 'environment-manager', 'environment-variable', 'metadata-database'] as const;
export type ResolveSource = (typeof RESOLVE_SOURCES)[number];

export const CONNECTION_FIELDS = ['conn_type', 'host', 'login', 'password', 'schema', 'port', 'extra'] as const;
export type ConnectionField = (typeof CONNECTION_FIELDS)[number];

export interface ResolveInput {
  connId: string;
  /** From AIRFLOW__SECRETS__BACKEND(_KWARGS); absent when no backend is configured. */
  secretsBackend?: { className: string; kwargs: Record<string, unknown> | null; kwargsSecret: boolean } | undefined;
  environmentManager?: { fields: AirflowConnectionFields; linkedBy?: string | undefined; overridden?: string[] | undefined } | undefined;
  /** The AIRFLOW_CONN_<ID> variable: parsed, or why Airflow could not parse it. */
  environmentVariable?: { key: string; secret: boolean; fields?: AirflowConnectionFields | undefined; invalid?: string | undefined } | undefined;
  metadataDatabase?: { fields: AirflowConnectionFields } | undefined;
}

export type StepStatus = 'consulted-first' | 'skips-connections' | 'winner' | 'shadowed' | 'not-defined' | 'not-configured' | 'unreadable';

/** A definition as shown: no password, and nothing of a secret variable's value. */
export interface ShownDefinition {
  conn_type?: string | null;
  host?: string | null;
  login?: string | null;
  schema?: string | null;
  port?: number | null;
  extra?: Record<string, unknown>;
  passwordSet: boolean;
  /** A secret variable: its fields are not shown. */
  withheld?: boolean;
}

export interface ResolveStep {
  position: number;
  source: ResolveSource;
  status: StepStatus;
  /** Human detail: the variable name, the backend class and the secret it is asked for, how it is linked. */
  detail?: string;
  definition?: ShownDefinition;
  /** Shadowed only: the fields in which it differs from the winner (names, never values). */
  differsFrom?: ConnectionField[];
  secretsBackend?: { className: string; kwargs: Record<string, unknown> | null; kwargsWithheld: boolean; lookup?: string };
}

export interface ResolveResult {
  connId: string;
  /** The source whose definition Airflow uses, among those Airlock can see; null when none defines it. */
  winner: Exclude<ResolveSource, 'secrets-backend'> | null;
  /** True when a configured secrets backend is consulted first and may hold it (Airlock cannot tell). */
  secretsBackendConsultedFirst: boolean;
  steps: ResolveStep[];
  warnings: string[];
}

/**
 * The secret a backend is asked for, by Airflow's providers' defaults: `<connections_prefix><sep><conn_id>`
 * with `-` for Google Secret Manager and Azure Key Vault, `/` elsewhere (AWS Secrets Manager and
 * Parameter Store, HashiCorp Vault paths); a `sep` kwarg wins. Null prefix: connections are not looked up.
 */
export function backendLookup(className: string, kwargs: Record<string, unknown> | null, connId: string): string | null | undefined {
  if (!kwargs || !('connections_prefix' in kwargs)) return undefined;
  const prefix = kwargs.connections_prefix;
  if (prefix === null) return null;
  if (typeof prefix !== 'string') return undefined;
  const sep = typeof kwargs.sep === 'string' ? kwargs.sep : /google|azure/i.test(className) ? '-' : '/';
  return `${prefix}${sep}${connId}`;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

export function differingFields(a: AirflowConnectionFields, b: AirflowConnectionFields): ConnectionField[] {
  return CONNECTION_FIELDS.filter((f) => !same(a[f] ?? null, b[f] ?? null));
}

function shown(f: AirflowConnectionFields, withheld = false): ShownDefinition {
  if (withheld) return { passwordSet: f.password !== null && f.password !== '', withheld: true };
  return { conn_type: f.conn_type, host: f.host, login: f.login, schema: f.schema, port: f.port, extra: f.extra, passwordSet: f.password !== null && f.password !== '' };
}

export function resolveConnection(input: ResolveInput): ResolveResult {
  const steps: ResolveStep[] = [];
  const warnings: string[] = [];
  const sb = input.secretsBackend;
  let consultedFirst = false;
  if (!sb) {
    steps.push({ position: 1, source: 'secrets-backend', status: 'not-configured', detail: 'AIRFLOW__SECRETS__BACKEND is not set' });
  } else {
    const lookup = sb.kwargsSecret ? undefined : backendLookup(sb.className, sb.kwargs, input.connId);
    const info: NonNullable<ResolveStep['secretsBackend']> = { className: sb.className, kwargs: sb.kwargsSecret ? null : sb.kwargs, kwargsWithheld: sb.kwargsSecret };
    if (typeof lookup === 'string') info.lookup = lookup;
    if (lookup === null) {
      steps.push({ position: 1, source: 'secrets-backend', status: 'skips-connections', detail: `${sb.className} with connections_prefix null: Airflow does not ask it for connections`, secretsBackend: info });
    } else {
      consultedFirst = true;
      steps.push({
        position: 1,
        source: 'secrets-backend',
        status: 'consulted-first',
        detail: `${sb.className} is asked first${typeof lookup === 'string' ? ` (for the secret ${lookup})` : ''}; Airlock cannot see inside it`,
        secretsBackend: info,
      });
    }
  }

  type Found = { source: Exclude<ResolveSource, 'secrets-backend'>; fields: AirflowConnectionFields; step: ResolveStep };
  const found: Found[] = [];
  const em = input.environmentManager;
  const emStep: ResolveStep = { position: 2, source: 'environment-manager', status: 'not-defined' };
  if (em) {
    emStep.definition = shown(em.fields);
    emStep.detail = `linked ${em.linkedBy === 'all-deployments' ? 'to all Deployments' : 'to this Deployment'}${em.overridden?.length ? `; this Deployment overrides ${em.overridden.join(', ')}` : ''}`;
    found.push({ source: 'environment-manager', fields: em.fields, step: emStep });
  }
  steps.push(emStep);

  const ev = input.environmentVariable;
  const evStep: ResolveStep = { position: 3, source: 'environment-variable', status: 'not-defined' };
  if (ev) {
    evStep.detail = `${ev.key}${ev.secret ? ' (secret)' : ''}`;
    if (ev.fields) {
      evStep.definition = shown(ev.fields, ev.secret);
      found.push({ source: 'environment-variable', fields: ev.fields, step: evStep });
    } else {
      evStep.status = 'unreadable';
      evStep.detail += `: Airflow cannot parse it (${ev.invalid ?? 'invalid'}) and fails the lookup there`;
      warnings.push(`${ev.key} is not a connection Airflow can read: a lookup of ${input.connId} that reaches it fails`);
    }
  }
  steps.push(evStep);

  const md = input.metadataDatabase;
  const mdStep: ResolveStep = { position: 4, source: 'metadata-database', status: 'not-defined' };
  if (md) {
    mdStep.definition = shown(md.fields);
    mdStep.detail = 'imported with airlock connection import';
    found.push({ source: 'metadata-database', fields: md.fields, step: mdStep });
  }
  steps.push(mdStep);

  const winner = found[0];
  if (winner) {
    winner.step.status = 'winner';
    for (const f of found.slice(1)) {
      f.step.status = 'shadowed';
      f.step.differsFrom = differingFields(f.fields, winner.fields);
      if (f.step.differsFrom.length) {
        warnings.push(`the ${label(f.source)} definition differs from the ${label(winner.source)} one (${f.step.differsFrom.join(', ')}) and is never used: the first match wins`);
      }
    }
  }
  if (consultedFirst) {
    warnings.push(
      winner
        ? `the secrets backend is consulted first: if it holds ${input.connId}, its definition is used and the ${label(winner.source)} one is shadowed`
        : `only the secrets backend can define ${input.connId} for this Deployment; Airlock cannot tell whether it does`,
    );
  }
  return { connId: input.connId, winner: winner?.source ?? null, secretsBackendConsultedFirst: consultedFirst, steps, warnings };
}

export function label(s: ResolveSource): string {
  return { 'secrets-backend': 'secrets backend', 'environment-manager': 'Environment Manager', 'environment-variable': 'environment variable', 'metadata-database': 'metadata database' }[s];
}
