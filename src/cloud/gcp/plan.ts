/**
 * The GCP setup of one Deployment as data: which pool, provider and bindings exist where, and what
 * the Deployment's connection looks like. `setup()` renders it as commands, `terraform()` as HCL,
 * and the sandbox tests apply it to the GCP emulator, so all three always describe the same thing.
 *
 * Routes (see the product guide, GCP section):
 * - `attach` — a customer-managed service account. The customer federates the cluster in their own
 *   project and lets each component subject act as the service account.
 * - `impersonation` — the Deployment's default identity (a platform service account, itself
 *   federated by the platform operator) gets Service Account Token Creator on a customer service
 *   account and impersonates it.
 * - `direct-grant` — the default identity gets a role on a customer project directly.
 */
import { AppError } from '../../errors/index.ts';
import type { Placeholder, SetupInput } from '../types.ts';
import { ATTRIBUTE_MAPPING, clusterCondition, namespaceCondition } from './attributes.ts';
import { buildCredentialConfig, type ExternalAccountConfig } from './credential-config.ts';
import {
  MAX_SUBJECT_BYTES,
  PROJECT_ID,
  PROJECT_NUMBER,
  ROLE,
  SERVICE_ACCOUNT_EMAIL,
  WILDCARD_PROVIDER_ID,
  poolIdForCluster,
  poolMember,
  projectIdOfServiceAccount,
  providerAudience,
  providerIdForNamespace,
  serviceAccountMember,
  subjectMember,
} from './names.ts';

/** Which of the three routes a setup takes. */
export type GcpRoute = 'attach' | 'impersonation' | 'direct-grant';

/** The placeholders GCP setup can emit, by name (they appear as `${NAME}`). */
export const GCP_PLACEHOLDERS = ['PROJECT_NUMBER', 'PLATFORM_PROJECT_NUMBER', 'TARGET_SERVICE_ACCOUNT', 'GOOGLE_CLOUD_PROJECT', 'SECRET_MANAGER_PROJECT'] as const;
/** The name of a GCP placeholder. */
export type GcpPlaceholderName = (typeof GCP_PLACEHOLDERS)[number];

/** The `${NAME}` text of a placeholder. */
export function placeholder(name: GcpPlaceholderName): string {
  return `\${${name}}`;
}

/** Roles the routes grant. */
export const ROLES = {
  workloadIdentityUser: 'roles/iam.workloadIdentityUser',
  tokenCreator: 'roles/iam.serviceAccountTokenCreator',
  defaultDirectGrant: 'roles/viewer',
} as const;

/** The Airflow connection type of the Google provider. */
export const CONN_TYPE = 'google_cloud_platform';
/** The secrets backend class of apache-airflow-providers-google. */
export const SECRETS_BACKEND = 'airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend';

/** One IAM binding to add. `label` names it in Terraform (unique within a plan). */
export type GcpBinding =
  | { resource: 'serviceAccount'; serviceAccountEmail: string; role: string; member: string; label: string }
  | { resource: 'project'; projectId: string; role: string; member: string; label: string };

/** Federation of the cluster in one project: pool, provider and who may act as the service account. */
export interface GcpFederationPlan {
  /** `customer` for attach; `platform` (the platform operator) for the default identity. */
  side: 'customer' | 'platform';
  projectId: string;
  /** Digits, or `${PROJECT_NUMBER}` / `${PLATFORM_PROJECT_NUMBER}`. */
  projectNumber: string;
  /** Set when the number is unknown: the placeholder standing for it. */
  projectNumberPlaceholder?: 'PROJECT_NUMBER' | 'PLATFORM_PROJECT_NUMBER' | undefined;
  poolId: string;
  poolDisplayName: string;
  providerId: string;
  providerDisplayName: string;
  /** True for the wildcard provider that several Deployments of a dedicated cluster share. */
  sharedProvider: boolean;
  issuerUri: string;
  attributeMapping: Record<string, string>;
  attributeCondition: string;
  /** The provider's full resource name: the audience tokens must carry. */
  audience: string;
  /** The service account the components become. */
  serviceAccountEmail: string;
  /** Platform side only: the default identity's account, created if missing. */
  createServiceAccount?: { projectId: string; accountId: string; displayName: string } | undefined;
  /** `roles/iam.workloadIdentityUser` on the service account, one per member. */
  bindings: GcpBinding[];
}

