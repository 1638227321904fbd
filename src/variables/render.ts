/**
 * A Deployment's environment in the forms a workload or a person takes it in: a `.env` file,
 * JSON, and Airflow's LocalFilesystemBackend connections file (JSON or YAML), which is how the
 * Environment Manager's connections reach Airflow. Pure functions.
 *
 * A value the caller may not read (a secret variable, a connection's password, for a person) is
 * passed as `null`: it is left out and named in `withheld`, never rendered as a placeholder a
 * workload could mistake for the real value.
 */
import { stringify as toYaml } from 'yaml';
import type { AirflowConnectionFields } from '../connections/codec.ts';

export const ENV_FORMATS = ['dotenv', 'json', 'airflow-connections-json', 'airflow-connections-yaml'] as const;
export type EnvFormat = (typeof ENV_FORMATS)[number];

export interface EnvVariable {
  key: string;
  /** null: withheld from this caller. */
  value: string | null;
}

export interface EnvConnection {
  connId: string;
  /** A null `password` on a connection that has one is withheld: pass `passwordWithheld`. */
  fields: AirflowConnectionFields;
  passwordWithheld?: boolean;
}

export interface RenderedEnvironment {
  format: EnvFormat;
  content: string;
  /** What the caller may not read and was left out: variable names, `<conn_id>.password`. */
  withheld: string[];
}

/** Safe unquoted in every .env reader (shells, Compose, python-dotenv, ours). */
const BARE = /^[A-Za-z0-9_./:@%+,=-]+$/;

/**
 * One value as a `.env` file writes it: bare when nothing in it needs quoting, else in single
 * quotes (taken literally by Compose, python-dotenv and `airlock … --load`), else — when it holds a
 * single quote or a line break — in double quotes with `\\`, `\"` and `\n` escaped.
 */
export function dotenvValue(v: string): string {
  if (BARE.test(v)) return v;
  if (!v.includes("'") && !/[\r\n]/.test(v)) return `'${v}'`;
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`;
}

/**
 * The LocalFilesystemBackend's mapping for one connection: `conn_type, host, login, password,
 * schema, port, extra`, null fields left out, `extra` as an object when it has keys (the backend
 * json.dumps a non-string extra; every Airflow 2.x and 3.x reads it).
 */
function fileEntry(c: AirflowConnectionFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['conn_type', 'host', 'login', 'password', 'schema', 'port'] as const) if (c[k] !== null && c[k] !== '') out[k] = c[k];
  if (Object.keys(c.extra).length) out.extra = c.extra;
  return out;
}

export function renderEnvironment(format: EnvFormat, env: { variables: EnvVariable[]; connections: EnvConnection[] }): RenderedEnvironment {
  const withheld: string[] = [];
  if (format === 'dotenv' || format === 'json') {
    const vars = [...env.variables].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const shown = vars.filter((v) => {
      if (v.value === null) withheld.push(v.key);
      return v.value !== null;
    });
    if (format === 'json') return { format, content: JSON.stringify(Object.fromEntries(shown.map((v) => [v.key, v.value])), null, 2) + '\n', withheld };
    const lines = shown.map((v) => `${v.key}=${dotenvValue(v.value!)}`);
    if (withheld.length) lines.push(`# withheld (secret, delivered only to the Deployment's workloads): ${withheld.join(', ')}`);
    return { format, content: lines.length ? lines.join('\n') + '\n' : '', withheld };
  }
  const conns = [...env.connections].sort((a, b) => (a.connId < b.connId ? -1 : a.connId > b.connId ? 1 : 0));
  const file: Record<string, Record<string, unknown>> = {};
  for (const c of conns) {
    if (c.passwordWithheld) withheld.push(`${c.connId}.password`);
    file[c.connId] = fileEntry(c.fields);
  }
  if (format === 'airflow-connections-json') return { format, content: JSON.stringify(file, null, 2) + '\n', withheld };
  // PyYAML reads YAML 1.1, where yes/no/on/off are booleans and 1:20 a number: written for 1.1,
  // such strings are quoted.
  return { format, content: conns.length ? toYaml(file, { version: '1.1' }) : '{}\n', withheld };
}
