import { z } from 'zod';
import type { DeliveryService } from '../../delivery/service.ts';
import { joinCredentialCreateSchema } from '../../delivery/service.ts';
import { tokenResponseSchema, workloadListSchema, workloadProfileSchema } from '../../delivery/profile.ts';
import type { JoinCredentialRecord } from '../../domain/records.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate } from './common.ts';

export const credentialJson = z.object({
  id: z.string(),
  deploymentId: z.string(),
  component: z.string(),
  description: z.string(),
  createdAt: isoDate,
  expiresAt: isoDate,
  lastUsedAt: isoDate.nullable(),
  revokedAt: isoDate.nullable(),
  /** live | expired | revoked, as of the response. */
  status: z.enum(['live', 'expired', 'revoked']),
});

const toJson = (c: JoinCredentialRecord, now: number): z.infer<typeof credentialJson> => ({
  id: c.id,
  deploymentId: c.deploymentId,
  component: c.component,
  description: c.description,
  createdAt: iso(c.createdAt),
  expiresAt: iso(c.expiresAt),
  lastUsedAt: c.lastUsedAt ? iso(c.lastUsedAt) : null,
  revokedAt: c.revokedAt ? iso(c.revokedAt) : null,
  status: c.revokedAt ? 'revoked' : now >= c.expiresAt.getTime() ? 'expired' : 'live',
});

const depParams = z.object({ deployment: z.string().min(1).max(100).meta({ example: 'etl' }) }).strict();
const credParams = depParams.extend({ credential: z.string().min(1).max(100).meta({ example: 'jc_0123456789abcdefghjk' }) }).strict();
const formBody = z.record(z.string(), z.array(z.string()));

export function deliveryRoutes(delivery: DeliveryService, now: () => number): RouteDef[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/clusters/:clusterId/token',
      auth: 'public',
      tag: 'issuer',
      summary: 'RFC 8693 token exchange: a join credential or a pod service-account token for a workload token',
      params: z.object({ clusterId: z.string().min(1).max(100) }).strict(),
      bodyFormat: 'form',
      errorFormat: 'oauth',
      body: formBody,
      response: tokenResponseSchema,
      handler: async ({ params, body, request, setHeader }) => {
        setHeader('cache-control', 'no-store');
        setHeader('pragma', 'no-cache');
        return delivery.exchange(params.clusterId, body, { requestId: request.id, source: request.source });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/workload/profile',
      auth: 'workload',
      tag: 'delivery',
      summary: "The calling workload's profile: its Deployment component, subject, and what each cloud's SDK needs",
      query: z.object({ cluster: z.string().min(1).max(100).optional().meta({ example: 'prod-aws' }) }).strict(),
      response: workloadProfileSchema,
      handler: async ({ bearer, query, setHeader, request }) => {
        setHeader('cache-control', 'no-store');
        return (await delivery.authenticateWorkload(bearer!, query.cluster, { requestId: request.id, source: request.source })).profile;
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/clusters/:cluster/workloads',
      auth: 'token',
      permission: 'workload.read',
      tag: 'delivery',
      summary: 'The workload profile of a service account in a namespace (what the webhook injects)',
      params: z.object({ cluster: z.string().min(1).max(100).meta({ example: 'prod-aws' }) }).strict(),
      query: z
        .object({
          namespace: z.string().min(1).max(63).meta({ example: 'etl-7f3k2q9x' }),
          serviceAccount: z.string().min(1).max(253).meta({ example: 'etl-7f3k2q9x-worker-serviceaccount' }),
        })
        .strict(),
      response: workloadListSchema,
      handler: async ({ params, query }) => ({ items: await delivery.workloads(params.cluster, query.namespace, query.serviceAccount) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/deployments/:deployment/credentials',
      auth: 'token',
      permission: 'credential.write',
      tag: 'delivery',
      summary: 'Create a join credential for one component (the secret is shown once)',
      params: depParams,
      body: joinCredentialCreateSchema,
      status: 201,
      response: credentialJson.extend({ secret: z.string() }),
      handler: async ({ params, body, scope, setHeader }) => {
        setHeader('cache-control', 'no-store');
        const { credential, secret } = await delivery.createCredential(scope!, params.deployment, body);
        return { ...toJson(credential, now()), secret };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployments/:deployment/credentials',
      auth: 'token',
      permission: 'credential.read',
      tag: 'delivery',
      summary: "List a Deployment's join credentials (never their secrets)",
      params: depParams,
      response: z.object({ items: z.array(credentialJson) }),
      handler: async ({ params, scope }) => ({ items: (await delivery.listCredentials(scope!, params.deployment)).map((c) => toJson(c, now())) }),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/deployments/:deployment/credentials/:credential',
      auth: 'token',
      permission: 'credential.write',
      action: 'credential.revoke',
      tag: 'delivery',
      summary: 'Revoke a join credential (the next exchange with it fails)',
      params: credParams,
      response: credentialJson,
      handler: async ({ params, scope }) => toJson(await delivery.revokeCredential(scope!, params.deployment, params.credential), now()),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/deployments/:deployment/credentials',
      auth: 'token',
      permission: 'credential.write',
      action: 'credential.revoke-all',
      tag: 'delivery',
      summary: "Revoke every live join credential of a Deployment",
      params: depParams,
      response: z.object({ revoked: z.number().int() }),
      handler: async ({ params, scope }) => ({ revoked: await delivery.revokeAllCredentials(scope!, params.deployment) }),
    }),
  ];
}
