/**
 * A Deployment's environment variables: what its workloads get in their environment (Airflow's
 * `AIRFLOW__…` settings, `AIRFLOW_CONN_*` connections, anything a DAG reads).
 *
 * Secrets are write-only: sealed under the master key as they arrive, never returned by any
 * API a person calls (a viewer sees that a secret exists, not its value), opened only for the
 * Deployment's own attested workloads ({@link VariableService.forWorkload}). A secret can be
 * replaced, never turned back into a plain value. Every write touches one row, conditionally on
 * the version the writer saw when it names one, so concurrent clients never lose each other's
 * changes silently.
 */
import { z } from 'zod';
import type { Scope } from '../access/scope.ts';
import type { Sealer } from '../crypto/envelope.ts';
import type { DeploymentService } from '../deployments/service.ts';
import type { Deployment, DeploymentVariableRecord } from '../domain/records.ts';
import { AppError } from '../errors/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Store } from '../store/store.ts';
import { renderEnvironment, type EnvConnection, type EnvFormat, type RenderedEnvironment } from './render.ts';
import { checkKey, checkVariable, VARIABLE_KEY_MAX, VARIABLE_VALUE_MAX } from './rules.ts';

/** Most variables one create call takes (a large .env file). */
export const VARIABLES_PER_CALL = 500;

const keySchema = z.string().min(1).max(VARIABLE_KEY_MAX).meta({ example: 'AIRFLOW__CORE__LOAD_EXAMPLES' });
const valueSchema = z.string().min(1).max(VARIABLE_VALUE_MAX).meta({ example: 'False' });
const versionSchema = z.number().int().min(1).meta({ example: 3, description: 'Only if the variable is still at this version (optimistic concurrency); else ERR_CONFLICT.' });

export const variablesCreateSchema = z
  .object({
    variables: z
      .array(
        z
          .object({
            key: keySchema,
            value: valueSchema,
            secret: z.boolean().default(false).meta({ example: false, description: 'Write-only: the value is never shown again.' }),
          })
          .strict(),
      )
      .min(1)
      .max(VARIABLES_PER_CALL),
  })
  .strict();

export const variableUpdateSchema = z
  .object({
    value: valueSchema,
    secret: z.boolean().optional().meta({ example: true, description: 'Absent: unchanged. true makes a plain variable secret; a secret never becomes plain.' }),
    version: versionSchema.optional(),
  })
  .strict();

