import { z } from 'zod';
import type { Workspace } from '../../domain/records.ts';
import { ROLE_INFO } from '../../access/matrix.ts';
import { workspaceCreateSchema, type WorkspaceService } from '../../tenancy/workspaces.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate } from './common.ts';

export const workspaceJson = z.object({ id: z.string(), name: z.string(), organizationId: z.string(), createdAt: isoDate });
const toJson = (w: Workspace): z.infer<typeof workspaceJson> => ({ id: w.id, name: w.name, organizationId: w.organizationId, createdAt: iso(w.createdAt) });

/** Workspaces of the organization; clusters are shared by all of them. */
export function workspaceRoutes(workspaces: WorkspaceService): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/workspaces',
      auth: 'token',
      permission: 'workspace.read',
      tag: 'workspaces',
      summary: 'List workspaces (a workspace- or Deployment-scoped token sees its own)',
      response: z.object({ items: z.array(workspaceJson) }),
      handler: async ({ principal }) => {
        const all = await workspaces.list();
        const visible = ROLE_INFO[principal!.role].level === 'organization' ? all : all.filter((w) => w.id === principal!.workspaceId);
        return { items: visible.map(toJson) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/workspaces',
      auth: 'token',
      permission: 'workspace.write',
      tag: 'workspaces',
      summary: 'Create a workspace',
      body: workspaceCreateSchema,
      response: workspaceJson,
      status: 201,
      handler: async ({ body }) => toJson(await workspaces.create(body)),
    }),
  ];
}