/** Everything GCP setup generates for one Deployment. */
export interface GcpSetupPlan {
  route: GcpRoute;
  mode: 'default' | 'customer-managed';
  federation: GcpFederationPlan;
  /** Default routes: what the customer grants the default identity (TokenCreator or a project role). */
  grants: GcpBinding[];
  /**
   * The members the customer grants: the federated principals (attach) or the default identity's
   * `serviceAccount:` member (impersonation, direct-grant).
   */
  members: string[];
  /** The credential configuration that makes a component the federation's service account. */
  credentialConfig: ExternalAccountConfig;
  connection: { conn_type: typeof CONN_TYPE; extra: Record<string, unknown> };
  /**
   * Secrets-backend variant (attach, impersonation): `AIRFLOW__SECRETS__BACKEND_KWARGS` only. It is
   * inert until the user also sets `AIRFLOW__SECRETS__BACKEND` to {@link SECRETS_BACKEND} (the
   * step says how), so applying `environment` as is never switches a Deployment's secrets backend.
   */
  environment?: Record<string, string> | undefined;
  /** The project a Secret Manager backend reads from, when the route offers one. */
  secretsProject?: string | undefined;
  /** Impersonation: the service account impersonated. */
  targetServiceAccount?: string | undefined;
  /** Direct grant: where and what. */
  directGrant?: { projectId: string; role: string } | undefined;
  placeholders: Placeholder[];
  notes: string[];
}

function invalid(field: string, message: string, example: unknown): never {
  throw new AppError('ERR_VALIDATION', `cloud(gcp): ${field} ${message}`, { field, example });
}

function requireServiceAccount(field: string, email: string): string {
  if (!SERVICE_ACCOUNT_EMAIL.test(email)) {
    invalid(field, `"${email}" is not a user-managed service account email (<account-id>@<project-id>.iam.gserviceaccount.com)`, 'lake@my-proj.iam.gserviceaccount.com');
  }
  return email;
}

function requireProjectId(field: string, id: string): string {
  if (!PROJECT_ID.test(id)) invalid(field, `"${id}" is not a project ID (6–30 lower-case letters, digits and hyphens, starting with a letter)`, 'my-proj');
  return id;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}

/** Terraform-friendly label of a component: `dag-processor` → `dag_processor`. */
function label(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, '_');
}

function lookupDescription(projectId: string, who: string): string {
  return `Project number of ${projectId} (${who}). Look it up with: gcloud projects describe ${projectId} --format='value(projectNumber)'`;
}

/**
 * Federates the cluster into `projectId` for `serviceAccountEmail`: pool per cluster, provider per
 * Deployment (or the shared wildcard provider), and workloadIdentityUser for each component subject
 * (or the whole pool).
 */
function federate(
  input: SetupInput,
  o: { side: 'customer' | 'platform'; projectId: string; projectNumber: string | undefined; serviceAccountEmail: string; wildcard: boolean },
  placeholders: Placeholder[],
): GcpFederationPlan {
  const { cluster, deployment } = input;
  const numberVar = o.side === 'customer' ? 'PROJECT_NUMBER' : 'PLATFORM_PROJECT_NUMBER';
  const known = o.projectNumber !== undefined;
  const projectNumber = o.projectNumber ?? placeholder(numberVar);
  if (!known) placeholders.push({ name: numberVar, description: lookupDescription(o.projectId, o.side === 'customer' ? 'the service account\'s project' : 'the platform project; platform operator') });
  const poolId = poolIdForCluster(cluster.name);
  const providerId = o.wildcard ? WILDCARD_PROVIDER_ID : providerIdForNamespace(deployment.namespace);
  const pool = { projectNumber, poolId };
  const bindings: GcpBinding[] = o.wildcard
    ? [{ resource: 'serviceAccount', serviceAccountEmail: o.serviceAccountEmail, role: ROLES.workloadIdentityUser, member: poolMember(pool), label: 'cluster' }]
    : input.components.map((c) => ({
        resource: 'serviceAccount' as const,
        serviceAccountEmail: o.serviceAccountEmail,
        role: ROLES.workloadIdentityUser,
        member: subjectMember(pool, c.subject),
        label: label(c.component),
      }));
  return {
    side: o.side,
    projectId: o.projectId,
    projectNumber,
    projectNumberPlaceholder: known ? undefined : numberVar,
    poolId,
    poolDisplayName: truncate(`Airlock ${cluster.name}`, 32),
    providerId,
    providerDisplayName: truncate(o.wildcard ? 'Airlock all namespaces' : `Airlock ${deployment.namespace}`, 32),
    sharedProvider: o.wildcard,
    issuerUri: cluster.oidcIssuerUrl,
    attributeMapping: { ...ATTRIBUTE_MAPPING },
    attributeCondition: o.wildcard ? clusterCondition() : namespaceCondition(deployment.namespace),
    audience: providerAudience({ ...pool, providerId }),
    serviceAccountEmail: o.serviceAccountEmail,
    bindings,
  };
}

