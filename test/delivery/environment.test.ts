import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AWS_TOKEN_FILE } from '../../src/cloud/aws/setup.ts';
import { AZURE_TOKEN_FILE } from '../../src/cloud/azure/setup.ts';
import { GCP_TOKEN_PATH } from '../../src/cloud/gcp/credential-config.ts';
import { DEFAULT_TOKEN_DIR, planDelivery } from '../../src/delivery/environment.ts';
import type { CloudDeliveryWire, WorkloadProfile } from '../../src/delivery/profile.ts';
import { SAMPLE_PROFILE } from '../helpers/fake-workload-server.ts';

const AWS = SAMPLE_PROFILE.clouds.find((c) => c.cloud === 'aws')!;
const AZURE = SAMPLE_PROFILE.clouds.find((c) => c.cloud === 'azure')!;
const GCP: CloudDeliveryWire = {
  cloud: 'gcp',
  audience: '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/airlock/providers/prod',
  acceptedAudiences: ['//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/airlock/providers/prod'],
  serviceAccountEmail: 'lake-reader@my-proj.iam.gserviceaccount.com',
  projectId: 'my-proj',
  credentialConfig: {
    type: 'external_account',
    audience: '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/airlock/providers/prod',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: 'https://sts.googleapis.com/v1/token',
    service_account_impersonation_url: 'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/lake-reader@my-proj.iam.gserviceaccount.com:generateAccessToken',
    credential_source: { file: '/somewhere/else', format: { type: 'text' } },
  },
};
const withClouds = (...clouds: CloudDeliveryWire[]): WorkloadProfile => ({ ...SAMPLE_PROFILE, clouds, audiences: [...clouds.map((c) => c.audience), ...SAMPLE_PROFILE.customAudiences] });
const SANDBOX = { awsUrl: 'http://127.0.0.1:9000', gcpUrl: 'http://127.0.0.1:9000', azureUrl: 'https://127.0.0.1:9001/', caFile: '/tmp/sandbox-ca.pem', proxyUrl: 'http://127.0.0.1:9000' };

