/**
 * GCP's {@link CloudProvider}: a Deployment's workload identity setup as gcloud commands, JSON
 * artifacts and Terraform. Everything is rendered from one {@link GcpSetupPlan}, so the commands,
 * `gcp.members`, the credential configuration and the Terraform always agree.
 */
import { AppError } from '../../errors/index.ts';
import type { CloudDelivery, CloudProvider, SetupInput, SetupResult, SetupStep } from '../types.ts';
import { attributeMappingFlag } from './attributes.ts';
import { GCP_TOKEN_PATH } from './credential-config.ts';
import { providerResourceName } from './names.ts';
import { GCP_PLACEHOLDERS, planGcpSetup, SECRETS_BACKEND, type GcpBinding, type GcpFederationPlan, type GcpSetupPlan } from './plan.ts';
import { quoteWord, renderCommand, shellVar, type Word } from '../shell.ts';
import { renderGcpTerraform } from './terraform.ts';

/** The connection ID every Google hook and operator uses by default. */
export const DEFAULT_CONN_ID = 'google_cloud_default';
/** Filename of the credential configuration document. */
export const CREDENTIAL_CONFIG_FILENAME = 'gcp-credential-config.json';

const PLACEHOLDER_TEXT = new RegExp(`\\$\\{(${GCP_PLACEHOLDERS.join('|')})\\}`, 'g');

/**
 * A word from a value that may hold `${PLACEHOLDER}` text: the placeholders become shell
 * variables, everything else stays literal. Only Airlock's own placeholder names are recognised,
 * so a value that merely contains `${…}` is still quoted as literal text.
 */
function w(...pieces: string[]): Word {
  const text = pieces.join('');
  const parts: (string | ReturnType<typeof shellVar>)[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER_TEXT)) {
    parts.push(text.slice(last, m.index));
    parts.push(shellVar(m[1]!));
    last = m.index! + m[0].length;
  }
  parts.push(text.slice(last));
  return parts.length === 1 ? text : parts;
}

/** `describe … >/dev/null 2>&1 || create …`: creates a shared resource only when it is missing. */
function ensure(describe: Word[], create: Word[]): string {
  return `${renderCommand(describe)} >/dev/null 2>&1 || ${renderCommand(create, { multiline: true })}`;
}

function bindingCommand(b: GcpBinding): string {
  return b.resource === 'serviceAccount'
    ? renderCommand(['gcloud', 'iam', 'service-accounts', 'add-iam-policy-binding', w(b.serviceAccountEmail), w('--member=', b.member), `--role=${b.role}`], { multiline: true })
    : renderCommand(['gcloud', 'projects', 'add-iam-policy-binding', w(b.projectId), w('--member=', b.member), `--role=${b.role}`], { multiline: true });
}

function federationSteps(f: GcpFederationPlan, input: SetupInput): SetupStep[] {
  const who = f.side === 'platform' ? 'Platform operator: ' : '';
  const steps: SetupStep[] = [];
  const project = `--project=${f.projectId}`;
  if (f.projectNumberPlaceholder) {
    steps.push({
      title: `${who}Look up the project number of ${f.projectId}`,
      description: `Workload identity names use the project number, not its ID. The later commands read it from $${f.projectNumberPlaceholder}; run them in the same shell.`,
      commands: [`${f.projectNumberPlaceholder}="$(${renderCommand(['gcloud', 'projects', 'describe', f.projectId, '--format=value(projectNumber)'])})"`],
    });
  }
  steps.push({
    title: `${who}Create workload identity pool ${f.poolId} for cluster ${input.cluster.name}`,
    description: `One pool per cluster and project; every Deployment of cluster ${input.cluster.name} shares it, so the command creates it only when it is missing.`,
    commands: [
      ensure(
        ['gcloud', 'iam', 'workload-identity-pools', 'describe', f.poolId, project, '--location=global'],
        ['gcloud', 'iam', 'workload-identity-pools', 'create', f.poolId, project, '--location=global', `--display-name=${f.poolDisplayName}`],
      ),
    ],
  });
  steps.push({
    title: f.sharedProvider
      ? `${who}Create the cluster-wide OIDC provider ${f.providerId}`
      : `${who}Create OIDC provider ${f.providerId} for namespace ${input.deployment.namespace}`,
    description: f.sharedProvider
      ? `Trusts tokens from ${f.issuerUri} for every Kubernetes service account of the cluster; wildcard Deployments of this cluster share it.`
      : `Trusts tokens from ${f.issuerUri} only when they belong to namespace ${input.deployment.namespace}. Tokens must carry the audience ${f.audience}.`,
    commands: [
      ensure(
        ['gcloud', 'iam', 'workload-identity-pools', 'providers', 'describe', f.providerId, project, '--location=global', `--workload-identity-pool=${f.poolId}`],
        [
          'gcloud',
          'iam',
          'workload-identity-pools',
          'providers',
          'create-oidc',
          f.providerId,
          project,
          '--location=global',
          `--workload-identity-pool=${f.poolId}`,
          `--display-name=${f.providerDisplayName}`,
          `--issuer-uri=${f.issuerUri}`,
          `--attribute-mapping=${attributeMappingFlag(f.attributeMapping)}`,
          `--attribute-condition=${f.attributeCondition}`,
        ],
      ),
    ],
  });
  if (f.createServiceAccount) {
    const sa = f.createServiceAccount;
    steps.push({
      title: `${who}Create the default identity ${f.serviceAccountEmail}`,
      commands: [
        ensure(
          ['gcloud', 'iam', 'service-accounts', 'describe', f.serviceAccountEmail, `--project=${sa.projectId}`],
          ['gcloud', 'iam', 'service-accounts', 'create', sa.accountId, `--project=${sa.projectId}`, `--display-name=${sa.displayName}`],
        ),
      ],
    });
  }
  steps.push({
    title: `${who}Let the Deployment's components act as ${f.serviceAccountEmail}`,
    description: f.sharedProvider
      ? `Grants roles/iam.workloadIdentityUser to every identity of pool ${f.poolId}, i.e. every service account of cluster ${input.cluster.name}.`
      : `Grants roles/iam.workloadIdentityUser to each of the Deployment's ${f.bindings.length} component subjects, and to nothing else.`,
    commands: f.bindings.map(bindingCommand),
  });
  return steps;
}

