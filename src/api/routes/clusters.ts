import { z } from 'zod';
import { clusterCreateSchema, clusterUpdateSchema } from '../../clusters/model.ts';
import type { ClusterService, ClusterView } from '../../clusters/service.ts';
import { CLOUDS, CLUSTER_TYPES, ISSUER_MODES } from '../../domain/terms.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate, listOf, pageQuery } from './common.ts';

export const clusterJson = z.object({
  id: z.string(),
  name: z.string(),
  organizationId: z.string(),
  cloud: z.enum(CLOUDS),
  type: z.enum(CLUSTER_TYPES),
  region: z.string(),
  issuerMode: z.enum(ISSUER_MODES),
  oidcIssuerUrl: z.string(),
  /** The cluster's Airlock issuer URL: pod tokens presented for an exchange must carry it as audience. */
  attestationAudience: z.string(),
  /** RFC 8693 token exchange endpoint; null in `kubernetes` mode. */
  tokenEndpoint: z.string().nullable(),
  kubernetesIssuerUrl: z.string().nullable(),
  kubernetesCaCert: z.string().nullable(),
  audiences: z.array(z.string()),
  defaultIdentityAccount: z.string().nullable(),
  defaultIdentityProject: z.string().nullable(),
  defaultIdentityProjectNumber: z.string().nullable(),
  createdAt: isoDate,
  updatedAt: isoDate,
});

const toJson = (c: ClusterView): z.infer<typeof clusterJson> => ({
  id: c.id,
  name: c.name,
  organizationId: c.organizationId,
  cloud: c.cloud,
  type: c.type,
  region: c.region,
  issuerMode: c.issuerMode,
  oidcIssuerUrl: c.oidcIssuerUrl,
  attestationAudience: c.attestationAudience,
  tokenEndpoint: c.tokenEndpoint,
  kubernetesIssuerUrl: c.kubernetesIssuerUrl,
  kubernetesCaCert: c.kubernetesCaCert,
  audiences: c.audiences,
  defaultIdentityAccount: c.defaultIdentityAccount,
  defaultIdentityProject: c.defaultIdentityProject,
  defaultIdentityProjectNumber: c.defaultIdentityProjectNumber,
  createdAt: iso(c.createdAt),
  updatedAt: iso(c.updatedAt),
});

const ref = z.object({ cluster: z.string().min(1).max(100).meta({ example: 'prod-aws' }) }).strict();

export const keyJson = z.object({
  kid: z.string(),
  state: z.enum(['pending', 'active', 'retired', 'removed', 'revoked']),
  publishAt: isoDate,
  activateAt: isoDate,
  retiredAt: isoDate.optional(),
  removeAt: isoDate.optional(),
  revokedAt: isoDate.optional(),
});

export function clusterRoutes(clusters: ClusterService): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/clusters',
      auth: 'token',
      permission: 'cluster.read',
      tag: 'clusters',
      summary: 'List clusters',
      query: pageQuery,
      response: listOf(clusterJson),
      handler: async ({ query }) => {
        const page = await clusters.list({ limit: query.limit, cursor: query.cursor });
        return page.nextCursor ? { items: page.items.map(toJson), nextCursor: page.nextCursor } : { items: page.items.map(toJson) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/clusters',
      auth: 'token',
      permission: 'cluster.write',
      tag: 'clusters',
      summary: 'Create a cluster and its OIDC issuer (first signing key included)',
      body: clusterCreateSchema,
      response: clusterJson,
      status: 201,
      handler: async ({ body }) => toJson(await clusters.create(body)),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/clusters/:cluster',
      auth: 'token',
      permission: 'cluster.read',
      tag: 'clusters',
      summary: 'Get a cluster by id or name',
      params: ref,
      response: clusterJson,
      handler: async ({ params }) => toJson(await clusters.get(params.cluster)),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/api/v1/clusters/:cluster',
      auth: 'token',
      permission: 'cluster.write',
      tag: 'clusters',
      summary: 'Update a cluster',
      params: ref,
      body: clusterUpdateSchema,
      response: clusterJson,
      handler: async ({ params, body }) => toJson(await clusters.update(params.cluster, body)),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/clusters/:cluster',
      auth: 'token',
      permission: 'cluster.write',
      tag: 'clusters',
      summary: 'Delete a cluster and its signing keys',
      params: ref,
      response: z.void(),
      status: 204,
      handler: async ({ params }) => clusters.delete(params.cluster),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/clusters/:cluster/rotate-keys',
      auth: 'token',
      permission: 'cluster.write',
      action: 'cluster.rotate-keys',
      tag: 'clusters',
      summary: 'Rotate the cluster issuer signing key',
      params: ref,
      body: z
        .object({
          immediate: z.boolean().default(false).meta({ example: false }),
          revokePrevious: z.boolean().default(false).meta({ example: false }),
        })
        .strict()
        .refine((b) => !b.revokePrevious || b.immediate, { message: 'revokePrevious requires immediate', path: ['revokePrevious'] })
        .optional(),
      response: z.object({ kid: z.string(), publishAt: isoDate, activateAt: isoDate, created: z.boolean() }),
      handler: async ({ params, body }) => {
        const r = await clusters.rotateKeys(params.cluster, { immediate: body?.immediate ?? false, revokePrevious: body?.revokePrevious ?? false });
        return { kid: r.kid, publishAt: iso(r.publishAt), activateAt: iso(r.activateAt), created: r.created };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/clusters/:cluster/keys',
      auth: 'token',
      permission: 'cluster.read',
      tag: 'clusters',
      summary: 'List the issuer signing keys and their lifecycle (public metadata only)',
      params: ref,
      response: z.object({ items: z.array(keyJson) }),
      handler: async ({ params }) => ({
        items: (await clusters.keys(params.cluster)).map((k) => {
          const out: z.infer<typeof keyJson> = { kid: k.kid, state: k.state, publishAt: iso(k.publishAt), activateAt: iso(k.activateAt) };
          if (k.retiredAt) out.retiredAt = iso(k.retiredAt);
          if (k.removeAt) out.removeAt = iso(k.removeAt);
          if (k.revokedAt) out.revokedAt = iso(k.revokedAt);
          return out;
        }),
      }),
    }),
  ];
}
