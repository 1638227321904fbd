import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAwsState, type OidcProviderRecord, type RoleRecord } from './state.ts';

const provider = (account: string): OidcProviderRecord => ({
  arn: `arn:aws:iam::${account}:oidc-provider/issuer.example/c1`,
  url: 'issuer.example/c1',
  scheme: 'https',
  clientIds: ['sts.amazonaws.com'],
  thumbprints: [],
  createDate: '2026-01-01T00:00:00Z',
});
const role = (account: string, roleId: string): RoleRecord => ({
  roleName: 'etl-reader',
  roleId,
  path: '/',
  arn: `arn:aws:iam::${account}:role/etl-reader`,
  assumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
  maxSessionDuration: 3600,
  createDate: '2026-01-01T00:00:00Z',
});

describe('AWS sandbox state: accounts', () => {
  it('keeps each account apart: the same role name in two accounts is two roles', () => {
    const s = createAwsState('000000000000');
    s.account('123456789012').putRole(role('123456789012', 'AROAAAAAAAAAAAAAAAAAA'));
    s.account('210987654321').putRole(role('210987654321', 'AROABBBBBBBBBBBBBBBBB'));
    assert.equal(s.account('123456789012').role('ETL-READER')?.roleId, 'AROAAAAAAAAAAAAAAAAAA');
    assert.equal(s.account('210987654321').role('etl-reader')?.roleId, 'AROABBBBBBBBBBBBBBBBB');
    assert.equal(s.account('000000000000').role('etl-reader'), undefined);
    assert.deepEqual(s.accountIds(), ['123456789012', '210987654321'], 'an account nobody wrote to is not listed');
    assert.ok(s.roleIdTaken('AROABBBBBBBBBBBBBBBBB'));
    s.account('210987654321').deleteRole('etl-reader');
    assert.deepEqual(s.accountIds(), ['123456789012'], 'an emptied account is dropped');
    assert.ok(s.roleIdTaken('AROABBBBBBBBBBBBBBBBB'), 'a role id is never reused, even after a delete');
  });

  it('writes version 2 and reads it back equal', () => {
    const s = createAwsState('000000000000');
    s.account('123456789012').putProvider(provider('123456789012'));
    s.account('123456789012').putRole(role('123456789012', 'AROAAAAAAAAAAAAAAAAAA'));
    const json = JSON.parse(JSON.stringify(s.toJSON()));
    assert.equal(json.version, 2);
    const other = createAwsState('000000000000');
    other.load(json);
    assert.deepEqual(other.toJSON(), json);
  });

  it('reads a version-1 file into its account (000000000000 for every file a sandbox wrote)', () => {
    const s = createAwsState('000000000000');
    s.load({ version: 1, accountId: '000000000000', oidcProviders: [provider('000000000000')], roles: [role('000000000000', 'AROAAAAAAAAAAAAAAAAAA')] });
    assert.deepEqual(s.accountIds(), ['000000000000']);
    assert.equal(s.account('000000000000').roleByArn('arn:aws:iam::000000000000:role/etl-reader')?.roleId, 'AROAAAAAAAAAAAAAAAAAA');
    assert.equal(s.toJSON().version, 2);
  });

  const refused: { name: string; json: unknown; message: RegExp }[] = [
    { name: 'no version', json: { accounts: [] }, message: /version/ },
    { name: 'an unknown version', json: { version: 3, accounts: [] }, message: /version/ },
    { name: 'a version-1 file with a bad field', json: { version: 1, accountId: '000000000000', oidcProviders: [], roles: 'x' }, message: /roles/ },
    { name: 'an account id that is not 12 digits', json: { version: 2, accounts: [{ accountId: '1234', oidcProviders: [], roles: [] }] }, message: /accounts\.0\.accountId: must be 12 digits/ },
    {
      name: 'a role filed under another account',
      json: { version: 2, accounts: [{ accountId: '123456789012', oidcProviders: [], roles: [role('210987654321', 'AROAAAAAAAAAAAAAAAAAA')] }] },
      message: /accounts\.0\.roles\.0\.arn: must be a role ARN of account 123456789012/,
    },
    {
      name: 'a provider filed under another account',
      json: { version: 2, accounts: [{ accountId: '123456789012', oidcProviders: [provider('000000000000')], roles: [] }] },
      message: /oidcProviders\.0\.arn/,
    },
    {
      name: 'an account listed twice',
      json: { version: 2, accounts: [{ accountId: '123456789012', oidcProviders: [], roles: [] }, { accountId: '123456789012', oidcProviders: [], roles: [] }] },
      message: /appears twice/,
    },
    {
      name: 'one role id in two accounts',
      json: {
        version: 2,
        accounts: [
          { accountId: '123456789012', oidcProviders: [], roles: [role('123456789012', 'AROAAAAAAAAAAAAAAAAAA')] },
          { accountId: '210987654321', oidcProviders: [], roles: [role('210987654321', 'AROAAAAAAAAAAAAAAAAAA')] },
        ],
      },
      message: /role id AROAAAAAAAAAAAAAAAAAA is used twice/,
    },
  ];
  for (const r of refused) {
    it(`refuses ${r.name}, and changes nothing`, () => {
      const s = createAwsState('000000000000');
      s.account('123456789012').putProvider(provider('123456789012'));
      const before = s.toJSON();
      assert.throws(() => s.load(r.json), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_VALIDATION');
        assert.match(err.message, /^not an AWS sandbox state file: /);
        assert.match(err.message, r.message);
        return true;
      });
      assert.deepEqual(s.toJSON(), before);
    });
  }
});
