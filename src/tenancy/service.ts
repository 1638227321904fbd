import type { Clock } from '../lib/clock.ts';
import { newId } from '../lib/ids.ts';
import type { Organization, Workspace } from '../domain/records.ts';
import type { Store } from '../store/store.ts';

export interface Tenancy {
  organization: Organization;
  workspace: Workspace;
}

const DEFAULTS_KEY = 'tenancy.defaults';

/**
 * Creates the default organization and workspace on first start and returns them afterwards.
 * Runs in one transaction keyed by a settings row, so two replicas starting together agree.
 */
export async function ensureDefaultTenancy(store: Store, clock: Clock): Promise<Tenancy> {
  return store.transaction(async (tx) => {
    // Replicas starting together on an empty database: the first creates, the others then read.
    await tx.settings.lock(DEFAULTS_KEY);
    const ids = await tx.settings.get<{ organizationId: string; workspaceId: string }>(DEFAULTS_KEY);
    if (ids) {
      const organization = await tx.organizations.get(ids.organizationId);
      const workspace = await tx.workspaces.get(ids.workspaceId);
      if (organization && workspace) return { organization, workspace };
    }
    const now = new Date(clock.now());
    const organization: Organization = { id: newId('organization'), name: 'default', createdAt: now };
    const workspace: Workspace = { id: newId('workspace'), organizationId: organization.id, name: 'default', createdAt: now };
    await tx.organizations.insert(organization);
    await tx.workspaces.insert(workspace);
    await tx.settings.put(DEFAULTS_KEY, { organizationId: organization.id, workspaceId: workspace.id });
    return { organization, workspace };
  });
}
