/**
 * Typed helpers for the three cloud connection kinds the product guide has users create: each
 * turns friendly fields into exactly the Extra keys the Airflow provider reads, and validates
 * what the provider would otherwise only reject at task run time.
 *
 * - `aws` (apache-airflow-providers-amazon, AwsConnectionWrapper / BaseSessionFactory):
 *   `role_arn`, `region_name`, `assume_role_method`, `assume_role_with_web_identity_federation`,
 *   `assume_role_with_web_identity_token_file`, `assume_role_kwargs`.
 * - `google_cloud_platform` (apache-airflow-providers-google, GoogleBaseHook): `project`,
 *   `impersonation_chain` (a string or a list), `credential_config_file` (a path, or the
 *   configuration itself), `scope` (comma-separated).
 * - `azure` and the other Azure types (apache-airflow-providers-microsoft-azure, AzureBaseHook and
 *   the hooks built on get_sync_default_azure_credential): `managed_identity_client_id`,
 *   `workload_identity_tenant_id`.
 */
import { z } from 'zod';
import { AWS_TOKEN_FILE } from '../cloud/aws/setup.ts';
import { PROJECT_ID } from '../cloud/gcp/names.ts';
import { AppError } from '../errors/index.ts';
import { parseRoleArn } from '../identity/parse.ts';

/** The conn_type of each cloud's own connection. */
export const CLOUD_CONN_TYPES = { aws: 'aws', gcp: 'google_cloud_platform', azure: 'azure' } as const;

/** STS calls the Amazon provider knows for `assume_role_method` (anything else fails at run time). */
export const AWS_ASSUME_ROLE_METHODS = ['assume_role', 'assume_role_with_saml', 'assume_role_with_web_identity'] as const;
/** The ones Airlock's helpers write (SAML needs an IdP Airlock does not model). */
export const AWS_HELPER_METHODS = ['assume_role', 'assume_role_with_web_identity'] as const;

/** Azure connection types whose hooks build their credential from the two managed-identity keys. */
const AZURE_CONN_TYPES = new Set(['azure', 'wasb', 'adls', 'azure_data_lake', 'azure_cosmos', 'azure_data_factory', 'azure_batch', 'azure_container_instance', 'azure_container_registry', 'azure_container_volume', 'azure_synapse', 'azure_service_bus', 'azure_fileshare', 'msgraph', 'powerbi']);

