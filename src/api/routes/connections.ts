import { z } from 'zod';
import {
  connectionCreateSchema,
  connectionLinkSchema,
  connectionUnlinkSchema,
  connectionUpdateSchema,
  metastoreImportSchema,
  type ConnectionReference,
  type ConnectionService,
  type ConnectionView,
} from '../../connections/service.ts';
import type { MetastoreConnectionRecord } from '../../domain/records.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate } from './common.ts';

// No password field anywhere below: the response schema is what may leave the server, so a
// password can never be sent, whatever a handler returns. `passwordSet` says whether there is one.
export const connectionJson = z.object({
  id: z.string(),
  connId: z.string(),
  connType: z.string(),
  description: z.string(),
  host: z.string().nullable(),
  schema: z.string().nullable(),
  login: z.string().nullable(),
  passwordSet: z.boolean(),
  port: z.number().nullable(),
  extra: z.record(z.string(), z.unknown()),
  allDeployments: z.boolean(),
  deployments: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      overrides: z.object({
        connType: z.string().optional(),
        description: z.string().optional(),
        host: z.string().nullable().optional(),
        schema: z.string().nullable().optional(),
        login: z.string().nullable().optional(),
        port: z.number().nullable().optional(),
        extra: z.record(z.string(), z.unknown()).optional(),
      }),
      passwordOverridden: z.boolean(),
    }),
  ),
  version: z.number(),
  createdAt: isoDate,
  updatedAt: isoDate,
  /** How --from-identity filled the connection, when it did. */
  derivation: z.string().optional(),
});

const referenceJson = z.object({ deployment: z.object({ id: z.string(), name: z.string() }), where: z.string() });
const warningsJson = z.array(referenceJson);