describe('planDelivery', () => {
  const cases: { name: string; profile: WorkloadProfile; sandbox?: typeof SANDBOX; env: Record<string, string>; absent: string[]; unset: string[] }[] = [
    {
      name: 'AWS only: the web-identity variables, the region, nothing of the other clouds',
      profile: withClouds(AWS),
      env: {
        AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/etl-reader',
        AWS_WEB_IDENTITY_TOKEN_FILE: '/d/tokens/aws/token',
        AWS_ROLE_SESSION_NAME: 'etl-worker',
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
        AIRLOCK_TOKEN_DIR: '/d',
      },
      absent: ['GOOGLE_APPLICATION_CREDENTIALS', 'AZURE_CLIENT_ID', 'AWS_ENDPOINT_URL_STS', 'NODE_EXTRA_CA_CERTS', 'HTTPS_PROXY'],
      unset: ['AWS_ACCESS_KEY_ID', 'AWS_DEFAULT_PROFILE', 'AWS_PROFILE', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'],
    },
    {
      name: 'GCP only: the credential config and the project',
      profile: withClouds(GCP),
      env: { GOOGLE_APPLICATION_CREDENTIALS: '/d/gcp/credential-config.json', GOOGLE_CLOUD_PROJECT: 'my-proj', CLOUDSDK_CORE_PROJECT: 'my-proj' },
      absent: ['AWS_ROLE_ARN', 'AZURE_FEDERATED_TOKEN_FILE'],
      unset: [],
    },
    {
      name: 'Azure only: client, tenant, token file, authority',
      profile: withClouds(AZURE),
      env: {
        AZURE_CLIENT_ID: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
        AZURE_TENANT_ID: '99999999-8888-7777-6666-555555555555',
        AZURE_FEDERATED_TOKEN_FILE: '/d/tokens/azure/token',
        AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/',
      },
      absent: ['AWS_ROLE_ARN', 'GOOGLE_APPLICATION_CREDENTIALS', 'HTTPS_PROXY'],
      unset: ['AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_CLIENT_SECRET', 'AZURE_PASSWORD', 'AZURE_USERNAME'],
    },
    {
      name: 'sandbox: STS endpoint, the CA for every runtime, the proxy (Azure and GCP), the authority host',
      profile: withClouds(AWS, AZURE),
      sandbox: SANDBOX,
      env: {
        AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9000',
        AZURE_AUTHORITY_HOST: 'https://127.0.0.1:9001/',
        NODE_EXTRA_CA_CERTS: '/tmp/sandbox-ca.pem',
        REQUESTS_CA_BUNDLE: '/tmp/sandbox-ca.pem',
        SSL_CERT_FILE: '/tmp/sandbox-ca.pem',
        HTTPS_PROXY: 'http://127.0.0.1:9000',
        NO_PROXY: '127.0.0.1,localhost,::1',
      },
      absent: [],
      unset: ['AWS_ACCESS_KEY_ID', 'AWS_DEFAULT_PROFILE', 'AWS_PROFILE', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_CLIENT_SECRET', 'AZURE_PASSWORD', 'AZURE_USERNAME'],
    },
    {
      name: 'sandbox, GCP: the proxy, for IAM Credentials and Cloud Resource Manager at their fixed URLs',
      profile: withClouds(GCP),
      sandbox: SANDBOX,
      env: { GOOGLE_APPLICATION_CREDENTIALS: '/d/gcp/credential-config.json', REQUESTS_CA_BUNDLE: '/tmp/sandbox-ca.pem', HTTPS_PROXY: 'http://127.0.0.1:9000', https_proxy: 'http://127.0.0.1:9000', NO_PROXY: '127.0.0.1,localhost,::1' },
      absent: ['AWS_ENDPOINT_URL_STS', 'AZURE_AUTHORITY_HOST'],
      unset: [],
    },
    {
      name: 'sandbox, AWS only: no proxy (the SDKs take the STS endpoint; the proxy would only refuse)',
      profile: withClouds(AWS),
      sandbox: SANDBOX,
      env: { AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9000', REQUESTS_CA_BUNDLE: '/tmp/sandbox-ca.pem' },
      absent: ['HTTPS_PROXY', 'https_proxy', 'NO_PROXY'],
      unset: ['AWS_ACCESS_KEY_ID', 'AWS_DEFAULT_PROFILE', 'AWS_PROFILE', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'],
    },
    {
      name: 'no identity yet: only the directory',
      profile: withClouds(),
      env: { AIRLOCK_TOKEN_DIR: '/d' },
      absent: ['AWS_ROLE_ARN', 'GOOGLE_APPLICATION_CREDENTIALS', 'AZURE_CLIENT_ID'],
      unset: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planDelivery(c.profile, { dir: '/d', sandbox: c.sandbox });
      for (const [k, v] of Object.entries(c.env)) assert.equal(plan.env[k], v, k);
      for (const k of c.absent) assert.equal(plan.env[k], undefined, `${k} is not set`);
      assert.deepEqual(plan.unset, c.unset);
      assert.deepEqual(plan.tokens.map((t) => t.audience), c.profile.clouds.map((x) => x.audience));
    });
  }

  it('the GCP config reads the token file it is delivered beside, and in sandbox mode calls the sandbox', () => {
    const plain = JSON.parse(planDelivery(withClouds(GCP), { dir: '/d' }).files[0]!.content);
    assert.deepEqual(plain.credential_source, { file: '/d/tokens/gcp/token', format: { type: 'text' } });
    assert.equal(plain.token_url, 'https://sts.googleapis.com/v1/token');
    const sand = JSON.parse(planDelivery(withClouds(GCP), { dir: '/d', sandbox: SANDBOX }).files[0]!.content);
    assert.equal(sand.token_url, 'http://127.0.0.1:9000/v1/token');
    assert.equal(sand.service_account_impersonation_url, 'http://127.0.0.1:9000/v1/projects/-/serviceAccounts/lake-reader@my-proj.iam.gserviceaccount.com:generateAccessToken');
  });

  it('one token per distinct audience; custom audiences go under tokens/custom; an audience the workload may not have is refused', () => {
    const plan = planDelivery(SAMPLE_PROFILE, { dir: '/d', extraAudiences: ['vault.example.com', 'sts.amazonaws.com'] });
    assert.deepEqual(
      plan.tokens.map((t) => [t.audience, t.path]),
      [
        ['sts.amazonaws.com', '/d/tokens/aws/token'],
        ['api://AzureADTokenExchange', '/d/tokens/azure/token'],
        ['vault.example.com', '/d/tokens/custom/0/token'],
      ],
    );
    assert.throws(() => planDelivery(SAMPLE_PROFILE, { dir: '/d', extraAudiences: ['https://evil.example.com'] }), /not one this workload may ask for; allowed: sts.amazonaws.com/);
  });

  it('in the default directory, the files are where the generated setup says they are', () => {
    const plan = planDelivery(withClouds(AWS, GCP, AZURE), { dir: DEFAULT_TOKEN_DIR });
    assert.equal(plan.env.AWS_WEB_IDENTITY_TOKEN_FILE, AWS_TOKEN_FILE);
    assert.equal(plan.env.AZURE_FEDERATED_TOKEN_FILE, AZURE_TOKEN_FILE);
    assert.equal(JSON.parse(plan.files[0]!.content).credential_source.file, GCP_TOKEN_PATH);
  });
});
