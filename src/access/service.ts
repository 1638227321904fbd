import type { Principal } from '../auth/api-tokens.ts';
import { AppError } from '../errors/index.ts';
import type { Tenancy } from '../tenancy/service.ts';
import type { WorkspaceService } from '../tenancy/workspaces.ts';
import { PERMISSIONS, ROLE_INFO, roleAllows, type Permission } from './matrix.ts';
import type { Scope } from './scope.ts';

export interface AccessControl {
  /**
   * Decides one request at the edge: refuses (ERR_FORBIDDEN) what the caller's role does not
   * allow — and every route that declares no permission — and, for workspace-level permissions,
   * returns the scope the request may reach. A workspace the caller cannot see is not found.
   */
  authorize(principal: Principal, permission: Permission | undefined, workspaceRef: string | undefined): Promise<Scope | undefined>;
}

export function createAccessControl(d: { tenancy: Tenancy; workspaces: WorkspaceService }): AccessControl {
  return {
    async authorize(principal, permission, workspaceRef) {
      if (!permission) throw new AppError('ERR_FORBIDDEN', 'this endpoint declares no permission, so no token may call it');
      if (!roleAllows(principal.role, permission)) {
        throw new AppError('ERR_FORBIDDEN', `role ${principal.role} does not allow ${permission} (${PERMISSIONS[permission].description.toLowerCase()})`, {
          details: { role: principal.role, permission },
        });
      }
      if (PERMISSIONS[permission].level !== 'workspace') return undefined;
      if (ROLE_INFO[principal.role].level === 'organization') {
        const ws = workspaceRef === undefined ? d.tenancy.workspace : await d.workspaces.get(workspaceRef);
        return { workspaceId: ws.id };
      }
      // Workspace- and Deployment-scoped tokens reach their own workspace only; naming another one
      // is answered as if it did not exist.
      const own = principal.workspaceId!;
      if (workspaceRef !== undefined) {
        const ws = await d.workspaces.find(workspaceRef);
        if (!ws || ws.id !== own) {
          throw new AppError('ERR_NOT_FOUND', `no workspace with id or name "${workspaceRef}"`, { field: 'workspace', example: 'data-eng (see: airlock workspace list)' });
        }
      }
      return principal.deploymentId ? { workspaceId: own, deploymentId: principal.deploymentId } : { workspaceId: own };
    },
  };
}
