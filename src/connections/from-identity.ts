/**
 * `--from-identity`: the Airflow connection a Deployment's workload identity (or a saved identity)
 * calls for. For a Deployment this is exactly the connection `deployment identity setup` prints
 * (the cloud provider's own `setup().connection`), so the two can never disagree; for a saved
 * identity, which has no cluster yet, it is the same connection with the values delivery puts in
 * every pod of a Deployment that uses it.
 */
import { join } from 'node:path';
import type { CloudProvider, SetupInput } from '../cloud/types.ts';
import { AWS_TOKEN_FILE } from '../cloud/aws/setup.ts';
import type { Cloud } from '../domain/terms.ts';
import { DEFAULT_TOKEN_DIR } from '../delivery/environment.ts';
import type { CustomerIdentity } from '../cloud/types.ts';
import { AppError } from '../errors/index.ts';
import { parseServiceAccountEmail } from '../identity/parse.ts';
import { CLOUD_CONN_TYPES, type AwsHelper, type GcpHelper } from './typed.ts';

/** Where delivery writes a GCP workload's credential configuration inside a pod (GOOGLE_APPLICATION_CREDENTIALS). */
export const GCP_CREDENTIAL_CONFIG_PATH = join(DEFAULT_TOKEN_DIR, 'gcp', 'credential-config.json');

/** What the identity calls for: the conn_type and the extra keys, and how it was derived. */
export interface IdentityConnection {
  connType: string;
  extra: Record<string, unknown>;
  /** e.g. `deployment etl: default identity, role chaining into arn:…` (shown to the user). */
  derivation: string;
}

/** Which option fills each placeholder the setup may leave in a connection. */
const PLACEHOLDER_FLAGS: Record<string, { field: string; example: string; what: string }> = {
  CUSTOMER_ROLE_ARN: { field: 'aws.roleArn', example: '--role-arn arn:aws:iam::123456789012:role/etl-reader', what: 'the role the default identity chains into' },
  TARGET_SERVICE_ACCOUNT: { field: 'gcp.impersonationChain', example: '--impersonation-chain lake-reader@my-proj.iam.gserviceaccount.com', what: 'the service account to impersonate' },
  SECRET_MANAGER_PROJECT: { field: 'gcp.project', example: '--project-id my-proj', what: 'the project' },
  GOOGLE_CLOUD_PROJECT: { field: 'gcp.project', example: '--project-id my-proj', what: 'the project' },
  PROJECT_NUMBER: { field: 'fromIdentity', example: 'airlock identity save --name lake-sa --gcp-service-account … --gcp-project-number 123456789012', what: "the service account's project number" },
  PLATFORM_PROJECT_NUMBER: { field: 'fromIdentity', example: 'airlock cluster update <cluster> --default-identity-project-number 123456789012', what: "the platform project's number" },
};

function refusePlaceholders(extra: Record<string, unknown>, who: string): void {
  const names = [...new Set([...JSON.stringify(extra).matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]))];
  if (names.length === 0) return;
  const first = PLACEHOLDER_FLAGS[names[0]] ?? { field: 'fromIdentity', example: '', what: names[0] };
  throw new AppError('ERR_VALIDATION', `${who}: the connection needs ${names.map((n) => PLACEHOLDER_FLAGS[n]?.what ?? n).join(' and ')}, which Airlock does not know; give it`, {
    field: first.field,
    example: first.example,
    details: { placeholders: names },
  });
}

/** The target a Deployment on its default identity reaches, from the helper fields. */
export function setupTarget(cloud: Cloud, aws: AwsHelper | undefined, gcp: GcpHelper | undefined): SetupInput['target'] {
  if (cloud === 'aws') return aws?.roleArn ? { awsRoleArn: aws.roleArn } : {};
  if (cloud === 'gcp') {
    const chain = gcp?.impersonationChain;
    const target = typeof chain === 'string' ? chain : chain?.[chain.length - 1];
    if (target !== undefined) return { gcpRoute: 'impersonation', gcpServiceAccount: target, ...(gcp?.project ? { gcpProjectId: gcp.project } : {}) };
    return { gcpRoute: 'direct-grant', ...(gcp?.project ? { gcpProjectId: gcp.project } : {}) };
  }
  return {};
}

/** The connection of a Deployment: its cloud's setup, placeholders refused. */
export function connectionForDeployment(input: SetupInput, provider: CloudProvider, aws: AwsHelper | undefined): IdentityConnection {
  const who = `deployment ${input.deployment.name}`;
  const id = input.identity;
  if (id.mode === 'customer-managed' && id.identity.cloud === 'aws' && aws?.roleArn !== undefined && aws.roleArn !== id.identity.roleArn) {
    throw new AppError('ERR_VALIDATION', `${who} becomes ${id.identity.roleArn} itself (a customer role, through web identity); --role-arn names the role a default identity chains into`, {
      field: 'aws.roleArn',
      example: `airlock connection create aws_default --type aws --from-identity ${input.deployment.name}`,
    });
  }
  const setup = provider.setup(input);
  refusePlaceholders(setup.connection.extra, who);
  let derivation: string;
  if (setup.cloud === 'aws') {
    derivation = setup.mode === 'default' ? `${who}: default identity ${setup.aws?.platform?.roleArn ?? ''}, role chaining (assume_role) into ${setup.aws?.roleArn ?? ''}` : `${who}: customer role ${setup.aws?.roleArn ?? ''} through web identity`;
  } else if (setup.cloud === 'gcp') {
    derivation = `${who}: ${setup.mode} identity, route ${setup.gcp?.route ?? ''}`;
  } else {
    derivation = `${who}: managed identity (workload identity federation)`;
  }
  return { connType: setup.connection.conn_type, extra: structuredClone(setup.connection.extra), derivation };
}

/** The connection of a saved identity: what delivery gives every Deployment that uses it. */
export function connectionForSavedIdentity(name: string, spec: CustomerIdentity): IdentityConnection {
  const who = `saved identity ${name}`;
  switch (spec.cloud) {
    case 'aws':
      return {
        connType: CLOUD_CONN_TYPES.aws,
        extra: {
          role_arn: spec.roleArn,
          assume_role_method: 'assume_role_with_web_identity',
          assume_role_with_web_identity_federation: 'file',
          assume_role_with_web_identity_token_file: AWS_TOKEN_FILE,
        },
        derivation: `${who}: customer role ${spec.roleArn} through web identity (give --region for region_name)`,
      };
    case 'gcp': {
      const project = parseServiceAccountEmail(spec.serviceAccountEmail)?.projectId;
      const extra: Record<string, unknown> = { credential_config_file: GCP_CREDENTIAL_CONFIG_PATH };
      if (project) extra.project = project;
      return {
        connType: CLOUD_CONN_TYPES.gcp,
        extra,
        derivation: `${who}: ${spec.serviceAccountEmail} through the credential configuration Airlock delivers at ${GCP_CREDENTIAL_CONFIG_PATH}`,
      };
    }
    case 'azure':
      return {
        connType: CLOUD_CONN_TYPES.azure,
        extra: { managed_identity_client_id: spec.clientId, workload_identity_tenant_id: spec.tenantId, subscriptionId: spec.subscriptionId },
        derivation: `${who}: managed identity ${spec.managedIdentityName}`,
      };
  }
}
