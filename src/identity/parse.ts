import { AppError } from '../errors/index.ts';
import type { CustomerIdentity } from '../cloud/types.ts';

/** Examples of every accepted `--workload-identity` form, shown whenever a value is refused. */
export const WORKLOAD_IDENTITY_FORMS = [
  'an IAM role ARN: arn:aws:iam::123456789012:role/etl-reader',
  'a Google service account email: lake-reader@my-proj.iam.gserviceaccount.com',
  'the name of a saved identity: etl-reader',
  'default: the platform-managed default identity',
] as const;

// IAM role: partition, 12-digit account, optional path (/a/b/), name of 1–64 of [\w+=,.@-].
const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/((?:[\w+=,.@-]+\/)*)([\w+=,.@-]{1,64})$/;
// Google service account: account id 6–30 chars, in a project id 6–30 chars.
const SA_EMAIL = /^([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/;
const SAVED_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type WorkloadIdentityInput =
  | { kind: 'default' }
  | { kind: 'customer'; identity: CustomerIdentity }
  | { kind: 'saved'; name: string };

function refuse(field: string, why: string): never {
  throw new AppError('ERR_VALIDATION', `${why}; --workload-identity accepts ${WORKLOAD_IDENTITY_FORMS.join('; ')}`, {
    field,
    example: [...WORKLOAD_IDENTITY_FORMS],
  });
}

/** An AWS IAM role ARN, parsed. */
export function parseRoleArn(arn: string): { partition: string; accountId: string; path: string; roleName: string } | undefined {
  const m = ROLE_ARN.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, accountId: m[2]!, path: `/${m[3]!}`, roleName: m[4]! };
}

/** A Google service account email, parsed. */
export function parseServiceAccountEmail(email: string): { accountId: string; projectId: string } | undefined {
  const m = SA_EMAIL.exec(email);
  return m ? { accountId: m[1]!, projectId: m[2]! } : undefined;
}

/**
 * Reads a `--workload-identity` value: an IAM role ARN, a Google service account email, a saved
 * identity's name, or `default`. Values that look like one form but break its rules get a message
 * about that rule, not a generic one.
 */
export function parseWorkloadIdentity(value: string | null, field = 'workloadIdentity'): WorkloadIdentityInput {
  if (value === null || value === 'default') return { kind: 'default' };
  const v = value.trim();
  if (v.startsWith('arn:')) {
    if (parseRoleArn(v)) return { kind: 'customer', identity: { cloud: 'aws', roleArn: v } };
    if (!/^arn:(aws|aws-cn|aws-us-gov):/.test(v)) refuse(field, `"${v}" is not in a partition IAM roles live in (aws, aws-cn, aws-us-gov)`);
    if (!/^arn:[^:]+:iam::/.test(v)) refuse(field, `"${v}" is not an IAM ARN (a role ARN has service "iam" and no region)`);
    if (!/^arn:[^:]+:iam::\d{12}:/.test(v)) refuse(field, `"${v}" must name a 12-digit AWS account id`);
    if (!/^arn:[^:]+:iam::\d{12}:role\//.test(v)) refuse(field, `"${v}" is not a role ARN (expected …:role/<name>; users and instance profiles cannot be assumed this way)`);
    refuse(field, `"${v}" has an invalid role name or path (1–64 characters of letters, digits and +=,.@_-)`);
  }
  if (v.includes('@')) {
    if (SA_EMAIL.test(v)) return { kind: 'customer', identity: { cloud: 'gcp', serviceAccountEmail: v } };
    if (!v.endsWith('.iam.gserviceaccount.com')) refuse(field, `"${v}" is not a service account email of the form <account>@<project>.iam.gserviceaccount.com`);
    const [account = '', project = ''] = v.replace(/\.iam\.gserviceaccount\.com$/, '').split('@');
    const bad = !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(account) ? `account id "${account}" (${account.length} characters)` : `project id "${project}"`;
    refuse(field, `"${v}" has ${bad} outside Google's rules: 6–30 lowercase letters, digits or hyphens, starting with a letter`);
  }
  if (SAVED_NAME.test(v)) return { kind: 'saved', name: v };
  refuse(field, `"${v}" is not a workload identity`);
}

/** Checks an Azure user-assigned managed identity's fields; names the first bad one. */
export function checkAzureIdentity(i: Extract<CustomerIdentity, { cloud: 'azure' }>, prefix?: string): void {
  for (const k of ['subscriptionId', 'clientId', 'tenantId'] as const) {
    if (!GUID.test(i[k])) {
      throw new AppError('ERR_VALIDATION', `${k} must be a GUID`, { field: prefix ? `${prefix}.${k}` : k, example: '00000000-0000-0000-0000-000000000000' });
    }
  }
  // Azure resource names: managed identity 3–128 chars starting with a letter or digit; resource group 1–90 of [\w.()-], not ending in '.'.
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$/.test(i.managedIdentityName)) {
    throw new AppError('ERR_VALIDATION', 'managedIdentityName must be 3–128 letters, digits, "-" or "_", starting with a letter or digit', {
      field: prefix ? `${prefix}.managedIdentityName` : 'managedIdentityName',
      example: 'blob-mi',
    });
  }
  if (!/^[-\w.()]{0,89}[-\w()]$/.test(i.resourceGroup)) {
    throw new AppError('ERR_VALIDATION', 'resourceGroup must be 1–90 letters, digits, "_", "-", ".", "(" or ")", not ending in "."', {
      field: prefix ? `${prefix}.resourceGroup` : 'resourceGroup',
      example: 'data-rg',
    });
  }
}
