import { z } from 'zod';
import { WORKLOAD_ENVIRONMENT_PATH, workloadEnvironmentSchema } from '../../delivery/deployment-environment.ts';
import type { WorkloadEnvironmentReader } from '../../delivery/environment-reads.ts';
import { ENV_FORMATS } from '../../variables/render.ts';
import { VARIABLE_KEY_MAX } from '../../variables/rules.ts';
import { variablesCreateSchema, variableUpdateSchema, type VariableService, type VariableView } from '../../variables/service.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate } from './common.ts';

/**
 * A variable on the wire. A secret's value is not in this schema's reach: `value` is null for
 * it, and the response is parsed against this schema, so no handler could send one by mistake.
 */
export const variableJson = z.object({
  key: z.string(),
  secret: z.boolean(),
  /** The plain value; null for a secret (write-only). */
  value: z.string().nullable(),
  version: z.number().int(),
  createdAt: isoDate,
  updatedAt: isoDate,
});

export function variableToJson(v: VariableView): z.infer<typeof variableJson> {
  return { key: v.key, secret: v.secret, value: v.secret ? null : v.value, version: v.version, createdAt: iso(v.createdAt), updatedAt: iso(v.updatedAt) };
}

const depParams = z.object({ deployment: z.string().min(1).max(100).meta({ example: 'etl' }) }).strict();
const keyParams = depParams.extend({ key: z.string().min(1).max(VARIABLE_KEY_MAX).meta({ example: 'AIRFLOW__CORE__LOAD_EXAMPLES' }) }).strict();

export function variableRoutes(variables: VariableService, environment: WorkloadEnvironmentReader): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: WORKLOAD_ENVIRONMENT_PATH,
      auth: 'workload',
      tag: 'delivery',
      summary: "The calling workload's Deployment environment: every variable with its value (secrets included) and the linked connections with their passwords. Only the Deployment's own attested workloads get it; a read of content the workload has not been recorded receiving is audited (environment.read), others at most hourly",
      query: z.object({ cluster: z.string().min(1).max(100).optional().meta({ example: 'prod-aws' }) }).strict(),
      response: workloadEnvironmentSchema,
      handler: async ({ bearer, query, request, setHeader }) => {
        setHeader('cache-control', 'no-store');
        return environment.read(bearer!, query.cluster, { requestId: request.id, source: request.source });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployments/:deployment/variables',
      auth: 'token',
      permission: 'variable.read',
      tag: 'variables',
      summary: "List a Deployment's environment variables (a secret's value is never returned)",
      params: depParams,
      response: z.object({ items: z.array(variableJson) }),
      handler: async ({ params, scope }) => ({ items: (await variables.list(scope!, params.deployment)).items.map(variableToJson) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/deployments/:deployment/variables',
      auth: 'token',
      permission: 'variable.write',
      tag: 'variables',
      summary: 'Add environment variables; keys that already exist are skipped and named (update them instead)',
      params: depParams,
      body: variablesCreateSchema,
      status: 201,
      response: z.object({ created: z.array(variableJson), skipped: z.array(z.string()) }),
      handler: async ({ params, body, scope }) => {
        const r = await variables.create(scope!, params.deployment, body);
        return { created: r.created.map(variableToJson), skipped: r.skipped };
      },
    }),
    defineRoute({
      method: 'PATCH',
      path: '/api/v1/deployments/:deployment/variables/:key',
      auth: 'token',
      permission: 'variable.write',
      tag: 'variables',
      summary: 'Change one variable (with `version` or If-Match: only if nobody changed it since; a secret stays secret)',
      ifMatch: 'body',
      params: keyParams,
      body: variableUpdateSchema,
      response: variableJson,
      handler: async ({ params, body, scope }) => variableToJson(await variables.update(scope!, params.deployment, params.key, body)),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/deployments/:deployment/variables/:key',
      auth: 'token',
      permission: 'variable.write',
      tag: 'variables',
      summary: 'Delete one variable (with `?version=` or If-Match: only if nobody changed it since)',
      ifMatch: 'query',
      params: keyParams,
      query: z.object({ version: z.coerce.number().int().min(1).optional().meta({ example: 3 }) }).strict(),
      response: z.void(),
      status: 204,
      handler: async ({ params, query, scope }) => variables.delete(scope!, params.deployment, params.key, query.version),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployments/:deployment/env',
      auth: 'token',
      permission: 'variable.read',
      tag: 'variables',
      summary: "The Deployment's environment as a .env file, JSON, or Airflow's LocalFilesystemBackend connections file (JSON/YAML); secret values are withheld and named",
      params: depParams,
      query: z.object({ format: z.enum(ENV_FORMATS).default('dotenv').meta({ example: 'dotenv' }) }).strict(),
      response: z.object({ format: z.enum(ENV_FORMATS), content: z.string(), withheld: z.array(z.string()) }),
      handler: async (input) => {
        const { params, query, scope } = input;
        input.setHeader('cache-control', 'no-store');
        return variables.render(scope!, params.deployment, query.format);
      },
    }),
  ];
}
