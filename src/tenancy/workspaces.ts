import { z } from 'zod';
import { AppError } from '../errors/index.ts';
import type { Clock } from '../lib/clock.ts';
import { isId, newId } from '../lib/ids.ts';
import type { Workspace } from '../domain/records.ts';
import type { Store } from '../store/store.ts';
import { isUniqueViolation } from '../store/repos.ts';
import type { Tenancy } from './service.ts';

export const workspaceCreateSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS-1123 label: lowercase letters, digits and "-", 1–63 characters')
      .meta({ example: 'data-eng' }),
  })
  .strict();

export interface WorkspaceService {
  create(input: z.input<typeof workspaceCreateSchema>): Promise<Workspace>;
  list(): Promise<Workspace[]>;
  /** By id (`ws_…`) or name, within the organization; ERR_NOT_FOUND otherwise. */
  get(ref: string): Promise<Workspace>;
  /** The same, or undefined. */
  find(ref: string): Promise<Workspace | undefined>;
}

/** Workspaces of the organization. The `default` one is made by {@link ensureDefaultTenancy}. */
export function createWorkspaceService(d: { store: Store; clock: Clock; tenancy: Tenancy }): WorkspaceService {
  const org = d.tenancy.organization.id;
  const svc: WorkspaceService = {
    async create(raw) {
      const input = workspaceCreateSchema.parse(raw);
      const w: Workspace = { id: newId('workspace'), organizationId: org, name: input.name, createdAt: new Date(d.clock.now()) };
      try {
        await d.store.workspaces.insert(w);
      } catch (err) {
        if (isUniqueViolation(err)) throw new AppError('ERR_CONFLICT', `a workspace named "${input.name}" already exists`, { field: 'name', cause: err });
        throw err;
      }
      return w;
    },
    list: () => d.store.workspaces.list(org),
    async find(ref) {
      const all = await d.store.workspaces.list(org);
      return all.find((w) => (isId('workspace', ref) ? w.id === ref : w.name === ref));
    },
    async get(ref) {
      const w = await svc.find(ref);
      if (!w) throw new AppError('ERR_NOT_FOUND', `no workspace with id or name "${ref}"`, { field: 'workspace', example: 'default (see: airlock workspace list)' });
      return w;
    },
  };
  return svc;
}
