import { z } from 'zod';
import type { CustomerIdentity } from '../cloud/types.ts';
import { AppError } from '../errors/index.ts';
import type { Clock } from '../lib/clock.ts';
import { isId, newId } from '../lib/ids.ts';
import type { SavedIdentity } from '../domain/records.ts';
import type { Repos } from '../store/repos.ts';
import type { Store } from '../store/store.ts';
import type { Scope } from '../access/scope.ts';
import { checkAzureIdentity, parseRoleArn, parseServiceAccountEmail } from './parse.ts';

const guid = z.string().meta({ example: '00000000-0000-0000-0000-000000000000' });

/** One of three shapes, by which cloud key is present; exactly one must be. */
export const identitySaveSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS-1123 label: lowercase letters, digits and "-", 1–63 characters')
      .meta({ example: 'etl-reader' }),
    awsRoleArn: z.string().optional().meta({ example: 'arn:aws:iam::123456789012:role/etl-reader' }),
    gcpServiceAccount: z.string().optional().meta({ example: 'lake-reader@my-proj.iam.gserviceaccount.com' }),
    gcpProjectNumber: z.string().regex(/^\d{6,20}$/, 'must be the numeric project number').optional().meta({ example: '123456789012' }),
    azure: z
      .object({
        managedIdentityName: z.string().meta({ example: 'blob-mi' }),
        resourceGroup: z.string().meta({ example: 'data-rg' }),
        subscriptionId: guid,
        clientId: guid,
        tenantId: guid,
      })
      .strict()
      .optional(),
  })
  .strict();
export type IdentitySaveInput = z.input<typeof identitySaveSchema>;

/** Turns the save request into a validated CustomerIdentity. */
export function identityFromSaveInput(input: z.output<typeof identitySaveSchema>): CustomerIdentity {
  const given = (['awsRoleArn', 'gcpServiceAccount', 'azure'] as const).filter((k) => input[k] !== undefined);
  if (given.length !== 1) {
    throw new AppError('ERR_VALIDATION', `give exactly one of awsRoleArn, gcpServiceAccount or azure (got ${given.length ? given.join(', ') : 'none'})`, {
      ...(given.length ? { field: given[1] } : {}),
      example: { name: 'etl-reader', awsRoleArn: 'arn:aws:iam::123456789012:role/etl-reader' },
    });
  }
  if (input.gcpProjectNumber !== undefined && input.gcpServiceAccount === undefined) {
    throw new AppError('ERR_VALIDATION', 'gcpProjectNumber goes with gcpServiceAccount', { field: 'gcpProjectNumber' });
  }
  if (input.awsRoleArn !== undefined) {
    if (!parseRoleArn(input.awsRoleArn)) {
      throw new AppError('ERR_VALIDATION', 'awsRoleArn must be an IAM role ARN (partition aws, aws-cn or aws-us-gov; 12-digit account; optional path)', {
        field: 'awsRoleArn',
        example: 'arn:aws:iam::123456789012:role/data/etl-reader',
      });
    }
    return { cloud: 'aws', roleArn: input.awsRoleArn };
  }
  if (input.gcpServiceAccount !== undefined) {
    if (!parseServiceAccountEmail(input.gcpServiceAccount)) {
      throw new AppError('ERR_VALIDATION', 'gcpServiceAccount must be <account>@<project>.iam.gserviceaccount.com', {
        field: 'gcpServiceAccount',
        example: 'lake-reader@my-proj.iam.gserviceaccount.com',
      });
    }
    return input.gcpProjectNumber
      ? { cloud: 'gcp', serviceAccountEmail: input.gcpServiceAccount, projectNumber: input.gcpProjectNumber }
      : { cloud: 'gcp', serviceAccountEmail: input.gcpServiceAccount };
  }
  const az = { cloud: 'azure' as const, ...input.azure! };
  checkAzureIdentity(az, 'azure');
  return { ...az, subscriptionId: az.subscriptionId.toLowerCase(), clientId: az.clientId.toLowerCase(), tenantId: az.tenantId.toLowerCase() };
}

