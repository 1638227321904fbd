/**
 * Gathers every definition of a conn_id a Deployment's Airflow could find (its secrets-backend
 * settings, the Environment Manager, its AIRFLOW_CONN_* variable, its metadata database) and hands
 * them to {@link resolveConnection}. Passwords and secret values are read only to compare them
 * and never leave: the result shows field names, not secret values.
 */
import type { Scope } from '../access/scope.ts';
import type { DeploymentService } from '../deployments/service.ts';
import { AppError } from '../errors/index.ts';
import type { VariableService } from '../variables/service.ts';
import { parseConnectionValue, SECRETS_BACKEND, SECRETS_BACKEND_KWARGS, variableOfConnId } from '../variables/rules.ts';
import { isValidConnId } from './codec.ts';
import { resolveConnection, type ResolveInput, type ResolveResult } from './resolve.ts';
import type { ConnectionService } from './service.ts';

export interface ConnectionResolver {
  resolve(scope: Scope, deploymentRef: string, connId: string): Promise<ResolveResult & { deployment: { id: string; name: string } }>;
}

export function createConnectionResolver(d: { deployments: DeploymentService; variables: VariableService; connections: ConnectionService }): ConnectionResolver {
  return {
    async resolve(scope, ref, connId) {
      if (!isValidConnId(connId)) {
        throw new AppError('ERR_VALIDATION', 'conn_id must be 1–250 of letters, digits and _ # ! ( ) - . : / \\ (Airflow\'s conn_id rule)', { field: 'connection', example: 'aws_default' });
      }
      const dep = (await d.deployments.get(scope, ref)).deployment;
      const [vars, linked, metastore] = await Promise.all([
        d.variables.forWorkload(dep.id),
        d.connections.connectionsForDeployment(dep.id, { withPasswords: true }),
        d.connections.metastoreConnections(dep.id, { withPasswords: true }),
      ]);
      const input: ResolveInput = { connId };
      const backend = vars.find((v) => v.key === SECRETS_BACKEND);
      if (backend) {
        const kw = vars.find((v) => v.key === SECRETS_BACKEND_KWARGS);
        let kwargs: Record<string, unknown> | null = null;
        try {
          kwargs = kw ? (JSON.parse(kw.value) as Record<string, unknown>) : null;
        } catch {
          kwargs = null;
        }
        input.secretsBackend = { className: backend.value, kwargs, kwargsSecret: kw?.secret ?? false };
      }
      const em = linked.find((c) => c.connId === connId);
      if (em) input.environmentManager = { fields: em.fields, linkedBy: em.linkedBy, overridden: em.overridden };
      // Airflow reads AIRFLOW_CONN_ + the id upper-cased.
      const key = variableOfConnId(connId);
      const v = vars.find((x) => x.key === key);
      if (v) {
        try {
          input.environmentVariable = { key, secret: v.secret, fields: parseConnectionValue(v.value) };
        } catch (err) {
          // The codec's reasons never quote the value.
          input.environmentVariable = { key, secret: v.secret, invalid: err instanceof AppError ? err.message : 'unparseable' };
        }
      }
      const md = metastore.find((c) => c.connId === connId);
      if (md) input.metadataDatabase = { fields: md.fields };
      return { deployment: { id: dep.id, name: dep.name }, ...resolveConnection(input) };
    },
  };
}
