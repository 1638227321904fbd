/**
 * Azure setup for a Deployment's workload identity: federated identity credentials on the
 * customer's user-assigned managed identity, one per Airflow component, so that each component's
 * service-account token (issued by the cluster's Airlock issuer) can be exchanged at Microsoft
 * Entra ID for tokens of that identity. Customer-managed only: the product guide has no default
 * identity on Azure.
 *
 * Entra matches a federated credential by issuer, subject and audience, each compared EXACTLY. A
 * managed identity holds at most 20 credentials, so with six components one identity can serve at
 * most three Deployments (the product guide says four, counting five components; Airlock also
 * trusts the KubernetesPodOperator's service account).
 *
 * Pure function of {@link SetupInput}; deterministic output for the golden files.
 */
import { createHash } from 'node:crypto';
import { WILDCARD_SUBJECT } from '../../deployments/components.ts';
import { AppError } from '../../errors/index.ts';
import { HCL_BLANK, hclAttribute, hclBlock, hclComment, hclIdentifier, renderHcl, type HclBody } from '../hcl.ts';
import { shellArg as sh } from '../shell.ts';
import { AUDIENCE, type CloudDelivery, type CloudProvider, type Placeholder, type SetupInput, type SetupResult } from '../types.ts';

/** Where Airlock writes each component's Entra-audience token. */
export const AZURE_TOKEN_FILE = '/var/run/secrets/airlock/tokens/azure/token';

/** Microsoft Entra ID in the Azure public cloud, as the AKS workload identity webhook sets it. */
export const AZURE_AUTHORITY_HOST = 'https://login.microsoftonline.com/';

/** The Airflow connection id the generated command creates (AzureBaseHook's default). */
export const AZURE_CONNECTION_ID = 'azure_default';

/** Entra's documented limit of federated identity credentials per managed identity (or app). */
export const MAX_FEDERATED_CREDENTIALS = 20;

/**
 * Federated credential names (Microsoft.ManagedIdentity API): 3-120 characters, letters, digits,
 * `-` and `_`, starting with a letter or digit.
 */
export const FEDERATED_CREDENTIAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$/;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// User-assigned identity names: 3-128 of letters, digits, `-`, `_`, starting with a letter or digit.
const IDENTITY_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$/;
// Resource group names: 1-90 of letters, digits, `_`, `-`, `.`, `(`, `)`, not ending in `.`.
const RESOURCE_GROUP = /^[-\p{L}\p{N}_.()]{0,89}[-\p{L}\p{N}_()]$/u;

type AzureIdentity = Extract<SetupInput['identity']['identity'], { cloud: 'azure' }>;

/**
 * The name of one component's federated credential: `<namespace>-<component>`, which is valid as
 * it stands for every Kubernetes namespace (a DNS label). Anything else is made valid: characters
 * outside the allowed set become `-`, a name not starting with a letter or digit gets an `x`, and a
 * name over 120 characters is cut and ends in a hash of the full name, so names stay distinct.
 */
export function federatedCredentialName(namespace: string, component: string): string {
  const wanted = `${namespace}-${component}`;
  if (FEDERATED_CREDENTIAL_NAME.test(wanted)) return wanted;
  // Changed names end in a hash of the wanted one: two inputs may sanitise alike.
  let name = wanted.replace(/[^A-Za-z0-9_-]/g, '-');
  if (!/^[A-Za-z0-9]/.test(name)) name = `x${name}`;
  const hash = createHash('sha256').update(wanted).digest('hex').slice(0, 10);
  return `${name.slice(0, 120 - 11)}-${hash}`;
}

/** `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`. */
export function managedIdentityResourceId(identity: Pick<AzureIdentity, 'subscriptionId' | 'resourceGroup' | 'managedIdentityName'>): string {
  return `/subscriptions/${identity.subscriptionId}/resourceGroups/${identity.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identity.managedIdentityName}`;
}

