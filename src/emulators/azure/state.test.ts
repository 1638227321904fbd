import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AzureAdminError } from './errors.ts';
import { DEFAULT_FIC_AUDIENCE, issuerProblem, MAX_FICS_PER_IDENTITY, type AzureSandboxConfigInput, type IdentityRef } from './model.ts';
import { createAzureState } from './state.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SUB = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
const REF: IdentityRef = { subscriptionId: SUB, resourceGroup: 'rg-data', name: 'etl-writer' };
const ISSUER = 'https://oidc.example.com/clusters/cl_1';

function counter() {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
}

function withIdentity() {
  const s = createAzureState({ randomUUID: counter() });
  s.putTenant(TENANT, {});
  s.putIdentity(REF, { tenantId: TENANT });
  return s;
}

function refused(fn: () => unknown): AzureAdminError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AzureAdminError, `expected an AzureAdminError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to be refused');
}

describe('issuerProblem', () => {
  const cases: { issuer: string; ok: boolean }[] = [
    { issuer: 'https://oidc.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/', ok: true },
    { issuer: 'https://token.actions.githubusercontent.com', ok: true },
    { issuer: 'http://127.0.0.1:8080/clusters/cl_1', ok: true },
    { issuer: 'http://localhost:8080/clusters/cl_1', ok: true },
    { issuer: 'http://[::1]:8080/clusters/cl_1', ok: true },
    { issuer: 'http://oidc.example.com', ok: false },
    { issuer: 'http://10.0.0.1/clusters/cl_1', ok: false },
    { issuer: 'ftp://oidc.example.com', ok: false },
    { issuer: 'oidc.example.com', ok: false },
    { issuer: ' https://oidc.example.com', ok: false },
    { issuer: `https://e.com/${'a'.repeat(600)}`, ok: false },
  ];
  for (const c of cases) {
    test(`${c.ok ? 'accepts' : 'refuses'} ${JSON.stringify(c.issuer.slice(0, 60))}`, () => {
      assert.equal(issuerProblem(c.issuer) === undefined, c.ok, issuerProblem(c.issuer));
    });
  }
});

describe('managed identities', () => {
  test('generates client and principal ids, which an update cannot change', () => {
    const s = withIdentity();
    const mi = s.getIdentity(REF)!;
    assert.equal(mi.clientId, '00000000-0000-4000-8000-000000000001');
    assert.equal(mi.principalId, '00000000-0000-4000-8000-000000000002');
    assert.equal(s.putIdentity(REF, { tenantId: TENANT, location: 'westeurope' }).created, false);
    assert.equal(s.getIdentity(REF)!.location, 'westeurope');
    assert.equal(refused(() => s.putIdentity(REF, { tenantId: TENANT, clientId: '11111111-1111-4111-8111-111111111111' })).code, 'Conflict');
  });

  test('looks names up case-insensitively, as ARM does', () => {
    const s = withIdentity();
    assert.ok(s.getIdentity({ subscriptionId: SUB.toUpperCase(), resourceGroup: 'RG-DATA', name: 'ETL-Writer' }));
  });

  const bad: { name: string; ref?: Partial<IdentityRef>; body: unknown; code: string; target?: string }[] = [
    { name: 'a tenant the sandbox does not know', body: { tenantId: '11111111-1111-4111-8111-111111111111' }, code: 'BadRequest', target: 'tenantId' },
    { name: 'a tenant id that is no GUID', body: { tenantId: 'contoso.onmicrosoft.com' }, code: 'BadRequest', target: 'tenantId' },
    { name: 'an identity name too short', ref: { name: 'ab' }, body: { tenantId: TENANT }, code: 'InvalidResourceName' },
    { name: 'an identity name starting with "-"', ref: { name: '-etl' }, body: { tenantId: TENANT }, code: 'InvalidResourceName' },
    { name: 'a subscription id that is no GUID', ref: { subscriptionId: 'prod' }, body: { tenantId: TENANT }, code: 'BadRequest' },
    { name: 'an unknown field', body: { tenantId: TENANT, colour: 'blue' }, code: 'BadRequest' },
    { name: 'a body name that contradicts the path', body: { tenantId: TENANT, name: 'other' }, code: 'BadRequest', target: 'name' },
  ];
  for (const c of bad) {
    test(`refuses ${c.name}`, () => {
      const s = createAzureState();
      s.putTenant(TENANT, {});
      const e = refused(() => s.putIdentity({ ...REF, ...c.ref }, c.body));
      assert.equal(e.code, c.code, e.message);
      if (c.target) assert.equal(e.target, c.target);
    });
  }

  test('refuses a client id another identity holds', () => {
    const s = withIdentity();
    const taken = s.getIdentity(REF)!.clientId;
    assert.equal(refused(() => s.putIdentity({ ...REF, name: 'other' }, { tenantId: TENANT, clientId: taken })).code, 'Conflict');
  });

  test('keeps a tenant while identities live in it', () => {
    const s = withIdentity();
    assert.equal(refused(() => s.deleteTenant(TENANT)).code, 'Conflict');
    s.deleteIdentity(REF);
    s.deleteTenant(TENANT);
    assert.deepEqual(s.listTenants(), []);
  });

  test('finds an identity by client id only within its tenant', () => {
    const s = withIdentity();
    const { clientId } = s.getIdentity(REF)!;
    assert.ok(s.findByClientId(TENANT, clientId.toUpperCase()));
    s.putTenant('11111111-1111-4111-8111-111111111111', {});
    assert.equal(s.findByClientId('11111111-1111-4111-8111-111111111111', clientId), undefined);
  });
});