function secretsBackendKwargs(projectId: string, auth: Record<string, unknown>): string {
  // JSON.stringify, not a template: the value must stay valid JSON whatever it holds (the product
  // guide's own command lacks the quoting and breaks in a shell).
  return JSON.stringify({ connections_prefix: 'airflow-connections', variables_prefix: 'airflow-variables', project_id: projectId, ...auth });
}

/**
 * Plans a Deployment's GCP setup. Pure and deterministic. Throws `AppError` with
 * `ERR_RULE_VIOLATION` for a non-GCP identity or a subject longer than Google allows, and
 * `ERR_VALIDATION` for malformed emails, project IDs, numbers or roles.
 */
export function planGcpSetup(input: SetupInput): GcpSetupPlan {
  const { identity } = input;
  if (identity.identity.cloud !== 'gcp') {
    throw new AppError('ERR_RULE_VIOLATION', `cloud(gcp): the Deployment's ${identity.mode} identity is a ${identity.identity.cloud} identity; GCP setup needs a Google service account`, {
      field: 'identity',
    });
  }
  for (const c of input.components) {
    const bytes = Buffer.byteLength(c.subject, 'utf8');
    if (bytes > MAX_SUBJECT_BYTES) {
      throw new AppError(
        'ERR_RULE_VIOLATION',
        `cloud(gcp): subject ${c.subject} is ${bytes} bytes; Google refuses a google.subject longer than ${MAX_SUBJECT_BYTES} bytes, so namespace "${input.deployment.namespace}" is too long for GCP`,
        { field: 'deployment.namespace' },
      );
    }
  }
  const placeholders: Placeholder[] = [];
  const notes: string[] = [];
  if (!input.cluster.oidcIssuerUrl.startsWith('https://')) {
    notes.push(`The issuer ${input.cluster.oidcIssuerUrl} is not https://. Google only federates https issuers reachable from the internet; this setup works only against the local sandbox.`);
  }

  if (identity.mode === 'customer-managed') {
    const id = identity.identity as Extract<typeof identity.identity, { cloud: 'gcp' }>;
    const email = requireServiceAccount('identity.serviceAccountEmail', id.serviceAccountEmail);
    const projectId = projectIdOfServiceAccount(email)!;
    if (id.projectNumber !== undefined && !PROJECT_NUMBER.test(id.projectNumber)) {
      invalid('identity.projectNumber', `"${id.projectNumber}" is not a project number (digits; the project ID does not work here)`, '123456789012');
    }
    const federation = federate(input, { side: 'customer', projectId, projectNumber: id.projectNumber, serviceAccountEmail: email, wildcard: input.wildcard }, placeholders);
    const credentialConfig = buildCredentialConfig({ audience: federation.audience, serviceAccountEmail: email });
    notes.push(
      `Pool ${federation.poolId} stands for cluster ${input.cluster.name} in ${projectId}: every Deployment of that cluster shares it, and the commands create it only when it is missing.`,
      input.wildcard
        ? `Wildcard: every service account of cluster ${input.cluster.name} may act as ${email}, through the shared provider ${WILDCARD_PROVIDER_ID}. Use it only on dedicated clusters.`
        : `Provider ${federation.providerId} admits only namespace ${input.deployment.namespace}; ${email} trusts exactly the ${input.components.length} component subjects.`,
      'The connection embeds the credential configuration (credential_config_file accepts the file\'s content); apache-airflow-providers-google >= 10.8.0 is recommended.',
    );
    return {
      route: 'attach',
      mode: 'customer-managed',
      federation,
      grants: [],
      members: federation.bindings.map((b) => b.member),
      credentialConfig,
      connection: { conn_type: CONN_TYPE, extra: { credential_config_file: credentialConfig, project: projectId } },
      environment: { AIRFLOW__SECRETS__BACKEND_KWARGS: secretsBackendKwargs(projectId, { gcp_credential_config_file: credentialConfig }) },
      secretsProject: projectId,
      placeholders,
      notes,
    };
  }

  // Default identity: a platform service account, federated by the platform operator.
  const def = identity.identity as Extract<typeof identity.identity, { cloud: 'gcp' }>;
  const platformEmail = requireServiceAccount('identity.serviceAccountEmail', def.serviceAccountEmail);
  const platformProject = requireProjectId('identity.projectId', def.projectId);
  if (projectIdOfServiceAccount(platformEmail) !== platformProject || !platformEmail.startsWith(`${def.accountId}@`)) {
    invalid('identity.serviceAccountEmail', `"${platformEmail}" is not account ${def.accountId} of project ${platformProject}`, `${def.accountId}@${platformProject}.iam.gserviceaccount.com`);
  }
  // The default identity belongs to one Deployment, so it always trusts the exact subjects.
  const federation = federate(input, { side: 'platform', projectId: platformProject, projectNumber: def.projectNumber, serviceAccountEmail: platformEmail, wildcard: false }, placeholders);
  federation.createServiceAccount = { projectId: platformProject, accountId: def.accountId, displayName: truncate(`Airlock ${input.deployment.namespace}`, 100) };
  const credentialConfig = buildCredentialConfig({ audience: federation.audience, serviceAccountEmail: platformEmail });
  const member = serviceAccountMember(platformEmail);
  notes.push(
    `The Deployment's default identity is ${platformEmail}. The platform operator federates it (steps marked "Platform operator"); its credential configuration reaches the Deployment's pods through GOOGLE_APPLICATION_CREDENTIALS, so the connection needs no key.`,
  );
  if (input.wildcard) notes.push('Wildcard trust applies to customer-managed service accounts only; a default identity always trusts its own Deployment\'s subjects.');

  // A target service account without an explicit route can only mean impersonation.
  const route: GcpRoute = input.target?.gcpRoute ?? (input.target?.gcpServiceAccount !== undefined ? 'impersonation' : 'direct-grant');
  if (route === 'impersonation') {
    let target = input.target?.gcpServiceAccount;
    if (target === undefined) {
      target = placeholder('TARGET_SERVICE_ACCOUNT');
      placeholders.push({ name: 'TARGET_SERVICE_ACCOUNT', description: 'Email of the service account the Deployment impersonates (pass --target-service-account), e.g. lake-reader@my-proj.iam.gserviceaccount.com.' });
    } else {
      requireServiceAccount('target.gcpServiceAccount', target);
    }
    // The project for Secret Manager and the connection: --project, else the target's own project.
    if (input.target?.gcpProjectId !== undefined) requireProjectId('target.gcpProjectId', input.target.gcpProjectId);
    let secretsProject = input.target?.gcpProjectId ?? (input.target?.gcpServiceAccount ? projectIdOfServiceAccount(input.target.gcpServiceAccount) : undefined);
    if (secretsProject === undefined) {
      secretsProject = placeholder('SECRET_MANAGER_PROJECT');
      placeholders.push({ name: 'SECRET_MANAGER_PROJECT', description: 'Project ID whose Secret Manager holds the Airflow connections and variables (pass --project).' });
    }
    notes.push(
      `Impersonation: ${platformEmail} needs roles/iam.serviceAccountTokenCreator on ${target}; the connection's impersonation_chain then makes every hook act as ${target}.`,
      'impersonation_chain in the connection requires apache-airflow-providers-google >= 10.8.0. An operator\'s own impersonation_chain argument takes precedence over the connection.',
    );
    const extra: Record<string, unknown> = { impersonation_chain: target };
    if (input.target?.gcpProjectId !== undefined || input.target?.gcpServiceAccount !== undefined) extra.project = secretsProject;
    return {
      route,
      mode: 'default',
      federation,
      grants: [{ resource: 'serviceAccount', serviceAccountEmail: target, role: ROLES.tokenCreator, member, label: 'token_creator' }],
      members: [member],
      credentialConfig,
      connection: { conn_type: CONN_TYPE, extra },
      environment: { AIRFLOW__SECRETS__BACKEND_KWARGS: secretsBackendKwargs(secretsProject, { impersonation_chain: target }) },
      secretsProject,
      targetServiceAccount: target,
      placeholders,
      notes,
    };
  }

  let projectId = input.target?.gcpProjectId;
  if (projectId === undefined) {
    projectId = placeholder('GOOGLE_CLOUD_PROJECT');
    placeholders.push({ name: 'GOOGLE_CLOUD_PROJECT', description: 'Project ID where the Deployment\'s services run and the role is granted (pass --project).' });
  } else {
    requireProjectId('target.gcpProjectId', projectId);
  }
  const role = input.target?.gcpRole ?? ROLES.defaultDirectGrant;
  if (!ROLE.test(role)) invalid('target.gcpRole', `"${role}" is not a role (roles/<name>, projects/<id>/roles/<name> or organizations/<n>/roles/<name>)`, 'roles/bigquery.dataViewer');
  notes.push(`Direct grant: ${platformEmail} holds ${role} on ${projectId}. Prefer a narrower role than roles/viewer where one fits.`);
  return {
    route: 'direct-grant',
    mode: 'default',
    federation,
    grants: [{ resource: 'project', projectId, role, member, label: 'direct_grant' }],
    members: [member],
    credentialConfig,
    connection: { conn_type: CONN_TYPE, extra: { project: projectId } },
    directGrant: { projectId, role },
    placeholders,
    notes,
  };
}
