import type { z } from 'zod';
import type { Principal } from '../auth/api-tokens.ts';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** What a handler gets: parsed input only, never the framework's request object. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal | undefined;
  /** Sets a response header (e.g. Cache-Control on the JWKS). */
  setHeader(name: string, value: string): void;
}

/**
 * One endpoint, declared as data: the server registers it, checks its auth, validates its input,
 * parses its response (so a field not in the response schema — a private key, a secret — can
 * never be sent), and the OpenAPI document is generated from it.
 */
export interface RouteDef<P = any, Q = any, B = any, R = any> {
  method: HttpMethod;
  /** Fastify path syntax, e.g. `/api/v1/clusters/:cluster`. */
  path: string;
  /** `public`: no token (health, discovery, JWKS). `token`: a valid API token is required. */
  auth: 'public' | 'token';
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
  handler(input: RouteInput<P, Q, B>): Promise<R>;
}

/** Keeps the type inference of a route's schemas at its declaration. */
export function defineRoute<P, Q, B, R>(def: RouteDef<P, Q, B, R>): RouteDef<P, Q, B, R> {
  return def;
}