describe('federated identity credentials', () => {
  test('defaults the audience to api://AzureADTokenExchange', () => {
    const s = withIdentity();
    const r = s.putCredential(REF, 'etl', { issuer: ISSUER, subject: 'system:serviceaccount:etl:writer' });
    assert.equal(r.created, true);
    assert.deepEqual(r.value.audiences, [DEFAULT_FIC_AUDIENCE]);
  });

  const bad: { name: string; ficName?: string; body: unknown; code: string }[] = [
    { name: 'a name of 2 characters', ficName: 'ab', body: { issuer: ISSUER, subject: 's' }, code: 'InvalidResourceName' },
    { name: 'a name of 121 characters', ficName: 'a'.repeat(121), body: { issuer: ISSUER, subject: 's' }, code: 'InvalidResourceName' },
    { name: 'a name starting with "_"', ficName: '_etl', body: { issuer: ISSUER, subject: 's' }, code: 'InvalidResourceName' },
    { name: 'a name with a dot', ficName: 'etl.writer', body: { issuer: ISSUER, subject: 's' }, code: 'InvalidResourceName' },
    { name: 'two audiences', body: { issuer: ISSUER, subject: 's', audiences: ['a', 'b'] }, code: 'BadRequest' },
    { name: 'no audience', body: { issuer: ISSUER, subject: 's', audiences: [] }, code: 'BadRequest' },
    { name: 'an http issuer off loopback', body: { issuer: 'http://oidc.example.com', subject: 's' }, code: 'BadRequest' },
    { name: 'an empty subject', body: { issuer: ISSUER, subject: '' }, code: 'BadRequest' },
    { name: 'a subject of 601 characters', body: { issuer: ISSUER, subject: 's'.repeat(601) }, code: 'BadRequest' },
    { name: 'a missing issuer', body: { subject: 's' }, code: 'BadRequest' },
  ];
  for (const c of bad) {
    test(`refuses ${c.name}`, () => {
      const s = withIdentity();
      assert.equal(refused(() => s.putCredential(REF, c.ficName ?? 'etl', c.body)).code, c.code);
    });
  }

  test('accepts names of 3 and 120 characters with "-" and "_"', () => {
    const s = withIdentity();
    s.putCredential(REF, 'a-_', { issuer: ISSUER, subject: 's1' });
    const longest = `a${'_-9'.repeat(40)}`.slice(0, 120);
    assert.equal(longest.length, 120);
    s.putCredential(REF, longest, { issuer: ISSUER, subject: 's2' });
  });

  test('refuses a second credential with the same issuer and subject, but not an update of the first', () => {
    const s = withIdentity();
    const body = { issuer: ISSUER, subject: 'system:serviceaccount:etl:writer' };
    s.putCredential(REF, 'first', body);
    const e = refused(() => s.putCredential(REF, 'second', body));
    assert.equal(e.code, 'Conflict');
    assert.match(e.message, /combination of issuer and subject must be unique/);
    assert.equal(s.putCredential(REF, 'first', { ...body, audiences: ['api://Other'] }).created, false);
    // Matching is case-sensitive, so a subject differing in case is another credential.
    s.putCredential(REF, 'second', { ...body, subject: 'system:serviceaccount:etl:Writer' });
  });

  test(`refuses credential ${MAX_FICS_PER_IDENTITY + 1} and leaves the identity unchanged`, () => {
    const s = withIdentity();
    for (let i = 0; i < MAX_FICS_PER_IDENTITY; i++) s.putCredential(REF, `fic-${i}`, { issuer: ISSUER, subject: `s-${i}` });
    const e = refused(() => s.putCredential(REF, 'one-more', { issuer: ISSUER, subject: 'extra' }));
    assert.equal(e.code, 'BadRequest');
    assert.equal(e.status, 400);
    assert.match(e.message, /maximum of 20 federated identity credentials/);
    assert.equal(s.getIdentity(REF)!.federatedIdentityCredentials.length, MAX_FICS_PER_IDENTITY);
  });

  test('deleting a credential makes room again', () => {
    const s = withIdentity();
    s.putCredential(REF, 'etl', { issuer: ISSUER, subject: 's' });
    s.deleteCredential(REF, 'ETL');
    assert.equal(s.getIdentity(REF)!.federatedIdentityCredentials.length, 0);
    assert.equal(refused(() => s.deleteCredential(REF, 'etl')).code, 'ResourceNotFound');
  });
});

