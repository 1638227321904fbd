import { AppError } from '../errors/index.ts';
import type { CustomerIdentity } from '../cloud/types.ts';
import type { ClusterType } from '../domain/terms.ts';
import { COMPONENTS } from './components.ts';

export interface Semver {
  major: number;
  minor: number;
  patch: number;
}

export function parseSemver(v: string): Semver | undefined {
  const m = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

const cmp = (a: Semver, b: Semver) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;

/**
 * Lowest runtime per major line that supports a customer-managed AWS identity (from the product
 * guide: 9.15.0, 10.9.0, 11.5.0; every 12.x and later; nothing before 9).
 */
const AWS_CUSTOMER_MINIMUM: Record<number, Semver> = {
  9: { major: 9, minor: 15, patch: 0 },
  10: { major: 10, minor: 9, patch: 0 },
  11: { major: 11, minor: 5, patch: 0 },
};

/** `field: null` when the Deployment is not what the request names (a saved identity's users). */
export function checkRuntimeForIdentity(runtimeVersion: string, identity: CustomerIdentity | undefined, field: string | null = 'runtimeVersion'): void {
  if (!identity || identity.cloud !== 'aws') return;
  const v = parseSemver(runtimeVersion)!;
  const min = AWS_CUSTOMER_MINIMUM[v.major];
  const ok = v.major >= 12 || (min !== undefined && cmp(v, min) >= 0);
  if (!ok) {
    throw new AppError(
      'ERR_RULE_VIOLATION',
      `a customer-managed AWS IAM role needs runtime 9.15.0+ on 9.x, 10.9.0+ on 10.x, 11.5.0+ on 11.x, or any 12.x and later; this Deployment has ${runtimeVersion}`,
      { ...(field === null ? {} : { field }), example: v.major <= 8 ? '12.1.0' : min ? `${min.major}.${min.minor}.${min.patch}` : '12.1.0' },
    );
  }
}

export function checkWildcard(clusterType: ClusterType, clusterName: string, field = 'wildcard'): void {
  if (clusterType !== 'dedicated') {
    throw new AppError(
      'ERR_RULE_VIOLATION',
      `wildcard trust (system:serviceaccount:*:*) is only allowed on dedicated clusters; "${clusterName}" is a standard cluster, shared with other tenants, so its setup lists each component's exact subject`,
      { field, example: 'omit --wildcard' },
    );
  }
}

/** Entra ID allows at most 20 federated identity credentials on one user-assigned managed identity. */
export const AZURE_MAX_FEDERATED_CREDENTIALS = 20;

/** How many Deployments one managed identity can serve: each needs one credential per component. */
export const AZURE_MAX_DEPLOYMENTS_PER_IDENTITY = Math.floor(AZURE_MAX_FEDERATED_CREDENTIALS / COMPONENTS.length);

export function checkAzureCapacity(identityName: string, alreadyUsing: { id: string; name: string }[], field = 'workloadIdentity'): void {
  if (alreadyUsing.length >= AZURE_MAX_DEPLOYMENTS_PER_IDENTITY) {
    throw new AppError(
      'ERR_RULE_VIOLATION',
      `managed identity "${identityName}" already serves ${alreadyUsing.length} Deployment(s) (${alreadyUsing.map((d) => d.name).join(', ')}); ` +
        `each needs ${COMPONENTS.length} federated credentials and Entra ID allows ${AZURE_MAX_FEDERATED_CREDENTIALS} per identity, so at most ${AZURE_MAX_DEPLOYMENTS_PER_IDENTITY} Deployments can share it. Create another user-assigned managed identity.`,
      { field, example: 'a saved identity for another managed identity', details: { deployments: alreadyUsing } },
    );
  }
}
