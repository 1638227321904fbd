import { z } from 'zod';
import type { ClusterService } from '../../clusters/service.ts';
import { defaultIdentityFor } from '../../identity/default-identity.ts';
import { identitySaveSchema, type IdentityService } from '../../identity/service.ts';
import { AZURE_MAX_DEPLOYMENTS_PER_IDENTITY } from '../../deployments/rules.ts';
import type { SavedIdentity } from '../../domain/records.ts';
import { CLOUDS } from '../../domain/terms.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate } from './common.ts';
import { customerIdentityJson, identityJson } from './deployments.ts';

export const savedJson = z.object({
  id: z.string(),
  name: z.string(),
  cloud: z.enum(CLOUDS),
  identity: identityJson,
  createdAt: isoDate,
  updatedAt: isoDate,
});

const toJson = (i: SavedIdentity): z.infer<typeof savedJson> => ({
  id: i.id,
  name: i.name,
  cloud: i.spec.cloud,
  identity: customerIdentityJson(i.spec),
  createdAt: iso(i.createdAt),
  updatedAt: iso(i.updatedAt),
});

const ref = z.object({ identity: z.string().min(1).max(100).meta({ example: 'etl-reader' }) }).strict();

export function identityRoutes(identities: IdentityService, clusters: ClusterService): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/identities',
      auth: 'token',
      permission: 'identity.read',
      tag: 'identities',
      summary: 'List saved identities',
      response: z.object({ items: z.array(savedJson) }),
      handler: async ({ scope }) => ({ items: (await identities.list(scope!)).map(toJson) }),
    }),
    defineRoute({
      method: 'PUT',
      path: '/api/v1/identities',
      auth: 'token',
      permission: 'identity.write',
      tag: 'identities',
      summary: 'Save an identity under a name (replaces one with the same name; rules are re-checked for its Deployments)',
      body: identitySaveSchema,
      response: savedJson.extend({ created: z.boolean() }),
      handler: async ({ body, scope }) => {
        const r = await identities.save(scope!, body);
        return { ...toJson(r.identity), created: r.created };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/identities/:identity',
      auth: 'token',
      permission: 'identity.read',
      tag: 'identities',
      summary: 'Get a saved identity by id or name',
      params: ref,
      response: savedJson,
      handler: async ({ params, scope }) => toJson(await identities.get(scope!, params.identity)),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/identities/:identity',
      auth: 'token',
      permission: 'identity.write',
      tag: 'identities',
      summary: 'Delete a saved identity; refused while in use unless resetDeployments=true',
      params: ref,
      query: z.object({ resetDeployments: z.enum(['true', 'false']).default('false').transform((v) => v === 'true') }).strict(),
      response: z.object({ resetDeployments: z.array(z.string()) }),
      handler: async ({ params, query, scope }) => identities.delete(scope!, params.identity, { resetDeployments: query.resetDeployments }),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployment-options',
      auth: 'token',
      permission: 'identity.read',
      tag: 'deployments',
      summary: 'What a Deployment may pick: saved identities, and the default identity on a given cluster',
      query: z.object({ cluster: z.string().max(100).optional().meta({ example: 'prod-aws' }) }).strict(),
      response: z.object({
        workloadIdentityOptions: z.array(z.object({ name: z.string(), id: z.string(), cloud: z.string(), value: z.string(), deploymentsUsing: z.number(), capacity: z.number().optional() })),
        defaultIdentity: z.object({ available: z.boolean(), pattern: z.string().optional(), reason: z.string().optional() }).optional(),
      }),
      handler: async ({ query, scope }) => {
        const saved = await identities.list(scope!);
        const usage = await identities.usage(scope!);
        const options = [];
        for (const i of saved) {
          const using = usage.get(i.id) ?? 0;
          const o: { name: string; id: string; cloud: string; value: string; deploymentsUsing: number; capacity?: number } = {
            name: i.name,
            id: i.id,
            cloud: i.spec.cloud,
            value: customerIdentityJson(i.spec).value,
            deploymentsUsing: using,
          };
          if (i.spec.cloud === 'azure') o.capacity = AZURE_MAX_DEPLOYMENTS_PER_IDENTITY;
          options.push(o);
        }
        if (!query.cluster) return { workloadIdentityOptions: options };
        const c = await clusters.get(query.cluster);
        const d = defaultIdentityFor(c, '<namespace>');
        return {
          workloadIdentityOptions: options,
          defaultIdentity: d.identity
            ? { available: true, pattern: d.identity.cloud === 'aws' ? d.identity.roleArn : d.identity.serviceAccountEmail }
            : { available: false, reason: d.reason },
        };
      },
    }),
  ];
}
