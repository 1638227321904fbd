import type { z } from 'zod';
import type { Permission } from '../access/matrix.ts';
import type { Scope } from '../access/scope.ts';
import type { Principal } from '../auth/api-tokens.ts';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** What a handler gets: parsed input only, never the framework's request object. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal | undefined;
  /**
   * On routes whose permission is workspace-level: the workspace (and, for a Deployment-scoped
   * token, the Deployment) the request may reach. Chosen by `?workspace=` or the token's own.
   */
  scope: Scope | undefined;
  /** The presented bearer credential, on `workload` routes only. */
  bearer: string | undefined;
  /** Our id for the request (in logs and the audit log) and the peer address it came from. */
  request: { id: string; source: string };
  /** Sets a response header (e.g. Cache-Control on the JWKS). */
  setHeader: (name: string, value: string) => void;
}

/**
 * One endpoint, declared as data: the server registers it, checks its auth, validates its input,
 * parses its response (so a field not in the response schema — a private key, a secret — can
 * never be sent), and the OpenAPI document is generated from it.
 */
export interface RouteDef<P = unknown, Q = unknown, B = unknown, R = unknown> {
  method: HttpMethod;
  /** Fastify path syntax, e.g. `/api/v1/clusters/:cluster`. */
  path: string;
  /**
   * `public`: no token (health, discovery, JWKS, the token endpoint, which authenticates its form).
   * `token`: a valid API token is required. `workload`: a bearer credential of a workload (a join
   * credential or a pod's service-account token), handed to the handler as `bearer` to verify.
   */
  auth: 'public' | 'token' | 'workload';
  /**
   * What a `token` route requires (src/access/matrix.ts). Deny by default: a token route without
   * one is refused to every caller, and a test fails on it.
   */
  permission?: Permission;
  /**
   * A POST that changes nothing (a check computed from its body): not recorded in the audit log,
   * as reads are not. Only for routes that write nothing anywhere.
   */
  changesNothing?: true;
  /** The audit action of a change made through this route; default `<object>.<verb>` (e.g. `deployment.update`). */
  action?: string;
  /**
   * Body fields the audit log records as `[redacted]` whatever they are called (names that say
   * secret, password, token… already are): e.g. an uploaded file whose lines carry passwords.
   */
  secretFields?: readonly string[];
  summary: string;
  tag: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  response: z.ZodType<R>;
  /** Success status; 204 sends no body. */
  status?: number;
  /** Response content type; default application/json. */
  contentType?: string;
  /**
   * `form`: the body is application/x-www-form-urlencoded (OAuth endpoints), handed to the schema
   * as `Record<name, string[]>` (every value a list: parameters may repeat). Default `json`.
   */
  bodyFormat?: 'json' | 'form';
  /**
   * Optimistic concurrency by HTTP precondition: an `If-Match: "<version>"` header is taken as the
   * `version` field of the body or of the query (where this says), and a version conflict it
   * caused is answered 412 ERR_PRECONDITION_FAILED. Every response with a top-level integer
   * `version` carries it as its ETag, whatever the route.
   */
  ifMatch?: 'body' | 'query';
  /** `oauth`: failures are RFC 6749 `{error, error_description}` (the token endpoint). Default `api`. */
  errorFormat?: 'api' | 'oauth';
  handler(input: RouteInput<P, Q, B>): Promise<R>;
}

/** Keeps the type inference of a route's schemas at its declaration. */
export function defineRoute<P, Q, B, R>(def: RouteDef<P, Q, B, R>): RouteDef<P, Q, B, R> {
  return def;
}