function toJson(v: ConnectionView & { derivation?: string }): z.infer<typeof connectionJson> {
  const c = v.connection;
  const out: z.infer<typeof connectionJson> = {
    id: c.id,
    connId: c.connId,
    connType: c.connType,
    description: c.description,
    host: c.host,
    schema: c.schema,
    login: c.login,
    passwordSet: c.passwordEnc !== null,
    port: c.port,
    extra: c.extra,
    allDeployments: c.allDeployments,
    deployments: v.links.map((l) => ({ id: l.deployment.id, name: l.deployment.name, overrides: l.overrides, passwordOverridden: l.passwordOverridden })),
    version: c.version,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
  if (v.derivation) out.derivation = v.derivation;
  return out;
}

export const metastoreJson = z.object({
  id: z.string(),
  connId: z.string(),
  connType: z.string().nullable(),
  description: z.string().nullable(),
  host: z.string().nullable(),
  schema: z.string().nullable(),
  login: z.string().nullable(),
  passwordSet: z.boolean(),
  port: z.number().nullable(),
  extra: z.record(z.string(), z.unknown()),
  source: z.string(),
  importedAt: isoDate,
});

const metastoreToJson = (m: MetastoreConnectionRecord): z.infer<typeof metastoreJson> => ({
  id: m.id,
  connId: m.connId,
  connType: m.connType,
  description: m.description,
  host: m.host,
  schema: m.schema,
  login: m.login,
  passwordSet: m.passwordEnc !== null,
  port: m.port,
  extra: m.extra,
  source: m.source,
  importedAt: iso(m.importedAt),
});

const ref = z.object({ connection: z.string().min(1).max(250).meta({ example: 'aws_default' }) }).strict();
const depRef = z.object({ deployment: z.string().min(1).max(100).meta({ example: 'etl' }) }).strict();
const noQuery = z.object({}).strict();
const refs = (w: ConnectionReference[]) => w.map((r) => ({ deployment: r.deployment, where: r.where }));

export function connectionRoutes(connections: ConnectionService): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/connections',
      auth: 'token',
      permission: 'connection.read',
      tag: 'connections',
      summary: "List the workspace's Airflow connections (Environment Manager); passwords are never returned",
      query: noQuery,
      response: z.object({ items: z.array(connectionJson) }),
      handler: async ({ scope }) => ({ items: (await connections.list(scope!)).map(toJson) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/connections',
      auth: 'token',
      permission: 'connection.write',
      tag: 'connections',
      summary: 'Create an Airflow connection (typed aws / gcp / azure fields, or fromIdentity to fill them from a Deployment or saved identity)',
      body: connectionCreateSchema,
      status: 201,
      response: connectionJson,
      handler: async ({ body, scope }) => toJson(await connections.create(scope!, body)),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/connections/import',
      auth: 'token',
      permission: 'connection.write',
      tag: 'connections',
      action: 'connection.import',
      // The file's lines carry passwords.
      secretFields: ['content'],
      summary: "Import an `airflow connections export` file (json, yaml or env) as a Deployment's metadata-database connections (all or nothing; same conn_id replaced)",
      body: metastoreImportSchema,
      response: z.object({ deployment: z.object({ id: z.string(), name: z.string() }), created: z.array(z.string()), replaced: z.array(z.string()) }),
      handler: async ({ body, scope }) => connections.importMetastore(scope!, body),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployments/:deployment/metastore-connections',
      auth: 'token',
      permission: 'connection.read',
      tag: 'connections',
      summary: "A Deployment's metadata-database connections (imported); passwords are never returned",
      params: depRef,
      query: noQuery,
      response: z.object({ deployment: z.object({ id: z.string(), name: z.string() }), items: z.array(metastoreJson) }),
      handler: async ({ params, scope }) => {
        const r = await connections.listMetastore(scope!, params.deployment);
        return { deployment: { id: r.deployment.id, name: r.deployment.name }, items: r.items.map(metastoreToJson) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/deployments/:deployment/metastore-connections/:connection',
      auth: 'token',
      permission: 'connection.write',
      tag: 'connections',
      summary: "Delete one of a Deployment's metadata-database connections",
      params: depRef.extend(ref.shape).strict(),
      status: 204,
      response: z.void(),
      handler: async ({ params, scope }) => connections.deleteMetastore(scope!, params.deployment, params.connection),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/connections/:connection',
      auth: 'token',
      permission: 'connection.read',
      tag: 'connections',
      summary: 'Get a connection by conn_id (or id); the password is never returned',
      params: ref,
      query: noQuery,
      response: connectionJson,
      handler: async ({ params, scope }) => toJson(await connections.get(scope!, params.connection)),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/api/v1/connections/:connection',
      auth: 'token',
      permission: 'connection.write',
      tag: 'connections',
      summary: 'Update a connection (absent fields stay, null clears; version, or If-Match with its ETag, guards against concurrent edits)',
      ifMatch: 'body',
      params: ref,
      body: connectionUpdateSchema,
      response: connectionJson,
      handler: async ({ params, body, scope }) => toJson(await connections.update(scope!, params.connection, body)),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/connections/:connection',
      auth: 'token',
      permission: 'connection.write',
      tag: 'connections',
      summary: 'Delete a connection; the answer lists the variables that still refer to it',
      params: ref,
      response: z.object({ deleted: z.string(), warnings: warningsJson }),
      handler: async ({ params, scope }) => {
        const r = await connections.delete(scope!, params.connection);
        return { deleted: r.connection.connId, warnings: refs(r.warnings) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/connections/:connection/link',
      auth: 'token',
      permission: 'connection.write',
      tag: 'connections',
      action: 'connection.link',
      summary: 'Link a connection to a Deployment (with optional field overrides) or to all Deployments, new ones included',
      params: ref,
      body: connectionLinkSchema,
      response: connectionJson,
      handler: async ({ params, body, scope }) => toJson(await connections.link(scope!, params.connection, body)),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/connections/:connection/unlink',
      auth: 'token',
      permission: 'connection.write',
      tag: 'connections',
      action: 'connection.unlink',
      summary: 'Unlink a connection from a Deployment or from all Deployments; the answer lists the variables that still refer to it',
      params: ref,
      body: connectionUnlinkSchema,
      response: connectionJson.extend({ warnings: warningsJson }),
      handler: async ({ params, body, scope }) => {
        const r = await connections.unlink(scope!, params.connection, body);
        return { ...toJson(r.view), warnings: refs(r.warnings) };
      },
    }),
  ];
}