/** Whether a conn_type reads Azure's managed-identity keys. */
export function isAzureConnType(t: string): boolean {
  return AZURE_CONN_TYPES.has(t) || t.startsWith('azure_');
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
// Service accounts (user-made and Google's own, e.g. <n>-compute@developer.gserviceaccount.com).
const SA_EMAIL = /^[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com$/;

export const awsHelperSchema = z
  .object({
    roleArn: z.string().max(2048).optional().meta({ example: 'arn:aws:iam::123456789012:role/etl-reader' }),
    regionName: z.string().max(64).optional().meta({ example: 'us-east-1' }),
    assumeRoleMethod: z.enum(AWS_HELPER_METHODS).optional().meta({ example: 'assume_role_with_web_identity' }),
    webIdentityTokenFile: z.string().min(1).max(4096).optional().meta({ example: AWS_TOKEN_FILE }),
    assumeRoleKwargs: z.record(z.string(), z.unknown()).optional().meta({ example: { DurationSeconds: 3600 } }),
  })
  .strict();

export const gcpHelperSchema = z
  .object({
    project: z.string().max(64).optional().meta({ example: 'my-proj' }),
    impersonationChain: z
      .union([z.string().min(1).max(320), z.array(z.string().min(1).max(320)).min(1).max(20)])
      .optional()
      .meta({ example: 'lake-reader@my-proj.iam.gserviceaccount.com' }),
    credentialConfigFile: z.union([z.string().min(1).max(4096), z.record(z.string(), z.unknown())]).optional().meta({ example: '/var/run/secrets/airlock/gcp/credential-config.json' }),
    scopes: z.array(z.string().min(1).max(512)).min(1).max(50).optional().meta({ example: ['https://www.googleapis.com/auth/cloud-platform'] }),
  })
  .strict();

export const azureHelperSchema = z
  .object({
    managedIdentityClientId: z.string().optional().meta({ example: '00000000-0000-0000-0000-000000000000' }),
    workloadIdentityTenantId: z.string().optional().meta({ example: '00000000-0000-0000-0000-000000000000' }),
  })
  .strict();

export type AwsHelper = z.infer<typeof awsHelperSchema>;
export type GcpHelper = z.infer<typeof gcpHelperSchema>;
export type AzureHelper = z.infer<typeof azureHelperSchema>;

function invalid(field: string, message: string, example: unknown): never {
  throw new AppError('ERR_VALIDATION', `${field}: ${message}`, { field, example });
}

/** Extra keys from the `aws` helper fields. */
export function awsExtra(h: AwsHelper): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (h.roleArn !== undefined) {
    if (!parseRoleArn(h.roleArn)) invalid('aws.roleArn', 'must be an IAM role ARN', 'arn:aws:iam::123456789012:role/etl-reader');
    extra.role_arn = h.roleArn;
  }
  if (h.regionName !== undefined) {
    if (!AWS_REGION.test(h.regionName)) invalid('aws.regionName', `"${h.regionName}" is not an AWS region name`, 'us-east-1');
    extra.region_name = h.regionName;
  }
  if (h.webIdentityTokenFile !== undefined && h.assumeRoleMethod !== 'assume_role_with_web_identity') {
    invalid('aws.webIdentityTokenFile', 'goes with assumeRoleMethod assume_role_with_web_identity', { assumeRoleMethod: 'assume_role_with_web_identity', webIdentityTokenFile: AWS_TOKEN_FILE });
  }
  if (h.assumeRoleMethod !== undefined) {
    extra.assume_role_method = h.assumeRoleMethod;
    if (h.assumeRoleMethod === 'assume_role_with_web_identity') {
      // Without the federation key the provider fails with "Unsupported federation: None".
      extra.assume_role_with_web_identity_federation = 'file';
      extra.assume_role_with_web_identity_token_file = h.webIdentityTokenFile ?? AWS_TOKEN_FILE;
    }
  }
  if (h.assumeRoleKwargs !== undefined) extra.assume_role_kwargs = h.assumeRoleKwargs;
  return extra;
}

/** Extra keys from the `gcp` helper fields. */
export function gcpExtra(h: GcpHelper): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (h.project !== undefined) {
    if (!PROJECT_ID.test(h.project)) invalid('gcp.project', `"${h.project}" is not a project ID (6–30 of a-z, 0-9 and -, starting with a letter)`, 'my-proj');
    extra.project = h.project;
  }
  if (h.impersonationChain !== undefined) {
    const chain = typeof h.impersonationChain === 'string' ? [h.impersonationChain] : h.impersonationChain;
    chain.forEach((sa, i) => {
      if (!SA_EMAIL.test(sa)) invalid(`gcp.impersonationChain${typeof h.impersonationChain === 'string' ? '' : `.${i}`}`, `"${sa}" is not a service account email`, 'lake-reader@my-proj.iam.gserviceaccount.com');
    });
    // A single account stays a string, as the Airflow UI writes it; the hook takes either.
    extra.impersonation_chain = h.impersonationChain;
  }
  if (h.credentialConfigFile !== undefined) extra.credential_config_file = h.credentialConfigFile;
  if (h.scopes !== undefined) {
    if (h.scopes.some((s) => s.includes(','))) invalid('gcp.scopes', 'a scope cannot contain ","', ['https://www.googleapis.com/auth/cloud-platform']);
    // GoogleBaseHook reads `scope` as one comma-separated string.
    extra.scope = h.scopes.join(',');
  }
  return extra;
}