function invalid(field: string, message: string, example?: string): never {
  throw new AppError('ERR_VALIDATION', `cloud(azure): ${message}`, { field, ...(example ? { example } : {}) });
}

function validateIdentity(identity: AzureIdentity): void {
  if (!IDENTITY_NAME.test(identity.managedIdentityName)) {
    invalid('identity.managedIdentityName', `${JSON.stringify(identity.managedIdentityName)} is not a user-assigned managed identity name (3-128 letters, digits, - and _, starting with a letter or digit)`, 'airflow-etl');
  }
  if (!RESOURCE_GROUP.test(identity.resourceGroup)) {
    invalid('identity.resourceGroup', `${JSON.stringify(identity.resourceGroup)} is not a resource group name (1-90 letters, digits, _ - . ( ), not ending in .)`, 'rg-data');
  }
  for (const field of ['subscriptionId', 'clientId', 'tenantId'] as const) {
    if (!GUID.test(identity[field])) invalid(`identity.${field}`, `${field} ${JSON.stringify(identity[field])} is not a GUID`, '00000000-0000-0000-0000-000000000000');
  }
}

function validateIssuer(issuer: string): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return invalid('cluster.oidcIssuerUrl', `the cluster issuer ${JSON.stringify(issuer)} is not a URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
    invalid('cluster.oidcIssuerUrl', `the cluster issuer ${JSON.stringify(issuer)} must be an http(s) URL without credentials, query or fragment`);
  }
  return url;
}

interface AzurePlan {
  input: SetupInput;
  identity: AzureIdentity;
  issuer: URL;
  credentials: { component: string; name: string; issuer: string; subject: string; audiences: string[] }[];
}

function plan(input: SetupInput): AzurePlan {
  const { identity } = input.identity;
  if (identity.cloud !== 'azure' || input.identity.mode !== 'customer-managed') {
    throw new Error(`cloud(azure): setup called with a ${input.identity.mode} ${identity.cloud} identity`);
  }
  if (input.components.length === 0) throw new Error('cloud(azure): a Deployment without components has nothing to trust');
  if (input.wildcard && input.cluster.type !== 'dedicated') {
    throw new AppError('ERR_RULE_VIOLATION', `cloud(azure): wildcard trust (${WILDCARD_SUBJECT}) is only allowed on dedicated clusters; cluster ${input.cluster.name} is ${input.cluster.type}`, { field: 'wildcard' });
  }
  validateIdentity(identity);
  const issuer = validateIssuer(input.cluster.oidcIssuerUrl);
  const credentials = input.components.map((c) => ({
    component: c.component,
    name: federatedCredentialName(input.deployment.namespace, c.component),
    // Entra compares the issuer with the token's `iss` character for character: never normalise it.
    issuer: input.cluster.oidcIssuerUrl,
    subject: c.subject,
    audiences: [AUDIENCE.azure],
  }));
  if (new Set(credentials.map((c) => c.name)).size !== credentials.length) throw new Error('cloud(azure): federated credential names collide');
  return { input, identity, issuer, credentials };
}

const ROLE_PLACEHOLDERS: Placeholder[] = [
  { name: 'AZURE_ROLE', description: 'The Azure role the Deployment needs, e.g. "Storage Blob Data Reader". Export it (export AZURE_ROLE=…) or replace it.' },
  { name: 'AZURE_SCOPE', description: 'The resource id to grant it on, e.g. /subscriptions/…/resourceGroups/…/providers/Microsoft.Storage/storageAccounts/…' },
];

function notes(p: AzurePlan): string[] {
  const { input, issuer } = p;
  const n = p.credentials.length;
  const perIdentity = Math.floor(MAX_FEDERATED_CREDENTIALS / n);
  const out: string[] = [];
  if (input.wildcard) {
    out.push(
      `No wildcard on Azure: Entra matches a federated credential's issuer, subject and audience exactly, so ${WILDCARD_SUBJECT} would match only a token whose sub is literally that string. ` +
        "The exact subjects of this Deployment are listed instead; every new Deployment needs its own credentials. " +
        "Entra's flexible federated identity credentials (preview) do accept patterns (claimsMatchingExpression), but only for tokens issued by GitHub, GitLab and Terraform Cloud, so not for a Kubernetes cluster's issuer.",
    );
  }
  out.push(
    `A managed identity holds at most ${MAX_FEDERATED_CREDENTIALS} federated identity credentials. This Deployment needs ${n} (one per component), so ${p.identity.managedIdentityName} can serve at most ${perIdentity} Deployments; ` +
      'the product guide\'s "up to four" counted five components, before the KubernetesPodOperator\'s service account. Use another managed identity beyond that.',
    `Each credential's issuer must equal the tokens' iss claim character for character: ${input.cluster.oidcIssuerUrl} (no trailing slash). A mismatch of one character fails with AADSTS70021.`,
    issuer.protocol !== 'https:' || /^(127\.|localhost$|\[::1\]$)/.test(issuer.hostname)
      ? `Microsoft Entra ID will not accept ${input.cluster.oidcIssuerUrl}: it fetches <issuer>/.well-known/openid-configuration and the JWKS over https from the internet when it checks a token. This issuer works with Airlock's Azure emulator only; serve the cluster issuer at a public https URL for Azure.`
      : `Microsoft Entra ID fetches ${input.cluster.oidcIssuerUrl}/.well-known/openid-configuration and the JWKS over https when it checks a token: the issuer must stay reachable from Azure.`,
    'A new federated credential takes a few seconds to propagate; token requests made right after creating it can fail with AADSTS70021 and succeed when retried.',
    `AZURE_AUTHORITY_HOST is the Azure public cloud's (${AZURE_AUTHORITY_HOST}); for Azure Government use https://login.microsoftonline.us/, for Azure operated by 21Vianet https://login.chinacloudapi.cn/.`,
  );
  return out;
}

