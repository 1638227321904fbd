/**
 * GCP workload identity setup. Explicit exports: what other modules (the registry, the CLI, the
 * sandbox tests) may rely on.
 */
export { gcpProvider, renderGcpSetup, DEFAULT_CONN_ID, CREDENTIAL_CONFIG_FILENAME } from './setup.ts';
export { planGcpSetup, placeholder, GCP_PLACEHOLDERS, ROLES, CONN_TYPE, SECRETS_BACKEND } from './plan.ts';
export type { GcpRoute, GcpSetupPlan, GcpFederationPlan, GcpBinding, GcpPlaceholderName } from './plan.ts';
export { renderGcpTerraform, TERRAFORM_PLACEHOLDERS } from './terraform.ts';
export {
  buildCredentialConfig,
  GCP_TOKEN_PATH,
  STS_TOKEN_URL,
  SUBJECT_TOKEN_TYPE_JWT,
  type CredentialConfigOptions,
  type ExternalAccountConfig,
} from './credential-config.ts';
export { ATTRIBUTE_MAPPING, attributeMappingFlag, celString, clusterCondition, namespaceCondition } from './attributes.ts';
export {
  attributeMember,
  deriveId,
  impersonationUrl,
  isValidPoolOrProviderId,
  poolIdForCluster,
  poolMember,
  poolResourceName,
  projectIdOfServiceAccount,
  providerAudience,
  providerIdForNamespace,
  providerResourceName,
  serviceAccountMember,
  serviceAccountResourceName,
  subjectMember,
  MAX_SUBJECT_BYTES,
  POOL_ID_PREFIX,
  PROVIDER_ID_PREFIX,
  WILDCARD_PROVIDER_ID,
  type PoolRef,
  type ProviderRef,
} from './names.ts';
export { quoteWord, renderCommand, shellVar, type ShellVar, type Word } from '../shell.ts';
export { gcpResources, type GcpPlaceholderValues, type GcpPolicy, type GcpProjectResources } from './resources.ts';
