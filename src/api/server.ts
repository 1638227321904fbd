import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ApiTokenService } from '../auth/api-tokens.ts';
import { AppError } from '../errors/index.ts';
import type { Logger } from '../lib/logger.ts';
import { errorBody, frameworkError, validationError } from './errors.ts';
import type { RouteDef } from './route.ts';

export interface HttpServerDeps {
  routes: RouteDef[];
  tokens: ApiTokenService;
  logger: Logger;
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m?.[1];
}

/**
 * Builds the HTTP server from the route table. This file is the only one that knows fastify; the
 * handlers receive parsed input and return plain values.
 */
export function createHttpServer(deps: HttpServerDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    // Request ids are ours, not client-chosen, so they can be trusted in logs.
    genReqId: () => Math.random().toString(36).slice(2, 12),
    return503OnClosing: true,
  });

  // JSON is the only body type the API accepts; anything else is a 415, not a string to misparse.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err, req, reply) => {
    const mapped = frameworkError(err);
    if (mapped && mapped.expose) {
      void reply.status(mapped.status).send(errorBody(mapped));
      return;
    }
    // Anything else is ours to fix: log it with its cause, show the client nothing of it.
    deps.logger.error('request failed', { reqId: req.id, method: req.method, url: req.url, err: (mapped ?? err) as Error });
    const status = mapped?.status ?? 500;
    const code = mapped?.code === 'ERR_NO_SIGNING_KEY' ? mapped.code : 'ERR_INTERNAL';
    void reply.status(status).send({ error: { code, message: code === 'ERR_INTERNAL' ? `internal error (request ${req.id})` : mapped!.message } });
  });

  app.setNotFoundHandler((req, reply) => {
    void reply
      .status(404)
      .send(errorBody(new AppError('ERR_ROUTE_NOT_FOUND', `no endpoint ${req.method} ${req.url.split('?')[0]}`, { example: 'GET /api/v1/openapi.json lists every endpoint' })));
  });

  for (const route of deps.routes) {
    app.route({
      method: route.method,
      url: route.path,
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        let principal;
        if (route.auth === 'token') {
          const presented = bearer(req);
          principal = presented ? await deps.tokens.verify(presented) : undefined;
          if (!principal) {
            void reply.header('www-authenticate', 'Bearer realm="airlock"');
            throw new AppError('ERR_UNAUTHENTICATED', presented ? 'the API token is not valid' : 'send an API token: Authorization: Bearer <token>', {
              field: 'authorization',
              example: 'Authorization: Bearer alk_…',
            });
          }
        }
        const parse = <T>(where: 'params' | 'query' | 'body', schema: z.ZodType<T> | undefined, value: unknown): T => {
          if (!schema) {
            if (where === 'body' && value !== undefined && value !== null && !(typeof value === 'object' && Object.keys(value).length === 0)) {
              throw new AppError('ERR_UNKNOWN_FIELD', 'this endpoint takes no request body', { field: 'body' });
            }
            return undefined as T;
          }
          const r = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
          if (!r.success) throw validationError(where, schema, r.error);
          return r.data;
        };
        const params = parse('params', route.params, req.params);
        const query = parse('query', route.query, req.query);
        const body = parse('body', route.body, req.body);
        const result = await route.handler({
          params,
          query,
          body,
          principal,
          setHeader: (name, value) => void reply.header(name, value),
        });
        const status = route.status ?? 200;
        if (status === 204) return reply.status(204).send();
        const out = route.response.safeParse(result);
        if (!out.success) {
          throw new Error(`response of ${route.method} ${route.path} does not match its schema: ${out.error.message}`);
        }
        if (route.contentType) void reply.header('content-type', route.contentType);
        return reply.status(status).send(out.data);
      },
    });
  }
  return app;
}
