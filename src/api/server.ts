import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PERMISSIONS } from '../access/matrix.ts';
import type { AccessControl } from '../access/service.ts';
import type { Scope } from '../access/scope.ts';
import type { ApiTokenService, Principal, TokenCheck } from '../auth/api-tokens.ts';
import type { AuditLog } from '../audit/log.ts';
import { createPacedRecorder } from '../audit/pacer.ts';
import { describeCall } from './audit-call.ts';
import { AppError, OAuthError } from '../errors/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { MIN_TLS_VERSION } from '../lib/tls-files.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { errorBody, frameworkError, inRequestTerms, validationError } from './errors.ts';
import type { RouteDef } from './route.ts';
import { WEB_HEADERS, type WebAsset, type WebAssets } from '../web/assets.ts';

export interface HttpServerDeps {
  routes: RouteDef[];
  tokens: ApiTokenService;
  access: AccessControl;
  /** Where changes made through the API are recorded; absent, nothing is. */
  audit?: Pick<AuditLog, 'record'> | undefined;
  logger: Logger;
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
  /** The web console's files; absent, the server answers the API alone. */
  web?: WebAssets | undefined;
  /** Paces the records of refused tokens (default: the system clock). */
  clock?: Clock | undefined;
  /** Counts requests and refused tokens (`GET /metrics`); absent, nothing is counted. */
  metrics?: Metrics | undefined;
  /** Serve https with this certificate and key (TLS 1.2 and later); absent, plain http. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
}

/** A client's standing choice of workspace for workspace-level routes (`?workspace=` wins over it). */
export const WORKSPACE_HEADER = 'x-airlock-workspace';

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
    // The https server's type differs from http's only in what no route here uses.
    ...(deps.tls ? { https: { ...deps.tls, minVersion: MIN_TLS_VERSION } } : {}),
    logger: false,
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    // Request ids are ours, not client-chosen, so they can be trusted in logs.
    genReqId: () => Math.random().toString(36).slice(2, 12),
    return503OnClosing: true,
  });

  // Every answer names its request id: what the audit log and the server log record it under.
  app.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', String(req.id));
    done();
  });
  const metrics = deps.metrics;
  if (metrics) {
    // By route template, never the raw path: a client cannot mint new series.
    app.addHook('onResponse', (req, reply, done) => {
      metrics.httpRequest({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: reply.statusCode, seconds: reply.elapsedTime / 1000 });
      done();
    });
  }

  // JSON is the only body type the API accepts; anything else is a 415, not a string to misparse.
  // Form bodies are parsed for the OAuth routes that declare them and refused everywhere else.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const form = new FormBody();
    for (const [k, v] of new URLSearchParams(body as string)) (form.values[k] ??= []).push(v);
    done(null, form);
  });

  app.setErrorHandler((err, req, reply) => {
    if ((req.routeOptions.config as { oauth?: boolean } | undefined)?.oauth) {
      sendOAuthError(reply, err, (e) => deps.logger.error('token request failed', { reqId: req.id, url: req.url, err: e }));
      return;
    }
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

  // A presented token that names a stored token but is refused (revoked, expired, a wrong or
  // rotated-out secret) is what a leaked or stale credential looks like: it is recorded, paced per
  // token so a loop cannot fill the log. Strings that name no token are not: anyone can make those.
  const refusals = deps.audit && createPacedRecorder({ clock: deps.clock ?? systemClock, log: deps.audit, onError: (e) => deps.logger.error('audit: a refused API token could not be recorded', { err: e as Error }) });
  const recordRefusal = async (check: Extract<TokenCheck, { ok: false }>, req: FastifyRequest, route: RouteDef) => {
    if (!refusals || !check.token) return;
    await refusals.record(check.token.id, {
      actor: { type: 'anonymous', id: '-' },
      action: 'token.authenticate',
      target: { type: 'token', id: check.token.id, name: check.token.name },
      result: 'ERR_UNAUTHENTICATED',
      requestId: String(req.id),
      source: req.ip,
      details: { reason: check.reason, method: route.method, path: route.path },
    });
  };

  for (const route of deps.routes) {
    app.route({
      method: route.method,
      url: route.path,
      config: { oauth: route.errorFormat === 'oauth' },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        let principal: Principal | undefined;
        if (route.auth === 'token') {
          const presented = bearer(req);
          const checked = presented ? await deps.tokens.check(presented) : undefined;
          if (checked?.ok) principal = checked.principal;
          else if (checked) {
            metrics?.apiTokenRefused(checked.reason);
            await recordRefusal(checked, req, route);
          }
          if (!principal) {
            void reply.header('www-authenticate', 'Bearer realm="airlock"');
            throw new AppError('ERR_UNAUTHENTICATED', presented ? 'the API token is not valid' : 'send an API token: Authorization: Bearer <token>', {
              field: 'authorization',
              example: 'Authorization: Bearer alk_…',
            });
          }
        }
        // Every change an API token makes is recorded, refused ones too; reads are not. The record
        // is committed before the response leaves, so an acknowledged change is never missing from it.
        const audited = principal !== undefined && route.method !== 'GET' && !route.changesNothing && deps.audit !== undefined;
        const call: { params?: unknown; body?: unknown; scope?: Scope | undefined } = {};
        const record = (result: string, out?: unknown) =>
          deps.audit!.record(
            describeCall({ route, principal: principal!, request: { id: String(req.id), source: req.ip }, params: call.params ?? req.params, body: call.body ?? req.body, scope: call.scope, result, response: out }),
          );
        const handle = async (): Promise<{ status: number; out?: unknown }> => {
          // `?workspace=` picks the workspace of a workspace-level route; it is the edge's, not the handler's.
          let rawQuery = req.query as Record<string, unknown> | undefined;
          let scope: Scope | undefined;
          if (principal) {
            // Where the workspace was named: `?workspace=`, or the X-Airlock-Workspace header (a
            // client's standing choice, e.g. the console's picker; ignored by routes that are not
            // workspace-level). The query wins when both are sent. Either is checked the same way.
            let named: { value: unknown; field: string; example: string } | undefined;
            if (route.permission !== undefined && PERMISSIONS[route.permission].level === 'workspace') {
              if (rawQuery && 'workspace' in rawQuery) {
                const { workspace, ...rest } = rawQuery;
                named = { value: workspace, field: 'query.workspace', example: '?workspace=data-eng' };
                rawQuery = rest;
              } else if (req.headers[WORKSPACE_HEADER] !== undefined) {
                named = { value: req.headers[WORKSPACE_HEADER], field: `headers.${WORKSPACE_HEADER}`, example: `${WORKSPACE_HEADER}: data-eng` };
              }
            }
            const workspaceField = named?.field ?? 'query.workspace';
            let workspaceRef: string | undefined;
            if (named) {
              if (typeof named.value !== 'string' || named.value.length === 0 || named.value.length > 100) {
                throw new AppError('ERR_VALIDATION', 'workspace must be one workspace id or name', { field: named.field, example: named.example });
              }
              workspaceRef = named.value;
            }
            try {
              scope = await deps.access.authorize(principal, route.permission, workspaceRef);
              call.scope = scope;
            } catch (err) {
              if (err instanceof AppError && err.field === 'workspace') {
                throw new AppError(err.code, err.message, { field: workspaceField, example: err.example, details: err.details, cause: err });
              }
              throw err;
            }
          }
          let workloadBearer: string | undefined;
          if (route.auth === 'workload') {
            workloadBearer = bearer(req);
            if (!workloadBearer) {
              void reply.header('www-authenticate', 'Bearer realm="airlock-workload"');
              throw new AppError('ERR_UNAUTHENTICATED', "send the workload's credential: Authorization: Bearer <join credential or pod service-account token>", {
                field: 'authorization',
                example: 'Authorization: Bearer alj_…',
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
          call.params = params;
          const precondition = route.ifMatch ? ifMatchVersion(req.headers['if-match']) : undefined;
          if (!route.ifMatch && route.method !== 'GET' && req.headers['if-match'] !== undefined && req.headers['if-match'] !== '*') {
            // A client that sends a precondition counts on it: one that cannot be checked is refused, not ignored.
            throw new AppError('ERR_VALIDATION', `${route.method} ${route.path} takes no If-Match: it has no version to compare`, { field: 'headers.if-match', example: 'PATCH /api/v1/connections/:connection takes one' });
          }
          if (precondition !== undefined && route.ifMatch === 'query') rawQuery = withVersion(rawQuery ?? {}, precondition, 'query.version') as Record<string, unknown>;
          const query = parse('query', route.query, rawQuery);
          let rawBody: unknown = req.body;
          if (route.bodyFormat === 'form') {
            if (!(rawBody instanceof FormBody)) {
              throw new OAuthError('invalid_request', 'send the parameters as application/x-www-form-urlencoded (RFC 6749 §4.1.3)');
            }
            rawBody = rawBody.values;
          } else if (rawBody instanceof FormBody) {
            throw new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send a JSON body (Content-Type: application/json)', { field: 'content-type', example: 'application/json' });
          }
          if (precondition !== undefined && route.ifMatch === 'body') rawBody = withVersion(rawBody ?? {}, precondition, 'body.version');
          const body = parse('body', route.body, rawBody);
          call.body = body;
          let result;
          try {
            result = await route.handler({
              params,
              query,
              body,
              principal,
              scope,
              bearer: workloadBearer,
              request: { id: String(req.id), source: req.ip },
              setHeader: (name, value) => void reply.header(name, value),
            });
          } catch (err) {
            if (precondition !== undefined && err instanceof AppError && err.code === 'ERR_CONFLICT' && err.field === 'version') {
              throw new AppError('ERR_PRECONDITION_FAILED', err.message, { field: 'headers.if-match', example: 'read it again: its ETag is the version to send', details: err.details, cause: err });
            }
            throw err instanceof AppError ? inRequestTerms(err, route) : err;
          }
          const status = route.status ?? 200;
          if (status === 204) return { status };
          const out = route.response.safeParse(result);
          if (!out.success) {
            throw new Error(`response of ${route.method} ${route.path} does not match its schema: ${out.error.message}`);
          }
          return { status, out: out.data };
        };
        let outcome;
        try {
          outcome = await handle();
        } catch (err) {
          if (audited) {
            const code = err instanceof AppError ? err.code : err instanceof OAuthError ? err.error : 'ERR_INTERNAL';
            await record(code).catch((e: unknown) => deps.logger.error('audit: a refused change could not be recorded', { reqId: req.id, err: e as Error }));
          }
          throw err;
        }
        if (audited) await record('success', outcome.out);
        if (outcome.status === 204) return reply.status(204).send();
        if (route.contentType) void reply.header('content-type', route.contentType);
        const version = (outcome.out as { version?: unknown } | null | undefined)?.version;
        if (Number.isInteger(version)) void reply.header('etag', `"${String(version)}"`);
        return reply.status(outcome.status).send(outcome.out);
      },
    });
  }
  if (deps.web) registerWeb(app, deps.web);
  return app;
}

/**
 * The console: its files and its page paths, each a fixed route (no wildcard, no file system
 * lookup), with a Content-Security-Policy that allows only same-origin scripts and requests.
 */
function registerWeb(app: FastifyInstance, web: WebAssets): void {
  const send = (asset: WebAsset) => (_req: FastifyRequest, reply: FastifyReply) => {
    void reply.headers(WEB_HEADERS).header('cache-control', asset.cacheControl).type(asset.contentType);
    return reply.send(asset.body);
  };
  for (const [path, asset] of web.files) app.get(path, send(asset));
  for (const path of web.pages) app.get(path, send(web.index));
}

/**
 * The version an `If-Match` header names: one strong ETag this API sent (`"3"`). `*` (any current
 * version) and an absent header set no precondition. A list or a weak ETag is refused: a version is
 * compared exactly, and one resource has one version.
 */
function ifMatchVersion(header: string | string[] | undefined): number | undefined {
  if (header === undefined || header === '*') return undefined;
  const m = typeof header === 'string' ? /^\s*"([1-9]\d{0,14})"\s*$/.exec(header) : null;
  if (!m) throw new AppError('ERR_VALIDATION', 'If-Match must be one ETag this API sent (a version in double quotes), or *', { field: 'headers.if-match', example: '"3"' });
  return Number(m[1]);
}

/** The request's own `version` field, set from If-Match: both may be sent only if they agree. */
function withVersion(input: unknown, version: number, field: string): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  // A query carries strings, a JSON body numbers: the version in the form its schema parses.
  const wanted = field.startsWith('query.') ? String(version) : version;
  const own = (input as { version?: unknown }).version;
  if (own !== undefined && own !== wanted) {
    throw new AppError('ERR_VALIDATION', `${field} (${JSON.stringify(own)}) and If-Match ("${version}") name different versions; send one`, { field: 'headers.if-match', example: `"${version}"` });
  }
  return { ...input, version: wanted };
}

/** A parsed form body: each name with every value it was sent with, in order. */
class FormBody {
  readonly values = Object.create(null) as Record<string, string[]>;
}

/** Failures of OAuth routes in RFC 6749's format; never cached (RFC 6749 §5.1). */
function sendOAuthError(reply: FastifyReply, err: unknown, logInternal: (e: Error) => void): void {
  let e: OAuthError;
  if (err instanceof OAuthError) e = err;
  else {
    const mapped = frameworkError(err);
    if (mapped?.code === 'ERR_NO_SIGNING_KEY') e = new OAuthError('temporarily_unavailable', mapped.message);
    else if (mapped && mapped.expose) e = new OAuthError('invalid_request', mapped.message);
    else {
      logInternal((mapped ?? err) as Error);
      e = new OAuthError('server_error', 'internal error; details are in the server log');
    }
  }
  if (e.status >= 500 && e.error === 'server_error' && err instanceof OAuthError) logInternal(err);
  void reply.status(e.status).header('cache-control', 'no-store').header('pragma', 'no-cache').send(e.body());
}
