/**
 * What a process needs in its environment and on disk to use a workload profile with the clouds'
 * own SDKs and no code of ours: pure, so `airlock exec`, `airlock agent` and the webhook's tests
 * share one answer.
 *
 * Files under `dir`:
 *   tokens/<cloud>/token           the token for that cloud's audience (mode 0600)
 *   tokens/custom/<n>/token        one per extra audience asked for
 *   gcp/credential-config.json     Google's external_account configuration pointing at the GCP token
 */
import { join } from 'node:path';
import { roleSessionName } from '../cloud/aws/setup.ts';
import type { CloudDeliveryWire, WorkloadProfile } from './profile.ts';

/**
 * The token directory inside a pod, and `airlock agent`'s default: the generated setup (connection
 * extras, GCP credential configs) names files under it, so the two must agree (a test checks).
 */
export const DEFAULT_TOKEN_DIR = '/var/run/secrets/airlock';

/** Where `airlock exec --sandbox` reaches the emulators (from the sandbox's `GET /_sandbox/info`). */
export interface SandboxEndpoints {
  /** AWS STS query API (http). */
  awsUrl: string;
  /** GCP STS and IAM Credentials (http): `<gcpUrl>/v1/token`, `<gcpUrl>/v1/projects/-/serviceAccounts/…`. */
  gcpUrl: string;
  /** The Azure authority host (https, sandbox CA). */
  azureUrl: string;
  /** PEM file of the sandbox CA, for NODE_EXTRA_CA_CERTS / REQUESTS_CA_BUNDLE. */
  caFile: string;
  /**
   * The sandbox's CONNECT proxy (http://127.0.0.1:<port>): it routes login.microsoftonline.com (MSAL's
   * instance discovery) and Google's STS, IAM Credentials and Cloud Resource Manager hosts to the
   * emulators, and refuses every other host.
   */
  proxyUrl?: string | undefined;
}

export interface DeliveryPlanOptions {
  /** Directory the token files live in. */
  dir: string;
  /** Extra audiences to keep a token for (each must be in `profile.audiences`). */
  extraAudiences?: readonly string[];
  sandbox?: SandboxEndpoints | undefined;
}

export interface TokenFile {
  audience: string;
  path: string;
  cloud?: CloudDeliveryWire['cloud'];
}

export interface DeliveryPlan {
  /** Variables to set in the child's environment. */
  env: Record<string, string>;
  /**
   * Variables to remove from the inherited environment because they would take precedence over
   * the delivered identity (static AWS keys, an AWS profile, a GCP key file, an Azure secret).
   */
  unset: string[];
  /** One token per distinct audience, refreshed by the agent. */
  tokens: TokenFile[];
  /** Static files written once (mode 0600) before the child starts. */
  files: { path: string; content: string }[];
}

const GCP_STS_HOST = 'https://sts.googleapis.com';
const GCP_IAM_CREDENTIALS_HOST = 'https://iamcredentials.googleapis.com';