/** A variable as a caller may see it: a secret's value is never included. */
export interface VariableView {
  key: string;
  secret: boolean;
  /** The plain value; null for a secret. */
  value: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface VariablesCreateResult {
  created: VariableView[];
  /** Keys that already existed and were left as they are (use update). */
  skipped: string[];
}

/** A variable with its value, for the Deployment's own workloads only. */
export interface WorkloadVariable {
  key: string;
  value: string;
  secret: boolean;
}

export interface VariableService {
  list(scope: Scope, deploymentRef: string): Promise<{ deployment: Deployment; items: VariableView[] }>;
  /** Adds every variable whose key is free; the others are skipped and named. */
  create(scope: Scope, deploymentRef: string, input: z.input<typeof variablesCreateSchema>): Promise<VariablesCreateResult>;
  update(scope: Scope, deploymentRef: string, key: string, input: z.input<typeof variableUpdateSchema>): Promise<VariableView>;
  delete(scope: Scope, deploymentRef: string, key: string, version?: number): Promise<void>;
  /**
   * Every variable of a Deployment with its value, secrets opened. Only for delivery to the
   * Deployment's attested workloads: never reachable with an API token.
   */
  forWorkload(deploymentId: string): Promise<WorkloadVariable[]>;
  /**
   * The Deployment's environment rendered for a person: plain variables, and the connections the
   * Environment Manager links to it; secret values and passwords are withheld and named.
   */
  render(scope: Scope, deploymentRef: string, format: EnvFormat): Promise<RenderedEnvironment>;
  /** What the Deployment's attested workloads get: every variable with its value, linked connections with their passwords. */
  workloadEnvironment(deploymentId: string): Promise<WorkloadEnvironment>;
}

export interface WorkloadEnvironment {
  variables: WorkloadVariable[];
  connections: EnvConnection[];
}

/**
 * The Environment Manager's connections linked to a Deployment (the connections domain provides
 * them); `withSecrets: false` leaves passwords out (marked withheld).
 */
export type LinkedConnectionSource = (deploymentId: string, o: { withSecrets: boolean }) => Promise<EnvConnection[]>;

export interface VariableServiceDeps {
  store: Store;
  clock: Clock;
  sealer: Sealer;
  deployments: DeploymentService;
  /** Absent: no connections are linked anywhere. */
  linkedConnections?: LinkedConnectionSource | undefined;
}

/** The sealed value is bound to its Deployment and key: copied onto another row, it fails to open. */
export const variableAad = (deploymentId: string, key: string) => `deployment-variable:${deploymentId}:${key}`;

export function viewOf(r: DeploymentVariableRecord): VariableView {
  return { key: r.key, secret: r.secret, value: r.secret ? null : r.value, version: r.version, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

export function createVariableService(d: VariableServiceDeps): VariableService {
  const find = async (scope: Scope, ref: string) => (await d.deployments.get(scope, ref)).deployment;
  const notFound = (dep: Deployment, key: string) =>
    new AppError('ERR_NOT_FOUND', `Deployment ${dep.name} has no variable ${key}`, { field: 'key', example: `see: airlock deployment variable list -d ${dep.name}` });
  const stored = (dep: Deployment, key: string, value: string, secret: boolean) =>
    secret ? { secret, value: null, valueSealed: d.sealer.seal(Buffer.from(value, 'utf8'), variableAad(dep.id, key)) } : { secret, value, valueSealed: null };
  const conflict = (dep: Deployment, key: string, expected: number, current: number) =>
    new AppError(
      'ERR_CONFLICT',
      `variable ${key} of Deployment ${dep.name} is at version ${current}, not ${expected}: it was changed after you read it; read it again and retry`,
      { field: 'version', example: current, details: { key, expectedVersion: expected, currentVersion: current } },
    );

  async function forWorkload(deploymentId: string): Promise<WorkloadVariable[]> {
    return (await d.store.variables.list(deploymentId)).map((r) => ({
      key: r.key,
      secret: r.secret,
      value: r.secret ? d.sealer.open(r.valueSealed!, variableAad(deploymentId, r.key)).toString('utf8') : r.value!,
    }));
  }
  const linked = async (deploymentId: string, withSecrets: boolean): Promise<EnvConnection[]> =>
    d.linkedConnections ? d.linkedConnections(deploymentId, { withSecrets }) : [];

  return {
    async list(scope, ref) {
      const deployment = await find(scope, ref);
      return { deployment, items: (await d.store.variables.list(deployment.id)).map(viewOf) };
    },

    async create(scope, ref, raw) {
      const input = variablesCreateSchema.parse(raw);
      const seen = new Set<string>();
      input.variables.forEach((v, i) => {
        checkVariable(v.key, v.value, `variables.${i}.value`);
        if (seen.has(v.key)) throw new AppError('ERR_VALIDATION', `${v.key} is given twice in one request`, { field: `variables.${i}.key`, example: 'each key once' });
        seen.add(v.key);
      });
      const dep = await find(scope, ref);
      const now = new Date(d.clock.now());
      const rows: DeploymentVariableRecord[] = input.variables.map((v) => ({
        deploymentId: dep.id,
        key: v.key,
        ...stored(dep, v.key, v.value, v.secret),
        version: 1,
        createdAt: now,
        updatedAt: now,
      }));
      let inserted: string[];
      try {
        inserted = await d.store.variables.insertNew(rows);
      } catch (err) {
        // The Deployment was deleted between the lookup and the insert.
        if ((err as { code?: unknown }).code === '23503') throw new AppError('ERR_NOT_FOUND', `no deployment "${ref}"`, { field: 'deployment', cause: err });
        throw err;
      }
      const made = new Set(inserted);
      return {
        created: rows.filter((r) => made.has(r.key)).map(viewOf),
        skipped: rows.filter((r) => !made.has(r.key)).map((r) => r.key),
      };
    },

    async update(scope, ref, key, raw) {
      checkKey(key);
      const input = variableUpdateSchema.parse(raw);
      checkVariable(key, input.value);
      const dep = await find(scope, ref);
      // Each write is conditional on the version read just before it, so a change made in between
      // (which may have made the variable secret) is never undone. Without a version from the
      // caller a lost race is retried on the fresh row; with one it is the caller's conflict.
      for (let attempt = 0; ; attempt++) {
        const current = await d.store.variables.get(dep.id, key);
        if (!current) throw notFound(dep, key);
        if (current.secret && input.secret === false) {
          throw new AppError('ERR_RULE_VIOLATION', `${key} is a secret and stays one: a secret is never turned back into a plain value`, {
            field: 'secret',
            example: `delete it and create it again without --secret: airlock deployment variable delete -d ${dep.name} ${key}`,
          });
        }
        if (input.version !== undefined && input.version !== current.version) throw conflict(dep, key, input.version, current.version);
        const secret = input.secret ?? current.secret;
        const updated = await d.store.variables.update(dep.id, key, { ...stored(dep, key, input.value, secret), updatedAt: new Date(d.clock.now()) }, current.version);
        if (updated) return viewOf(updated);
        if (input.version !== undefined || attempt >= 4) {
          const now = await d.store.variables.get(dep.id, key);
          if (!now) throw notFound(dep, key);
          throw conflict(dep, key, input.version ?? current.version, now.version);
        }
      }
    },

    async delete(scope, ref, key, version) {
      checkKey(key);
      const dep = await find(scope, ref);
      if (await d.store.variables.delete(dep.id, key, version)) return;
      const now = await d.store.variables.get(dep.id, key);
      if (!now) throw notFound(dep, key);
      throw conflict(dep, key, version!, now.version);
    },

    forWorkload,

    async render(scope, ref, format) {
      const dep = await find(scope, ref);
      const [rows, connections] = await Promise.all([d.store.variables.list(dep.id), linked(dep.id, false)]);
      return renderEnvironment(format, { variables: rows.map((r) => ({ key: r.key, value: r.secret ? null : r.value })), connections });
    },

    async workloadEnvironment(deploymentId) {
      const [variables, connections] = await Promise.all([forWorkload(deploymentId), linked(deploymentId, true)]);
      return { variables, connections };
    },
  };
}
