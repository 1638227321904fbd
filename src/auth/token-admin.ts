/**
 * Managing API tokens: create, list, rotate, revoke — each within what the caller's own token
 * may reach. The rule that matters: a token can never create (or rotate into existence) a token
 * with more power than its own — not a role it does not cover, not a scope outside its own, not a
 * lifetime beyond its own expiry.
 */
import { z } from 'zod';
import { ROLE_INFO, ROLES, roleCovers, type Role } from '../access/matrix.ts';
import type { DeploymentService } from '../deployments/service.ts';
import type { ApiTokenRecord } from '../domain/records.ts';
import { AppError } from '../errors/index.ts';
import type { Clock } from '../lib/clock.ts';
import { formatDuration, parseDuration } from '../lib/duration.ts';
import { isId } from '../lib/ids.ts';
import type { Store } from '../store/store.ts';
import type { Tenancy } from '../tenancy/service.ts';
import type { WorkspaceService } from '../tenancy/workspaces.ts';
import type { ApiTokenService, Principal } from './api-tokens.ts';

export const TOKEN_MIN_TTL_SECONDS = 60;
export const TOKEN_MAX_TTL_SECONDS = 3 * 365 * 86400;
/** How long the old secret keeps working after a rotation unless the caller says otherwise. */
export const ROTATION_DEFAULT_OVERLAP_SECONDS = 3600;
export const ROTATION_MAX_OVERLAP_SECONDS = 7 * 86400;

const duration = (example: string, description: string) =>
  z.union([z.string().max(20), z.number().int().nonnegative()]).meta({ example, description });

export const tokenCreateSchema = z
  .object({
    name: z.string().min(1).max(100).regex(/^[\w.@:-]+$/, 'letters, digits and . _ @ : - only').meta({ example: 'ci-deployer' }),
    role: z.enum(ROLES).meta({ example: 'workspace-operator' }),
    workspace: z.string().min(1).max(100).optional().meta({ example: 'data-eng', description: 'Workspace id or name; required for workspace roles (default for deployment-admin: the caller’s own, or `default`).' }),
    deployment: z.string().min(1).max(100).optional().meta({ example: 'etl', description: 'Deployment id or name; required for deployment-admin.' }),
    expiresIn: duration('90d', `Lifetime (seconds or 90s/15m/1h/30d), ${formatDuration(TOKEN_MIN_TTL_SECONDS)} to ${formatDuration(TOKEN_MAX_TTL_SECONDS)}; absent: no expiry (nor beyond the caller’s own).`).optional(),
  })
  .strict();

export const tokenRotateSchema = z
  .object({
    overlap: duration('1h', `How long the old secret keeps working: 0 to ${formatDuration(ROTATION_MAX_OVERLAP_SECONDS)}; default ${formatDuration(ROTATION_DEFAULT_OVERLAP_SECONDS)}.`).optional(),
  })
  .strict();

/** A token with the names of its scope, for display. */
export interface TokenView {
  token: ApiTokenRecord;
  workspaceName: string | null;
  deploymentName: string | null;
}

export interface TokenAdmin {
  create(caller: Principal, input: z.input<typeof tokenCreateSchema>): Promise<{ view: TokenView; secret: string }>;
  /** The tokens the caller may manage; `workspace` narrows an organization caller's list. */
  list(caller: Principal, filter: { workspace?: string | undefined }): Promise<TokenView[]>;
  rotate(caller: Principal, ref: string, input: z.input<typeof tokenRotateSchema>): Promise<{ view: TokenView; secret: string }>;
  revoke(caller: Principal, ref: string): Promise<TokenView>;
  /** The caller's own token (any token may read itself). */
  self(caller: Principal): Promise<TokenView>;
}

interface Grant {
  role: Role;
  workspaceId: string | null;
  deploymentId: string | null;
}

