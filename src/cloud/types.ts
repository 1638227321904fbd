import type { Component, ComponentIdentity } from '../deployments/components.ts';
import type { Cloud, ClusterType } from '../domain/terms.ts';

/** Audiences each cloud's token service expects in a federated token. */
export const AUDIENCE = {
  aws: 'sts.amazonaws.com',
  azure: 'api://AzureADTokenExchange',
  // GCP's default audience is the full resource name of the pool provider; see src/cloud/gcp.
} as const;

/** A customer-managed identity: something in the customer's cloud account that the Deployment becomes. */
export type CustomerIdentity =
  | { cloud: 'aws'; roleArn: string }
  | {
      cloud: 'gcp';
      serviceAccountEmail: string;
      /** Needed in the credential config's audience; when unknown, setup uses the placeholder ${PROJECT_NUMBER}. */
      projectNumber?: string | undefined;
    }
  | {
      cloud: 'azure';
      managedIdentityName: string;
      resourceGroup: string;
      subscriptionId: string;
      clientId: string;
      tenantId: string;
    };

/**
 * The platform-managed identity of a Deployment, derived from its cluster's platform settings.
 * AWS: a role in the platform account; GCP: a Google service account in the platform project.
 */
export type DefaultIdentity =
  | { cloud: 'aws'; accountId: string; roleArn: string; roleName: string }
  | {
      cloud: 'gcp';
      projectId: string;
      serviceAccountEmail: string;
      accountId: string;
      /** The platform project's number, needed in the federation audience; absent = the placeholder ${PLATFORM_PROJECT_NUMBER}. */
      projectNumber?: string | undefined;
    };

/** What is in force for a Deployment. */
export type EffectiveIdentity =
  | { mode: 'customer-managed'; identity: CustomerIdentity; savedIdentityName?: string | undefined }
  | { mode: 'default'; identity: DefaultIdentity };

/** Everything a cloud needs to generate a Deployment's setup. Pure data: no store, no clock. */
export interface SetupInput {
  deployment: { id: string; name: string; namespace: string; runtimeVersion: string };
  cluster: { id: string; name: string; cloud: Cloud; type: ClusterType; region: string; oidcIssuerUrl: string };
  /** The Deployment's components and their subjects, in component order. */
  components: ComponentIdentity[];
  identity: EffectiveIdentity;
  /**
   * Trust `system:serviceaccount:*:*` instead of the listed subjects. Only ever true on dedicated
   * clusters (the caller enforces it); the exact subjects are still reported in `subjects`.
   */
  wildcard: boolean;
  /**
   * Default-identity routes only: what the customer wants the platform identity to reach. AWS: the
   * customer's role that trusts the default role (`sts:AssumeRole`); GCP: the service account to
   * impersonate, or a direct grant. Unknown values become placeholders.
   */
  target?: { awsRoleArn?: string | undefined; gcpServiceAccount?: string | undefined; gcpRoute?: 'impersonation' | 'direct-grant' | undefined; gcpProjectId?: string | undefined; gcpRole?: string | undefined };
}

/** One thing the user does: commands to run and/or a document to save. */
export interface SetupStep {
  title: string;
  description?: string;
  commands: string[];
  /** A file the commands refer to (e.g. trust-policy.json), with its content. */
  document?: { filename: string; content: unknown };
}

/** A value the generator could not know; it appears as `${NAME}` in commands and documents. */
export interface Placeholder {
  name: string;
  description: string;
}

/** The machine-readable setup (`GET /api/v1/deployments/{id}/identity/setup`). Keys are a contract. */
export interface SetupResult {
  cloud: Cloud;
  mode: 'default' | 'customer-managed';
  issuerUrl: string;
  audience: string;
  subjects: string[];
  steps: SetupStep[];
  aws?: { trustPolicy: Record<string, unknown>; oidcProviderArn?: string; roleArn: string; platform?: { roleArn: string; trustPolicy: Record<string, unknown> } };
  gcp?: {
    credentialConfig?: Record<string, unknown>;
    members: string[];
    route: 'attach' | 'impersonation' | 'direct-grant';
    workloadIdentityPool?: { projectId: string; projectNumber: string; poolId: string; providerId: string; resourceName: string };
  };
  azure?: { federatedCredentials: { name: string; issuer: string; subject: string; audiences: string[] }[] };
  /** The Airflow connection to create (Airflow's JSON connection form). */
  connection: { conn_type: string; extra: Record<string, unknown> };
  /** Environment variables for the Deployment (e.g. AIRFLOW__SECRETS__BACKEND_KWARGS). */
  environment?: Record<string, string>;
  placeholders: Placeholder[];
  notes: string[];
}

