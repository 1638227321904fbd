/**
 * A Deployment's environment as its workloads receive it: the wire contract of
 * `GET /api/v1/workload/environment` (answered only to the Deployment's own attested workloads,
 * secrets included) and what `airlock exec` / `airlock agent` make of it.
 *
 * How it reaches Airflow, in Airflow's lookup order (first match wins):
 * - the Environment Manager's linked connections go into a LocalFilesystemBackend connections
 *   file in the delivery directory; when the Deployment configures no secrets backend of its own,
 *   AIRFLOW__SECRETS__BACKEND points at that file, so Airflow consults it before environment
 *   variables and the metadata database. They are also set as `AIRFLOW_CONN_<ID>` (URI form, which
 *   every Airflow version reads), replacing a Deployment variable of the same name: the Environment
 *   Manager ranks above environment variables.
 * - the Deployment's variables are set as they are.
 * Nothing replaces a variable the caller's own environment already sets.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { renderConnectionUri } from '../connections/codec.ts';
import { renderEnvironment } from '../variables/render.ts';
import { SECRETS_BACKEND, SECRETS_BACKEND_KWARGS, variableOfConnId } from '../variables/rules.ts';

export const WORKLOAD_ENVIRONMENT_PATH = '/api/v1/workload/environment';

/** Airflow's LocalFilesystemBackend (the same class path in Airflow 2.x and 3.x). */
export const LOCAL_FILESYSTEM_BACKEND = 'airflow.secrets.local_filesystem.LocalFilesystemBackend';
/** Where in the delivery directory the connections file goes. */
export const CONNECTIONS_FILE = join('airflow', 'connections.json');
/** Names the connections file for the workload (whatever backend is configured). */
export const CONNECTIONS_FILE_ENV = 'AIRLOCK_CONNECTIONS_FILE';

const connectionFieldsSchema = z.object({
  conn_type: z.string().nullable(),
  host: z.string().nullable(),
  login: z.string().nullable(),
  password: z.string().nullable(),
  schema: z.string().nullable(),
  port: z.number().int().nullable(),
  extra: z.record(z.string(), z.unknown()),
});

export const workloadEnvironmentSchema = z.object({
  deployment: z.object({ id: z.string(), name: z.string() }),
  /** Changes whenever anything below does: the agent rewrites its files only then. */
  digest: z.string(),
  variables: z.array(z.object({ key: z.string(), value: z.string(), secret: z.boolean() })),
  connections: z.array(z.object({ connId: z.string(), fields: connectionFieldsSchema })),
});
export type WorkloadEnvironmentDoc = z.infer<typeof workloadEnvironmentSchema>;

/** The digest of an environment's content (order-independent). */
export function environmentDigest(doc: Omit<WorkloadEnvironmentDoc, 'digest' | 'deployment'>): string {
  const vars = [...doc.variables].sort((a, b) => (a.key < b.key ? -1 : 1)).map((v) => [v.key, v.value, v.secret]);
  const conns = [...doc.connections].sort((a, b) => (a.connId < b.connId ? -1 : 1)).map((c) => [c.connId, c.fields]);
  return createHash('sha256').update(JSON.stringify([vars, conns])).digest('hex').slice(0, 32);
}

export interface AppliedEnvironment {
  /** Variables for the workload's environment (before the caller's own, which win). */
  env: Record<string, string>;
  /** Files to write (mode of the token files). */
  files: { path: string; content: string }[];
  /** `AIRFLOW_CONN_*` Deployment variables replaced by a linked connection of the same id. */
  shadowedVariables: string[];
}

/**
 * What a workload gets from its Deployment's environment, with its delivery directory `dir`.
 * `outer` is the environment the workload already has (its values win): a secrets backend set
 * there is the workload's own, and the connections file is not put in its place.
 */
export function applyEnvironment(doc: WorkloadEnvironmentDoc, dir: string, outer: NodeJS.ProcessEnv = {}): AppliedEnvironment {
  const env: Record<string, string> = {};
  for (const v of doc.variables) env[v.key] = v.value;
  const shadowedVariables: string[] = [];
  const file = join(dir, CONNECTIONS_FILE);
  const files: AppliedEnvironment['files'] = [];
  if (doc.connections.length) {
    for (const c of doc.connections) {
      const key = variableOfConnId(c.connId);
      if (env[key] !== undefined) shadowedVariables.push(key);
      env[key] = renderConnectionUri(c.fields);
    }
    files.push({ path: file, content: renderEnvironment('airflow-connections-json', { variables: [], connections: doc.connections }).content });
    env[CONNECTIONS_FILE_ENV] = file;
    const configured = (k: string) => env[k] !== undefined || (outer[k] !== undefined && outer[k] !== '');
    if (!configured(SECRETS_BACKEND) && !configured(SECRETS_BACKEND_KWARGS)) {
      env[SECRETS_BACKEND] = LOCAL_FILESYSTEM_BACKEND;
      env[SECRETS_BACKEND_KWARGS] = JSON.stringify({ connections_file_path: file });
    }
  }
  return { env, files, shadowedVariables: shadowedVariables.sort() };
}