/** Extra keys from the `azure` helper fields. */
export function azureExtra(h: AzureHelper): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (h.managedIdentityClientId !== undefined) {
    if (!GUID.test(h.managedIdentityClientId)) invalid('azure.managedIdentityClientId', 'must be a GUID (the managed identity\'s client id)', '00000000-0000-0000-0000-000000000000');
    extra.managed_identity_client_id = h.managedIdentityClientId.toLowerCase();
  }
  if (h.workloadIdentityTenantId !== undefined) {
    if (!GUID.test(h.workloadIdentityTenantId)) invalid('azure.workloadIdentityTenantId', 'must be a GUID (the Entra tenant id)', '00000000-0000-0000-0000-000000000000');
    extra.workload_identity_tenant_id = h.workloadIdentityTenantId.toLowerCase();
  }
  return extra;
}

/** Which helper block suits a conn_type; a block given for another type is refused. */
export function checkHelperFits(connType: string, helpers: { aws?: unknown; gcp?: unknown; azure?: unknown }): void {
  if (helpers.aws !== undefined && connType !== CLOUD_CONN_TYPES.aws) invalid('aws', `the aws fields go with conn_type aws, not ${connType}`, { connType: 'aws', aws: { roleArn: 'arn:aws:iam::123456789012:role/etl-reader' } });
  if (helpers.gcp !== undefined && connType !== CLOUD_CONN_TYPES.gcp) invalid('gcp', `the gcp fields go with conn_type google_cloud_platform, not ${connType}`, { connType: 'google_cloud_platform', gcp: { project: 'my-proj' } });
  if (helpers.azure !== undefined && !isAzureConnType(connType)) invalid('azure', `the azure fields go with conn_type azure (or wasb, adls, azure_*), not ${connType}`, { connType: 'azure', azure: { managedIdentityClientId: '00000000-0000-0000-0000-000000000000' } });
}

/**
 * Checks the Extra keys a provider would choke on at run time: a known key with a value of the
 * wrong kind. Keys Airlock does not know are the provider's business and pass.
 */
export function checkExtraForType(connType: string, extra: Record<string, unknown>): void {
  const str = (k: string) => extra[k] === undefined || typeof extra[k] === 'string';
  if (connType === CLOUD_CONN_TYPES.aws) {
    const m = extra.assume_role_method;
    if (m !== undefined && m !== null && !(AWS_ASSUME_ROLE_METHODS as readonly unknown[]).includes(m)) {
      invalid('extra.assume_role_method', `the Amazon provider knows ${AWS_ASSUME_ROLE_METHODS.join(', ')}`, 'assume_role_with_web_identity');
    }
    for (const k of ['role_arn', 'region_name', 'assume_role_with_web_identity_token_file']) if (!str(k)) invalid(`extra.${k}`, 'must be a string', k === 'region_name' ? 'us-east-1' : AWS_TOKEN_FILE);
    const kw = extra.assume_role_kwargs;
    if (kw !== undefined && (kw === null || typeof kw !== 'object' || Array.isArray(kw))) invalid('extra.assume_role_kwargs', 'must be a JSON object', { DurationSeconds: 3600 });
  } else if (connType === CLOUD_CONN_TYPES.gcp) {
    const ic = extra.impersonation_chain;
    if (ic !== undefined && ic !== null && typeof ic !== 'string' && !(Array.isArray(ic) && ic.every((x) => typeof x === 'string'))) {
      invalid('extra.impersonation_chain', 'must be a service account email or a list of them', 'lake-reader@my-proj.iam.gserviceaccount.com');
    }
    if (!str('project')) invalid('extra.project', 'must be a string', 'my-proj');
    if (!str('scope')) invalid('extra.scope', 'must be one comma-separated string', 'https://www.googleapis.com/auth/cloud-platform');
  } else if (isAzureConnType(connType)) {
    for (const k of ['managed_identity_client_id', 'workload_identity_tenant_id']) if (!str(k)) invalid(`extra.${k}`, 'must be a string (a GUID)', '00000000-0000-0000-0000-000000000000');
  }
}