/**
 * What a workload of a Deployment needs at run time to use its identity in one cloud: the audience
 * its token carries and the values the cloud's SDK reads (role ARN, credential configuration,
 * client and tenant ids). Derived from the same plan as the setup, so the two cannot disagree.
 * File paths inside are the in-pod defaults (`/var/run/secrets/airlock/tokens/<cloud>/token`);
 * delivery rewrites them for the directory it writes to.
 */
export type CloudDelivery =
  | {
      cloud: 'aws';
      /** `sts.amazonaws.com`. */
      audience: string;
      /** Every audience the token exchange accepts for this identity (`audience` first). */
      acceptedAudiences: string[];
      /** The role that trusts the issuer (the customer's role, or the default identity's role). */
      roleArn: string;
      /** The cluster's region when the cluster is on AWS; absent otherwise (the SDK's global default). */
      region?: string | undefined;
    }
  | {
      cloud: 'gcp';
      /** The workload identity pool provider's full resource name. */
      audience: string;
      /** `audience` first; on dedicated clusters also the shared wildcard provider's. */
      acceptedAudiences: string[];
      /** The service account the workload becomes. */
      serviceAccountEmail: string;
      /** The project the workload works in (GOOGLE_CLOUD_PROJECT), when known. */
      projectId?: string | undefined;
      /** The `external_account` configuration, with no placeholder left. */
      credentialConfig: Record<string, unknown>;
    }
  | {
      cloud: 'azure';
      /** `api://AzureADTokenExchange`. */
      audience: string;
      acceptedAudiences: string[];
      clientId: string;
      tenantId: string;
      /** `https://login.microsoftonline.com/`. */
      authorityHost: string;
    };

/**
 * What each cloud implements. Adding a cloud means one folder under src/cloud/ and one entry in
 * the registry (src/cloud/index.ts).
 */
export interface CloudProvider {
  // Plain functions, not methods: callers pass them around unbound (a table of providers' setups).
  cloud: Cloud;
  /** Human steps and machine-readable artifacts for a Deployment. */
  setup: (input: SetupInput) => SetupResult;
  /** The same setup as Terraform (HCL). */
  terraform: (input: SetupInput) => string;
  /**
   * What the Deployment's workloads need at run time. Throws `ERR_RULE_VIOLATION` when a value
   * the workload cannot do without is unknown (a GCP project number), naming how to set it.
   */
  delivery: (input: SetupInput) => CloudDelivery;
}

// ---------------------------------------------------------------------------------------------
// Checking what a cloud holds (src/cloud/check.ts)
// ---------------------------------------------------------------------------------------------

/** The documents a check reads, each as the cloud's CLI prints it (JSON text or parsed). */
export interface TrustDocuments {
  /** AWS: the role's trust policy, or all of `aws iam get-role` (its `Role.AssumeRolePolicyDocument`). */
  trustPolicy?: unknown;
  /** Azure: `az identity federated-credential list` (an array), or the ARM list answer (`{ value: [...] }`). */
  federatedCredentials?: unknown;
  /** GCP: `gcloud iam workload-identity-pools providers describe … --format=json`. */
  provider?: unknown;
  /** GCP, optional: `gcloud iam service-accounts get-iam-policy <the account the components become> --format=json`. */
  serviceAccountPolicy?: unknown;
  /** AWS default identity, optional: the platform's default role's trust policy (the operator's side). */
  platformTrustPolicy?: unknown;
  /**
   * GCP default identity, optional: the allow policy of what the customer grants the default identity
   * (the target service account's `get-iam-policy`, or the project's for a direct grant).
   */
  targetPolicy?: unknown;
}

/** One principal the Deployment needs trusted, and whether the document trusts it. */
export interface TrustCheck {
  /** The token subject (web identity), or the ARN of the platform role that chains (AWS default identity). */
  principal: string;
  /** The component whose token this is; absent when one principal serves every component. */
  component?: Component | undefined;
  trusted: boolean;
  /** What grants it (a statement, a credential), or why it is refused, in the cloud's terms. */
  reason: string;
}

/**
 * Something about the document beside the checks. `error`: the Deployment's identity can be taken
 * by someone else (the document trusts more than it should); `warning`: it works, but is weaker
 * or more fragile than the generated setup; `info`: worth knowing, nothing to fix.
 */
export interface TrustFinding {
  severity: 'error' | 'warning' | 'info';
  message: string;
}

export interface TrustCheckResult {
  cloud: Cloud;
  mode: 'default' | 'customer-managed';
  /** What was checked, in the cloud's terms (a role ARN, a managed identity). */
  checked: string;
  /** Every check trusted and no `error` finding. */
  ok: boolean;
  checks: TrustCheck[];
  findings: TrustFinding[];
}

