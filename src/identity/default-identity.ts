import type { DefaultIdentity } from '../cloud/types.ts';
import type { Cluster } from '../domain/records.ts';

/** The IAM partition a region belongs to. */
export function awsPartition(region: string): 'aws' | 'aws-cn' | 'aws-us-gov' {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** Prefix of every platform-managed role / service account. */
export const DEFAULT_IDENTITY_PREFIX = 'airlock-';

/**
 * The platform-managed identity of the Deployment in `namespace` on `cluster`, or why there is none.
 * AWS: `arn:<partition>:iam::<account>:role/airlock-<ns>`; GCP: `airlock-<ns>@<project>.iam.gserviceaccount.com`
 * (namespaces are at most 22 characters so the account id stays within Google's 30). Azure offers
 * no default identity, as in the product guide.
 */
export function defaultIdentityFor(cluster: Cluster, namespace: string): { identity: DefaultIdentity } | { identity: null; reason: string } {
  const name = `${DEFAULT_IDENTITY_PREFIX}${namespace}`;
  switch (cluster.cloud) {
    case 'aws':
      if (!cluster.defaultIdentityAccount) {
        return {
          identity: null,
          reason: `cluster "${cluster.name}" has no default identity account; set one with: airlock cluster update ${cluster.name} --default-identity-account <aws account id>, or give the Deployment a customer-managed identity`,
        };
      }
      return {
        identity: {
          cloud: 'aws',
          accountId: cluster.defaultIdentityAccount,
          roleName: name,
          roleArn: `arn:${awsPartition(cluster.region)}:iam::${cluster.defaultIdentityAccount}:role/${name}`,
        },
      };
    case 'gcp':
      if (!cluster.defaultIdentityProject) {
        return {
          identity: null,
          reason: `cluster "${cluster.name}" has no default identity project; set one with: airlock cluster update ${cluster.name} --default-identity-project <gcp project id>, or give the Deployment a customer-managed identity`,
        };
      }
      return {
        identity: {
          cloud: 'gcp',
          projectId: cluster.defaultIdentityProject,
          accountId: name,
          serviceAccountEmail: `${name}@${cluster.defaultIdentityProject}.iam.gserviceaccount.com`,
          projectNumber: cluster.defaultIdentityProjectNumber ?? undefined,
        },
      };
    case 'azure':
      return {
        identity: null,
        reason: 'Azure clusters have no default identity; attach a user-assigned managed identity saved with: airlock identity save --azure-managed-identity …',
      };
  }
}