/** The plan for one profile. Throws on an extra audience the profile does not allow. */
export function planDelivery(profile: WorkloadProfile, o: DeliveryPlanOptions): DeliveryPlan {
  const env: Record<string, string> = {};
  const unset = new Set<string>();
  const tokens: TokenFile[] = [];
  const files: DeliveryPlan['files'] = [];
  const byAudience = new Map<string, TokenFile>();
  const tokenFor = (audience: string, path: string, cloud?: CloudDeliveryWire['cloud']): string => {
    const existing = byAudience.get(audience);
    if (existing) return existing.path;
    const t: TokenFile = cloud ? { audience, path, cloud } : { audience, path };
    byAudience.set(audience, t);
    tokens.push(t);
    return path;
  };

  for (const c of profile.clouds) {
    const tokenPath = tokenFor(c.audience, join(o.dir, 'tokens', c.cloud, 'token'), c.cloud);
    if (c.cloud === 'aws') {
      env.AWS_ROLE_ARN = c.roleArn;
      env.AWS_WEB_IDENTITY_TOKEN_FILE = tokenPath;
      env.AWS_ROLE_SESSION_NAME = roleSessionName(profile.deployment.name, profile.component);
      if (c.region) {
        env.AWS_REGION = c.region;
        env.AWS_DEFAULT_REGION = c.region;
      }
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE']) unset.add(k);
      if (o.sandbox) {
        env.AWS_ENDPOINT_URL_STS = o.sandbox.awsUrl;
        env.AWS_REGION ??= 'us-east-1';
        env.AWS_DEFAULT_REGION ??= env.AWS_REGION;
      }
    } else if (c.cloud === 'gcp') {
      const configPath = join(o.dir, 'gcp', 'credential-config.json');
      const config: Record<string, unknown> = { ...c.credentialConfig, credential_source: { file: tokenPath, format: { type: 'text' } } };
      if (o.sandbox) rewriteGcpUrls(config, o.sandbox.gcpUrl);
      files.push({ path: configPath, content: JSON.stringify(config, null, 2) + '\n' });
      env.GOOGLE_APPLICATION_CREDENTIALS = configPath;
      if (c.projectId) {
        env.GOOGLE_CLOUD_PROJECT = c.projectId;
        env.CLOUDSDK_CORE_PROJECT = c.projectId;
      }
    } else {
      env.AZURE_CLIENT_ID = c.clientId;
      env.AZURE_TENANT_ID = c.tenantId;
      env.AZURE_FEDERATED_TOKEN_FILE = tokenPath;
      env.AZURE_AUTHORITY_HOST = o.sandbox ? o.sandbox.azureUrl : c.authorityHost;
      for (const k of ['AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_USERNAME', 'AZURE_PASSWORD']) unset.add(k);
    }
  }
  let n = 0;
  for (const audience of o.extraAudiences ?? []) {
    if (!profile.audiences.includes(audience)) {
      throw new Error(`audience ${JSON.stringify(audience)} is not one this workload may ask for; allowed: ${profile.audiences.join(', ')}`);
    }
    if (!byAudience.has(audience)) tokenFor(audience, join(o.dir, 'tokens', 'custom', String(n++), 'token'));
  }
  if (o.sandbox) {
    env.NODE_EXTRA_CA_CERTS = o.sandbox.caFile;
    env.REQUESTS_CA_BUNDLE = o.sandbox.caFile;
    env.SSL_CERT_FILE = o.sandbox.caFile;
    // MSAL's instance discovery and Google's IAM Credentials / Cloud Resource Manager calls go to
    // fixed hosts; the sandbox's proxy tunnels exactly those to its emulators. AWS SDKs need none.
    if (o.sandbox.proxyUrl && profile.clouds.some((c) => c.cloud === 'azure' || c.cloud === 'gcp')) {
      env.HTTPS_PROXY = o.sandbox.proxyUrl;
      env.https_proxy = o.sandbox.proxyUrl;
      env.NO_PROXY = '127.0.0.1,localhost,::1';
      env.no_proxy = env.NO_PROXY;
    }
  }
  env.AIRLOCK_TOKEN_DIR = o.dir;
  for (const k of Object.keys(env)) unset.delete(k);
  return { env, unset: [...unset].sort(), tokens, files };
}

/** STS RoleSessionName: 2–64 characters of `[\w+=,.@-]`. */
function rewriteGcpUrls(config: Record<string, unknown>, gcpUrl: string): void {
  const base = gcpUrl.replace(/\/+$/, '');
  for (const key of ['token_url', 'service_account_impersonation_url', 'token_info_url']) {
    const v = config[key];
    if (typeof v !== 'string') continue;
    config[key] = v.replace(GCP_STS_HOST, base).replace(GCP_IAM_CREDENTIALS_HOST, base);
  }
}