/** A short, readable form of an identity (ARN, email, or the managed identity's resource id). */
export function identityDisplay(i: CustomerIdentity): string {
  switch (i.cloud) {
    case 'aws':
      return i.roleArn;
    case 'gcp':
      return i.serviceAccountEmail;
    case 'azure':
      return `/subscriptions/${i.subscriptionId}/resourceGroups/${i.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${i.managedIdentityName}`;
  }
}

/** Saved identities belong to a workspace: each call acts in the {@link Scope} it is given. */
export interface IdentityService {
  /** Creates or replaces (same name) a saved identity. */
  save(scope: Scope, input: IdentitySaveInput): Promise<{ identity: SavedIdentity; created: boolean }>;
  list(scope: Scope): Promise<SavedIdentity[]>;
  get(scope: Scope, ref: string): Promise<SavedIdentity>;
  find(tx: Repos, scope: Pick<Scope, 'workspaceId'>, ref: string): Promise<SavedIdentity | undefined>;
  /** How many Deployments use each saved identity (one read, whatever the number of identities). */
  usage(scope: Scope): Promise<Map<string, number>>;
  /** Refuses while Deployments use it, unless `resetDeployments` moves them back to the default identity. */
  delete(scope: Scope, ref: string, opts: { resetDeployments?: boolean }): Promise<{ resetDeployments: string[] }>;
}

export interface IdentityServiceDeps {
  store: Store;
  clock: Clock;
  /** Re-checks rules for Deployments that use an identity whose spec changes (Azure capacity, runtime). */
  checkUsers(tx: Repos, identity: SavedIdentity): Promise<void>;
}

export function createIdentityService(d: IdentityServiceDeps): IdentityService {
  // Another workspace's identity does not exist for this caller.
  const find = async (tx: Repos, scope: Pick<Scope, 'workspaceId'>, ref: string) => {
    const i = isId('identity', ref) ? await tx.identities.get(ref) : await tx.identities.getByName(scope.workspaceId, ref);
    return i && i.workspaceId === scope.workspaceId ? i : undefined;
  };
  const notFound = (ref: string) =>
    new AppError('ERR_NOT_FOUND', `no saved identity with id or name "${ref}"`, { field: 'identity', example: 'etl-reader (see: airlock identity list)' });

  return {
    async save(scope, raw) {
      const ws = scope.workspaceId;
      const input = identitySaveSchema.parse(raw);
      const spec = identityFromSaveInput(input);
      const now = new Date(d.clock.now());
      return d.store.transaction(async (tx) => {
        const existing = await tx.identities.getByName(ws, input.name);
        if (existing) {
          const updated = (await tx.identities.update(existing.id, { spec, updatedAt: now }))!;
          await d.checkUsers(tx, updated);
          return { identity: updated, created: false };
        }
        const identity: SavedIdentity = { id: newId('identity'), workspaceId: ws, name: input.name, spec, createdAt: now, updatedAt: now };
        await tx.identities.insert(identity);
        return { identity, created: true };
      });
    },
    list: (scope) => d.store.identities.list(scope.workspaceId),
    async get(scope, ref) {
      const i = await find(d.store, scope, ref);
      if (!i) throw notFound(ref);
      return i;
    },
    find,
    async usage(scope) {
      const counts = new Map<string, number>();
      for (const dep of await d.store.deployments.listAll({})) {
        if (dep.workspaceId === scope.workspaceId && dep.identityId) counts.set(dep.identityId, (counts.get(dep.identityId) ?? 0) + 1);
      }
      return counts;
    },
    async delete(scope, ref, opts) {
      return d.store.transaction(async (tx) => {
        const i = await find(tx, scope, ref);
        if (!i) throw notFound(ref);
        const users = await tx.deployments.listAll({ identityId: i.id });
        if (users.length > 0 && !opts.resetDeployments) {
          throw new AppError(
            'ERR_CONFLICT',
            `identity "${i.name}" is used by ${users.length} Deployment(s): ${users.map((u) => u.name).join(', ')}; change their workload identity first, or delete with --reset-deployments to move them to the default identity`,
            { field: 'identity', details: { deployments: users.map((u) => ({ id: u.id, name: u.name })) } },
          );
        }
        const now = new Date(d.clock.now());
        for (const u of users) await tx.deployments.update(u.id, { identityId: null, updatedAt: now });
        await tx.identities.delete(i.id);
        return { resetDeployments: users.map((u) => u.name) };
      });
    },
  };
}