describe('toJSON / load', () => {
  const config: AzureSandboxConfigInput = {
    tenants: [{ tenantId: TENANT, displayName: 'Contoso' }],
    identities: [
      {
        name: 'etl-writer',
        resourceGroup: 'rg-data',
        subscriptionId: SUB,
        tenantId: TENANT,
        clientId: 'a2b3c4d5-0000-4000-8000-00000000c11e',
        principalId: 'e5f6a7b8-0000-4000-8000-0000000000b1',
        federatedIdentityCredentials: [{ name: 'etl', issuer: ISSUER, subject: 'system:serviceaccount:etl:writer' }],
      },
    ],
  };

  test('round-trips, with defaults filled in', () => {
    const s = createAzureState();
    s.load(config);
    const json = s.toJSON();
    assert.equal(json.identities[0]!.location, 'eastus');
    assert.deepEqual(json.identities[0]!.federatedIdentityCredentials[0]!.audiences, [DEFAULT_FIC_AUDIENCE]);
    const again = createAzureState();
    again.load(JSON.parse(JSON.stringify(json)));
    assert.deepEqual(again.toJSON(), json);
  });

  test('reports every problem at once and changes nothing', () => {
    const s = withIdentity();
    const before = s.toJSON();
    const many = Array.from({ length: MAX_FICS_PER_IDENTITY + 1 }, (_, i) => ({ name: `fic-${i}`, issuer: ISSUER, subject: `s-${i % 20}` }));
    const e = refused(() =>
      s.load({
        tenants: [{ tenantId: TENANT }],
        identities: [
          { ...config.identities![0]!, federatedIdentityCredentials: many },
          { ...config.identities![0]!, name: 'second', tenantId: '11111111-1111-4111-8111-111111111111' },
        ],
      }),
    );
    const targets = e.details!.map((d) => d.target);
    assert.ok(targets.includes('identities.0.federatedIdentityCredentials'), 'the limit');
    assert.ok(targets.includes('identities.0.federatedIdentityCredentials.20'), 'the duplicate issuer + subject');
    assert.ok(targets.includes('identities.1.tenantId'), 'the unknown tenant');
    assert.ok(targets.includes('identities.1.clientId'), 'the reused client id');
    assert.deepEqual(s.toJSON(), before);
  });

  test('refuses unknown keys, so a typo is not silently ignored', () => {
    const e = refused(() => createAzureState().load({ tenants: [], identites: [] }));
    assert.equal(e.code, 'BadRequest');
  });
});