function connectionStep(plan: GcpSetupPlan): SetupStep {
  const conn = { conn_type: plan.connection.conn_type, extra: plan.connection.extra };
  return {
    title: 'Create the Airflow connection',
    description:
      plan.route === 'attach'
        ? 'A "Google Cloud" connection whose Extra carries the credential configuration (credential_config_file, which takes the file\'s content) and the project, created here with the Airflow CLI inside the Deployment.'
        : plan.route === 'impersonation'
          ? 'A "Google Cloud" connection whose Impersonation Chain (impersonation_chain) is the target service account, created here with the Airflow CLI inside the Deployment. Requires apache-airflow-providers-google >= 10.8.0.'
          : 'A "Google Cloud" connection with only the Project Id, created here with the Airflow CLI inside the Deployment: it authenticates as the default identity through Application Default Credentials.',
    commands: [renderCommand(['airflow', 'connections', 'add', DEFAULT_CONN_ID, '--conn-json', w(JSON.stringify(conn))])],
  };
}

function secretsStep(plan: GcpSetupPlan): SetupStep | undefined {
  if (!plan.environment) return undefined;
  const who = plan.route === 'attach' ? plan.federation.serviceAccountEmail : plan.targetServiceAccount!;
  const env: [string, string][] = [['AIRFLOW__SECRETS__BACKEND', SECRETS_BACKEND], ...Object.entries(plan.environment)];
  return {
    title: 'Optional: read connections and variables from Secret Manager',
    description:
      `Set these in the Deployment's environment (shown here as shell) to use Google Secret Manager in ${plan.secretsProject}, as ${who}, which needs roles/secretmanager.secretAccessor there. ` +
      'The kwargs alone (setup\'s environment) change nothing until AIRFLOW__SECRETS__BACKEND names the backend.',
    commands: env.map(([k, v]) => `export ${k}=${quoteWord(w(v))}`),
  };
}

/** What to set for each placeholder that has no lookup command; shown by the shell if unset. */
const GUARD_HINTS: Partial<Record<string, string>> = {
  TARGET_SERVICE_ACCOUNT: 'set TARGET_SERVICE_ACCOUNT to the email of the service account to impersonate, or re-run setup with --target-service-account',
  GOOGLE_CLOUD_PROJECT: 'set GOOGLE_CLOUD_PROJECT to the project ID to grant the role in, or re-run setup with --project',
  SECRET_MANAGER_PROJECT: 'set SECRET_MANAGER_PROJECT to the project ID whose Secret Manager holds the secrets, or re-run setup with --project',
};

