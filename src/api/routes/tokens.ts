import { z } from 'zod';
import { PERMISSIONS, ROLES, roleAllows, type Permission } from '../../access/matrix.ts';
import { tokenCreateSchema, tokenRotateSchema, type TokenAdmin, type TokenView } from '../../auth/token-admin.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate } from './common.ts';

export const tokenJson = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  workspaceId: z.string().nullable(),
  workspaceName: z.string().nullable(),
  deploymentId: z.string().nullable(),
  deploymentName: z.string().nullable(),
  createdAt: isoDate,
  /** The token that created this one; null for the bootstrap admin token. */
  createdBy: z.string().nullable(),
  expiresAt: isoDate.nullable(),
  lastUsedAt: isoDate.nullable(),
  rotatedAt: isoDate.nullable(),
  /** Until when the secret before the last rotation still works. */
  previousSecretExpiresAt: isoDate.nullable(),
  revokedAt: isoDate.nullable(),
  status: z.enum(['live', 'expired', 'revoked']),
});

/** The calling token, with every permission its role holds. */
export const selfJson = tokenJson.extend({ permissions: z.array(z.string()) });

const isoOrNull = (d: Date | null) => (d ? iso(d) : null);

function toJson(v: TokenView, now: number): z.infer<typeof tokenJson> {
  const t = v.token;
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    workspaceId: t.workspaceId,
    workspaceName: v.workspaceName,
    deploymentId: t.deploymentId,
    deploymentName: v.deploymentName,
    createdAt: iso(t.createdAt),
    createdBy: t.createdBy,
    expiresAt: isoOrNull(t.expiresAt),
    lastUsedAt: isoOrNull(t.lastUsedAt),
    rotatedAt: isoOrNull(t.rotatedAt),
    previousSecretExpiresAt: t.previousSecretExpiresAt && t.previousSecretExpiresAt.getTime() > now ? iso(t.previousSecretExpiresAt) : null,
    revokedAt: isoOrNull(t.revokedAt),
    status: t.revokedAt ? 'revoked' : t.expiresAt && now >= t.expiresAt.getTime() ? 'expired' : 'live',
  };
}

const ref = z.object({ token: z.string().min(1).max(100).meta({ example: 'tok_0123456789abcdefghjk' }) }).strict();
/** Only in the response to create and rotate: the plaintext, shown once. */
const withSecret = tokenJson.extend({ token: z.string() });

/** API tokens: each holds one role at one scope; a caller manages only tokens within its own power. */
export function tokenRoutes(admin: TokenAdmin, now: () => number): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/tokens',
      auth: 'token',
      permission: 'token.read',
      tag: 'tokens',
      summary: 'List the API tokens the caller may manage (never their secrets)',
      query: z.object({ workspace: z.string().min(1).max(100).optional().meta({ example: 'data-eng' }) }).strict(),
      response: z.object({ items: z.array(tokenJson) }),
      handler: async ({ principal, query }) => ({ items: (await admin.list(principal!, { workspace: query.workspace })).map((v) => toJson(v, now())) }),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/tokens/self',
      auth: 'token',
      permission: 'api.read',
      tag: 'tokens',
      summary: "The calling token: its role, scope and expiry, and every permission its role holds (what a client may offer the user)",
      response: selfJson,
      handler: async ({ principal }) => ({
        ...toJson(await admin.self(principal!), now()),
        permissions: (Object.keys(PERMISSIONS) as Permission[]).filter((p) => roleAllows(principal!.role, p)),
      }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/tokens',
      auth: 'token',
      permission: 'token.write',
      tag: 'tokens',
      summary: 'Create an API token with one role at one scope (the token is in this response only)',
      body: tokenCreateSchema,
      status: 201,
      response: withSecret,
      handler: async ({ principal, body, setHeader }) => {
        setHeader('cache-control', 'no-store');
        const r = await admin.create(principal!, body);
        return { ...toJson(r.view, now()), token: r.secret };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/tokens/:token/rotate',
      auth: 'token',
      permission: 'token.write',
      action: 'token.rotate',
      tag: 'tokens',
      summary: 'Give a token a new secret; the old one keeps working for the overlap (default 1h)',
      params: ref,
      body: tokenRotateSchema.optional(),
      response: withSecret,
      handler: async ({ principal, params, body, setHeader }) => {
        setHeader('cache-control', 'no-store');
        const r = await admin.rotate(principal!, params.token, body ?? {});
        return { ...toJson(r.view, now()), token: r.secret };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/tokens/:token',
      auth: 'token',
      permission: 'token.write',
      action: 'token.revoke',
      tag: 'tokens',
      summary: 'Revoke a token (its current and previous secrets stop working at once)',
      params: ref,
      response: tokenJson,
      handler: async ({ principal, params }) => toJson(await admin.revoke(principal!, params.token), now()),
    }),
  ];
}
