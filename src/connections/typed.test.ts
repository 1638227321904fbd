import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors/index.ts';
import { awsExtra, azureExtra, checkExtraForType, gcpExtra } from './typed.ts';

describe('typed connection helpers: the Extra keys each provider reads', () => {
  const cases: { name: string; run: () => Record<string, unknown>; expect: Record<string, unknown> }[] = [
    {
      name: 'aws web identity: federation "file" and the delivered token file by default',
      run: () => awsExtra({ roleArn: 'arn:aws:iam::123456789012:role/r', regionName: 'eu-west-1', assumeRoleMethod: 'assume_role_with_web_identity' }),
      expect: {
        role_arn: 'arn:aws:iam::123456789012:role/r',
        region_name: 'eu-west-1',
        assume_role_method: 'assume_role_with_web_identity',
        assume_role_with_web_identity_federation: 'file',
        assume_role_with_web_identity_token_file: '/var/run/secrets/airlock/tokens/aws/token',
      },
    },
    {
      name: 'aws assume_role with kwargs',
      run: () => awsExtra({ roleArn: 'arn:aws-cn:iam::123456789012:role/a/b', assumeRoleMethod: 'assume_role', assumeRoleKwargs: { ExternalId: 'x' } }),
      expect: { role_arn: 'arn:aws-cn:iam::123456789012:role/a/b', assume_role_method: 'assume_role', assume_role_kwargs: { ExternalId: 'x' } },
    },
    {
      name: 'gcp: one account stays a string, scopes join with commas',
      run: () => gcpExtra({ project: 'my-proj', impersonationChain: 'a@my-proj.iam.gserviceaccount.com', scopes: ['https://www.googleapis.com/auth/cloud-platform', 'https://www.googleapis.com/auth/bigquery'] }),
      expect: { project: 'my-proj', impersonation_chain: 'a@my-proj.iam.gserviceaccount.com', scope: 'https://www.googleapis.com/auth/cloud-platform,https://www.googleapis.com/auth/bigquery' },
    },
    {
      name: 'gcp: a chain stays a list',
      run: () => gcpExtra({ impersonationChain: ['a@p1-proj.iam.gserviceaccount.com', '123-compute@developer.gserviceaccount.com'] }),
      expect: { impersonation_chain: ['a@p1-proj.iam.gserviceaccount.com', '123-compute@developer.gserviceaccount.com'] },
    },
    {
      name: 'azure: GUIDs lower-cased',
      run: () => azureExtra({ managedIdentityClientId: 'AAAAAAAA-1111-2222-3333-444444444444', workloadIdentityTenantId: 'bbbbbbbb-1111-2222-3333-444444444444' }),
      expect: { managed_identity_client_id: 'aaaaaaaa-1111-2222-3333-444444444444', workload_identity_tenant_id: 'bbbbbbbb-1111-2222-3333-444444444444' },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(c.run(), c.expect));

  const refused: { name: string; run: () => unknown; field: string }[] = [
    { name: 'a token file without web identity', run: () => awsExtra({ webIdentityTokenFile: '/t' }), field: 'aws.webIdentityTokenFile' },
    { name: 'a region that is not one', run: () => awsExtra({ regionName: 'mars' }), field: 'aws.regionName' },
    { name: 'a project id that is not one', run: () => gcpExtra({ project: 'My_Proj' }), field: 'gcp.project' },
    { name: 'a scope with a comma', run: () => gcpExtra({ scopes: ['a,b'] }), field: 'gcp.scopes' },
    { name: 'assume_role_method the provider does not know', run: () => checkExtraForType('aws', { assume_role_method: 'x' }), field: 'extra.assume_role_method' },
    { name: 'assume_role_kwargs not an object', run: () => checkExtraForType('aws', { assume_role_kwargs: '{}' }), field: 'extra.assume_role_kwargs' },
    { name: 'impersonation_chain of numbers', run: () => checkExtraForType('google_cloud_platform', { impersonation_chain: [1] }), field: 'extra.impersonation_chain' },
    { name: 'a managed identity client id that is not a string', run: () => checkExtraForType('wasb', { managed_identity_client_id: 1 }), field: 'extra.managed_identity_client_id' },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => assert.throws(c.run, (e: unknown) => e instanceof AppError && e.code === 'ERR_VALIDATION' && e.field === c.field && e.example !== undefined));
  }

  it('leaves other conn types and unknown keys alone', () => {
    checkExtraForType('postgres', { assume_role_method: 'anything', sslmode: 1 });
    checkExtraForType('aws', { endpoint_url: 'http://localhost:4566', verify: false });
  });
});