function setup(input: SetupInput): SetupResult {
  const p = plan(input);
  const { identity } = p;
  const conn: SetupResult['connection'] = {
    conn_type: 'azure',
    // Keys read by apache-airflow-providers-microsoft-azure (AzureBaseHook.get_credential and the
    // WASB, ADLS, Data Factory, ... hooks): with no login/secret they build a DefaultAzureCredential
    // from managed_identity_client_id (also its workload-identity client id) and
    // workload_identity_tenant_id. subscriptionId is AzureBaseHook's own field.
    extra: {
      managed_identity_client_id: identity.clientId,
      workload_identity_tenant_id: identity.tenantId,
      subscriptionId: identity.subscriptionId,
    },
  };
  const credentialCommands = p.credentials.map(
    (c) =>
      `az identity federated-credential create --name ${sh(c.name)} --identity-name ${sh(identity.managedIdentityName)} --resource-group ${sh(identity.resourceGroup)} ` +
      `--subscription ${sh(identity.subscriptionId)} --issuer ${sh(c.issuer)} --subject ${sh(c.subject)} --audiences ${sh(AUDIENCE.azure)}`,
  );
  return {
    cloud: 'azure',
    mode: 'customer-managed',
    issuerUrl: input.cluster.oidcIssuerUrl,
    audience: AUDIENCE.azure,
    subjects: p.credentials.map((c) => c.subject),
    steps: [
      {
        title: `Trust each component's service account on managed identity ${identity.managedIdentityName}`,
        description:
          `One federated identity credential per component (${p.credentials.length}), each for one exact subject. ` +
          'Run the commands one after another: Azure refuses concurrent federated-credential writes on one identity.',
        commands: credentialCommands,
      },
      {
        title: 'Grant the managed identity access to your resources',
        description: `Skip this if ${identity.managedIdentityName} already has the access the Deployment needs. Role assignments can take a few minutes to apply.`,
        commands: [`az role assignment create --assignee ${sh(identity.clientId)} --role "\${AZURE_ROLE}" --scope "\${AZURE_SCOPE}"`],
      },
      {
        title: 'Create the Airflow connection',
        description:
          `An "Azure" connection with this Extra (the Managed Identity fields of the Airflow UI), created here with the Airflow CLI inside the Deployment. ` +
          `The wasb, adls and other Azure connection types read the same two identity keys, next to their own (such as the storage account). The JSON also works as the environment variable AIRFLOW_CONN_${AZURE_CONNECTION_ID.toUpperCase()}.`,
        commands: [`airflow connections add ${AZURE_CONNECTION_ID} --conn-json ${sh(JSON.stringify(conn))}`],
      },
    ],
    azure: { federatedCredentials: p.credentials.map(({ name, issuer, subject, audiences }) => ({ name, issuer, subject, audiences: [...audiences] })) },
    connection: conn,
    // What the Azure SDKs' WorkloadIdentityCredential reads. Python's DefaultAzureCredential only
    // tries workload identity when AZURE_AUTHORITY_HOST, AZURE_TENANT_ID and
    // AZURE_FEDERATED_TOKEN_FILE are all set.
    environment: {
      AZURE_CLIENT_ID: identity.clientId,
      AZURE_TENANT_ID: identity.tenantId,
      AZURE_FEDERATED_TOKEN_FILE: AZURE_TOKEN_FILE,
      AZURE_AUTHORITY_HOST,
    },
    placeholders: ROLE_PLACEHOLDERS.map((x) => ({ ...x })),
    notes: notes(p),
  };
}

