import { z } from 'zod';
import type { Metrics } from '../../metrics/metrics.ts';
import type { Store } from '../../store/store.ts';
import { openApiDocument } from '../openapi.ts';
import { defineRoute, type RouteDef } from '../route.ts';

/**
 * Health probes (public), the OpenAPI document and the Prometheus metrics (token). `all` is the
 * full table, for the document.
 */
export function metaRoutes(store: Store, version: string, all: () => RouteDef[], metrics: Metrics): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/healthz',
      auth: 'public',
      tag: 'meta',
      summary: 'Liveness: the process is serving',
      response: z.object({ status: z.literal('ok') }),
      handler: () => Promise.resolve({ status: 'ok' as const }),
    }),
    defineRoute({
      method: 'GET',
      path: '/readyz',
      auth: 'public',
      tag: 'meta',
      summary: 'Readiness: the store answers',
      response: z.object({ status: z.literal('ready'), store: z.enum(['embedded', 'postgres']) }),
      handler: async () => {
        await store.settings.get('tenancy.defaults');
        return { status: 'ready' as const, store: store.kind };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/openapi.json',
      auth: 'token',
      permission: 'api.read',
      tag: 'meta',
      summary: 'This API, as OpenAPI 3.0',
      response: z.record(z.string(), z.unknown()),
      handler: () => Promise.resolve(openApiDocument(all(), version)),
    }),
    defineRoute({
      method: 'GET',
      // Prometheus' default metrics_path; scrape it with a bearer token (docs/metrics.md).
      path: '/metrics',
      auth: 'token',
      permission: 'metrics.read',
      tag: 'meta',
      summary: 'Prometheus metrics: token exchanges, refusals, requests, audit writes, signing keys',
      contentType: metrics.contentType,
      response: z.string(),
      handler: () => metrics.scrape(),
    }),
  ];
}