export function createTokenAdmin(d: {
  store: Store;
  clock: Clock;
  tenancy: Tenancy;
  tokens: ApiTokenService;
  workspaces: WorkspaceService;
  deployments: DeploymentService;
}): TokenAdmin {
  const level = (r: Role) => ROLE_INFO[r].level;

  /** Whether `caller` may hold power over a token with `grant`: the grant is inside the caller's scope and role. */
  function covers(caller: Principal, grant: Grant): boolean {
    const inScope =
      level(caller.role) === 'organization' ||
      (level(caller.role) === 'workspace' && level(grant.role) !== 'organization' && grant.workspaceId === caller.workspaceId) ||
      (level(caller.role) === 'deployment' && level(grant.role) === 'deployment' && grant.deploymentId === caller.deploymentId);
    return inScope && roleCovers(caller.role, grant.role);
  }

  async function view(t: ApiTokenRecord): Promise<TokenView> {
    const ws = t.workspaceId ? await d.workspaces.find(t.workspaceId) : undefined;
    const dep = t.deploymentId ? await d.store.deployments.get(t.deploymentId) : undefined;
    return { token: t, workspaceName: ws?.name ?? null, deploymentName: dep?.name ?? null };
  }

  /** A token the caller may manage, by id; any other is not found (its existence does not leak). */
  async function manageable(caller: Principal, ref: string): Promise<ApiTokenRecord> {
    const t = isId('apiToken', ref) ? await d.store.apiTokens.get(ref) : undefined;
    if (!t || !covers(caller, t)) throw new AppError('ERR_NOT_FOUND', `no API token with id "${ref}"`, { field: 'token', example: 'tok_… (see: airlock token list)' });
    return t;
  }

  function seconds(v: string | number, field: string, min: number, max: number, example: string): number {
    const s = parseDuration(v);
    if (s === undefined || s < min || s > max) {
      throw new AppError('ERR_VALIDATION', `${field} must be a duration from ${formatDuration(min)} to ${formatDuration(max)}`, { field, example });
    }
    return s;
  }

  async function resolveGrant(caller: Principal, input: z.output<typeof tokenCreateSchema>): Promise<Grant> {
    const lvl = level(input.role);
    if (lvl === 'organization') {
      if (input.workspace || input.deployment) {
        throw new AppError('ERR_VALIDATION', `${input.role} is an organization role: it takes no workspace or Deployment`, { field: input.workspace ? 'workspace' : 'deployment', example: { role: input.role } });
      }
      return { role: input.role, workspaceId: null, deploymentId: null };
    }
    if (lvl === 'workspace' && input.deployment) {
      throw new AppError('ERR_VALIDATION', `${input.role} is a workspace role: it takes a workspace, not a Deployment`, { field: 'deployment', example: { role: input.role, workspace: 'data-eng' } });
    }
    if (lvl === 'workspace' && !input.workspace) {
      throw new AppError('ERR_VALIDATION', `${input.role} needs the workspace it applies to`, { field: 'workspace', example: { role: input.role, workspace: 'data-eng' } });
    }
    if (lvl === 'deployment' && !input.deployment) {
      throw new AppError('ERR_VALIDATION', 'deployment-admin needs the Deployment it applies to', { field: 'deployment', example: { role: 'deployment-admin', deployment: 'etl' } });
    }
    // Workspaces and Deployments the caller cannot see are not found, like everywhere else.
    const callerWs = caller.workspaceId;
    const wsRef = input.workspace ?? callerWs ?? d.tenancy.workspace.id;
    const ws = await d.workspaces.find(wsRef);
    if (!ws || (callerWs && ws.id !== callerWs)) {
      throw new AppError('ERR_NOT_FOUND', `no workspace with id or name "${wsRef}"`, { field: 'workspace', example: 'data-eng (see: airlock workspace list)' });
    }
    if (lvl === 'workspace') return { role: input.role, workspaceId: ws.id, deploymentId: null };
    const scope = caller.deploymentId ? { workspaceId: ws.id, deploymentId: caller.deploymentId } : { workspaceId: ws.id };
    const dep = await d.deployments.get(scope, input.deployment!);
    return { role: input.role, workspaceId: ws.id, deploymentId: dep.deployment.id };
  }

  const escalation = (what: string) =>
    new AppError('ERR_FORBIDDEN', `a token cannot create a token with more power than its own: ${what}`, { field: 'role', example: 'a role and scope within your own (see: docs/access.md)' });

  return {
    async create(caller, raw) {
      const input = tokenCreateSchema.parse(raw);
      const grant = await resolveGrant(caller, input);
      if (!covers(caller, grant)) escalationFor(caller, grant);
      const now = d.clock.now();
      let expiresAt = input.expiresIn === undefined ? null : new Date(now + 1000 * seconds(input.expiresIn, 'expiresIn', TOKEN_MIN_TTL_SECONDS, TOKEN_MAX_TTL_SECONDS, '90d'));
      if (caller.expiresAt) {
        // Not beyond the caller's own life: absent means "as long as mine".
        if (expiresAt && expiresAt > caller.expiresAt) throw escalation(`it would outlive yours (${caller.expiresAt.toISOString()})`);
        expiresAt ??= caller.expiresAt;
      }
      const { id, token } = await d.tokens.issue(input.name, { ...grant, expiresAt, createdBy: caller.tokenId });
      const rec = (await d.store.apiTokens.get(id))!;
      return { view: await view(rec), secret: token };
    },

    async list(caller, filter) {
      let workspaceId: string | undefined;
      if (filter.workspace !== undefined) {
        const ws = await d.workspaces.find(filter.workspace);
        if (!ws || (caller.workspaceId && ws.id !== caller.workspaceId)) {
          throw new AppError('ERR_NOT_FOUND', `no workspace with id or name "${filter.workspace}"`, { field: 'workspace', example: 'data-eng' });
        }
        workspaceId = ws.id;
      }
      const all = await d.store.apiTokens.list({ workspaceId: workspaceId ?? caller.workspaceId ?? undefined });
      const out: TokenView[] = [];
      for (const t of all) if (covers(caller, t)) out.push(await view(t));
      return out;
    },

    async rotate(caller, ref, raw) {
      const input = tokenRotateSchema.parse(raw ?? {});
      const t = await manageable(caller, ref);
      if (t.revokedAt) throw new AppError('ERR_CONFLICT', `token ${t.id} is revoked; create a new one`, { field: 'token' });
      const overlap = input.overlap === undefined ? ROTATION_DEFAULT_OVERLAP_SECONDS : seconds(input.overlap, 'overlap', 0, ROTATION_MAX_OVERLAP_SECONDS, '1h');
      const r = await d.tokens.rotate(t.id, overlap);
      return { view: await view(r.record), secret: r.token };
    },

    async revoke(caller, ref) {
      const t = await manageable(caller, ref);
      await d.store.apiTokens.revoke(t.id, new Date(d.clock.now()));
      return view((await d.store.apiTokens.get(t.id))!);
    },

    async self(caller) {
      const t = await d.store.apiTokens.get(caller.tokenId);
      // Only a token that was just authenticated gets here; gone meanwhile is the race of a revoke.
      if (!t) throw new AppError('ERR_UNAUTHENTICATED', 'the API token is not valid', { field: 'authorization', example: 'Authorization: Bearer alk_…' });
      return view(t);
    },
  };

  function escalationFor(caller: Principal, grant: Grant): never {
    if (!roleCovers(caller.role, grant.role)) throw escalation(`${caller.role} does not cover ${grant.role}`);
    throw escalation(`${grant.role} of that scope is outside your ${ROLE_INFO[caller.role].level}`);
  }
}