function terraform(input: SetupInput): string {
  const p = plan(input);
  const { identity } = p;
  const parentId = managedIdentityResourceId(identity);
  const body: HclBody = [
    hclComment(
      `Airlock workload identity for Deployment ${input.deployment.name} (namespace ${input.deployment.namespace}) on cluster ${input.cluster.name}.\n` +
        `Generated by Airlock (npx airlock deployment identity setup ${input.deployment.name} --format terraform). Regenerate rather than edit.\n` +
        `One federated identity credential per component on managed identity ${identity.managedIdentityName} (at most ${MAX_FEDERATED_CREDENTIALS} per identity).\n` +
        'azurerm serialises writes per identity (Azure refuses concurrent federated-credential writes on one identity).\n' +
        'Newer azurerm 4.x releases deprecate resource_group_name here (parent_id already names the group); it is kept for older ones.' +
        (p.issuer.protocol === 'https:' ? '' : `\nAzure accepts only https issuers: ${input.cluster.oidcIssuerUrl} works with the Airlock Azure emulator only.`),
    ),
  ];
  for (const c of p.credentials) {
    body.push(
      HCL_BLANK,
      hclBlock('resource', ['azurerm_federated_identity_credential', hclIdentifier(`${input.deployment.namespace}_${c.component}`)], [
        hclAttribute('name', c.name),
        hclAttribute('resource_group_name', identity.resourceGroup),
        hclAttribute('audience', c.audiences),
        hclAttribute('issuer', c.issuer),
        hclAttribute('parent_id', parentId),
        hclAttribute('subject', c.subject),
      ]),
    );
  }
  return renderHcl(body);
}

/** The Azure implementation of {@link CloudProvider}. */
/** The managed identity's coordinates as the Azure SDKs' WorkloadIdentityCredential reads them. */
function delivery(input: SetupInput): CloudDelivery {
  const { identity } = plan({ ...input, wildcard: false });
  return { cloud: 'azure', audience: AUDIENCE.azure, acceptedAudiences: [AUDIENCE.azure], clientId: identity.clientId, tenantId: identity.tenantId, authorityHost: AZURE_AUTHORITY_HOST };
}

export const azureProvider: CloudProvider = { cloud: 'azure', setup, terraform, delivery };