function steps(plan: GcpSetupPlan, input: SetupInput): SetupStep[] {
  const out = federationSteps(plan.federation, input);
  const unset = plan.placeholders.filter((p) => GUARD_HINTS[p.name] !== undefined);
  if (unset.length > 0) {
    out.push({
      title: `Set ${unset.map((p) => p.name).join(' and ')}`,
      description: `Setup did not know ${unset.map((p) => p.name).join(' or ')}; the commands below read them from the shell. Each line stops with a message if its variable is unset.`,
      // `:` does nothing; `${NAME:?message}` makes the shell fail loudly when NAME is unset or empty.
      commands: unset.map((p) => `: "\${${p.name}:?${GUARD_HINTS[p.name]}}"`),
    });
  }
  if (plan.route === 'attach') {
    const f = plan.federation;
    out.push({
      title: 'Keep the credential configuration',
      description: `Tells Google's client libraries to exchange the token at ${GCP_TOKEN_PATH} for ${f.serviceAccountEmail}. Airlock already puts it in the connection; gcloud writes the same file with the command below.`,
      commands: [
        renderCommand(
          [
            'gcloud',
            'iam',
            'workload-identity-pools',
            'create-cred-config',
            w(providerResourceName(f)),
            `--service-account=${f.serviceAccountEmail}`,
            `--credential-source-file=${GCP_TOKEN_PATH}`,
            '--credential-source-type=text',
            `--output-file=${CREDENTIAL_CONFIG_FILENAME}`,
          ],
          { multiline: true },
        ),
      ],
      document: { filename: CREDENTIAL_CONFIG_FILENAME, content: plan.credentialConfig },
    });
  } else if (plan.route === 'impersonation') {
    out.push({
      title: `Let the Deployment impersonate ${plan.targetServiceAccount}`,
      description: `Grants the Deployment's default identity roles/iam.serviceAccountTokenCreator on ${plan.targetServiceAccount}; nothing else changes on that service account.`,
      commands: plan.grants.map(bindingCommand),
    });
  } else {
    out.push({
      title: `Grant ${plan.directGrant!.role} to the Deployment on ${plan.directGrant!.projectId}`,
      description: "Grants the role to the Deployment's default identity directly; no service account of yours is involved.",
      commands: plan.grants.map(bindingCommand),
    });
  }
  out.push(connectionStep(plan));
  const secrets = secretsStep(plan);
  if (secrets) out.push(secrets);
  return out;
}

/** Renders a plan as the machine-readable setup. */
export function renderGcpSetup(plan: GcpSetupPlan, input: SetupInput): SetupResult {
  const f = plan.federation;
  const result: SetupResult = {
    cloud: 'gcp',
    mode: plan.mode,
    issuerUrl: input.cluster.oidcIssuerUrl,
    audience: f.audience,
    subjects: input.components.map((c) => c.subject),
    steps: steps(plan, input),
    gcp: {
      credentialConfig: { ...plan.credentialConfig },
      members: [...plan.members],
      route: plan.route,
      workloadIdentityPool: { projectId: f.projectId, projectNumber: f.projectNumber, poolId: f.poolId, providerId: f.providerId, resourceName: `projects/${f.projectNumber}/locations/global/workloadIdentityPools/${f.poolId}` },
    },
    connection: plan.connection,
    placeholders: plan.placeholders,
    notes: plan.notes,
  };
  if (plan.environment) result.environment = plan.environment;
  return result;
}

/**
 * GCP setup. `setup` and `terraform` are pure and deterministic: the same input always gives
 * byte-identical output (golden fixtures in test/fixtures/setup/gcp-* depend on it).
 *
 * `gcp.workloadIdentityPool` describes the federation that makes the Deployment its service
 * account: the customer's project for `attach`, the platform project for the default-identity
 * routes. `gcp.credentialConfig` is that federation's credential configuration.
 */
export const gcpProvider: CloudProvider = {
  cloud: 'gcp',
  setup(input: SetupInput): SetupResult {
    return renderGcpSetup(planGcpSetup(input), input);
  },
  terraform(input: SetupInput): string {
    return renderGcpTerraform(planGcpSetup(input), input);
  },
  delivery(input: SetupInput): CloudDelivery {
    // Delivery does not depend on which variant the user applied: plan both and accept either
    // provider's audience (the wildcard provider exists on dedicated clusters only).
    const plan = planGcpSetup({ ...input, wildcard: false });
    const f = plan.federation;
    if (f.projectNumberPlaceholder) {
      const how =
        f.side === 'customer'
          ? `airlock identity save --name <name> --gcp-service-account ${f.serviceAccountEmail} --gcp-project-number <number>, then use that saved identity`
          : `airlock cluster update ${input.cluster.name} --default-identity-project-number <number>`;
      throw new AppError(
        'ERR_RULE_VIOLATION',
        `cloud(gcp): the project number of ${f.projectId} is not known, and Google's token exchange needs it in the audience; set it with: ${how}`,
        { field: 'identity.projectNumber', example: '123456789012' },
      );
    }
    const accepted = [f.audience];
    if (input.cluster.type === 'dedicated') accepted.push(planGcpSetup({ ...input, wildcard: true }).federation.audience);
    const project = plan.connection.extra.project;
    return {
      cloud: 'gcp',
      audience: f.audience,
      acceptedAudiences: accepted,
      serviceAccountEmail: f.serviceAccountEmail,
      projectId: typeof project === 'string' && !project.includes('${') ? project : undefined,
      credentialConfig: { ...plan.credentialConfig },
    };
  },
};
