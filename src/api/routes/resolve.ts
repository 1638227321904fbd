import { z } from 'zod';
import type { ConnectionResolver } from '../../connections/resolver.ts';
import { CONNECTION_FIELDS, RESOLVE_SOURCES } from '../../connections/resolve.ts';
import { defineRoute, type RouteDef } from '../route.ts';

/** The definition shown for a source: never a password, nothing of a secret variable's value. */
const definitionJson = z
  .object({
    conn_type: z.string().nullable().optional(),
    host: z.string().nullable().optional(),
    login: z.string().nullable().optional(),
    schema: z.string().nullable().optional(),
    port: z.number().int().nullable().optional(),
    extra: z.record(z.string(), z.unknown()).optional(),
    passwordSet: z.boolean(),
    withheld: z.boolean().optional(),
  })
  .strict();

export const resolveJson = z.object({
  connId: z.string(),
  deployment: z.object({ id: z.string(), name: z.string() }),
  winner: z.enum(['environment-manager', 'environment-variable', 'metadata-database']).nullable(),
  secretsBackendConsultedFirst: z.boolean(),
  steps: z.array(
    z.object({
      position: z.number().int(),
      source: z.enum(RESOLVE_SOURCES),
      status: z.enum(['consulted-first', 'skips-connections', 'winner', 'shadowed', 'not-defined', 'not-configured', 'unreadable']),
      detail: z.string().optional(),
      definition: definitionJson.optional(),
      differsFrom: z.array(z.enum(CONNECTION_FIELDS)).optional(),
      secretsBackend: z
        .object({ className: z.string(), kwargs: z.record(z.string(), z.unknown()).nullable(), kwargsWithheld: z.boolean(), lookup: z.string().optional() })
        .optional(),
    }),
  ),
  warnings: z.array(z.string()),
});

export function resolveRoutes(resolver: ConnectionResolver): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/connections/:connection/resolve',
      auth: 'token',
      permission: 'connection.read',
      tag: 'connections',
      summary:
        "Which definition of a conn_id a Deployment's Airflow uses: its secrets backend (consulted first; Airlock cannot see inside), the Environment Manager, AIRFLOW_CONN_<ID>, the metadata database. The first match wins; every shadowed definition is listed with the fields it differs in",
      params: z.object({ connection: z.string().min(1).max(250).meta({ example: 'aws_default' }) }).strict(),
      query: z.object({ deployment: z.string().min(1).max(100).meta({ example: 'etl' }) }).strict(),
      response: resolveJson,
      handler: async ({ params, query, scope }) => resolver.resolve(scope!, query.deployment, params.connection),
    }),
  ];
}
