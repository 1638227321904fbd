import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { matchGolden } from '../../../test/helpers/golden.ts';
import { describe, it } from 'node:test';
import { parse } from '@cdktf/hcl2json';
import { decodeJwt } from 'jose';
import { COMPONENTS, componentIdentities } from '../../deployments/components.ts';
import { createManualClock } from '../../lib/clock.ts';
import { EntraError } from '../../emulators/azure/aadsts.ts';
import { createAccessTokenService } from '../../emulators/azure/access-tokens.ts';
import { createAzureState } from '../../emulators/azure/state.ts';
import { createTokenExchange, JWT_BEARER_ASSERTION_TYPE } from '../../emulators/azure/token-exchange.ts';
import { TokenCheckError, type OidcVerifier } from '../../emulators/shared/oidc-verifier.ts';
import { AppError } from '../../errors/index.ts';
import type { ClusterType } from '../../domain/terms.ts';
import type { SetupInput } from '../types.ts';
import { AZURE_TOKEN_FILE, azureProvider, FEDERATED_CREDENTIAL_NAME, federatedCredentialName, managedIdentityResourceId } from './setup.ts';
import { tfJsonValue } from '../../../test/helpers/terraform.ts';

// ---- fixed input -----------------------------------------------------------------------------

const NS = 'etl-7f3k2q9x';
const CLUSTER_ID = 'cl_0123456789abcdefghjk';
const ISSUER = `http://127.0.0.1:8080/clusters/${CLUSTER_ID}`;
const IDENTITY = {
  cloud: 'azure' as const,
  managedIdentityName: 'airflow-etl',
  resourceGroup: 'rg-data',
  subscriptionId: '0b1f6471-1bf0-4dda-aec3-cb9272f09590',
  clientId: 'a2b3c4d5-0000-4000-8000-00000000c11e',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
};
const PARENT_ID = `/subscriptions/${IDENTITY.subscriptionId}/resourceGroups/rg-data/providers/Microsoft.ManagedIdentity/userAssignedIdentities/airflow-etl`;
const SUBJECTS = componentIdentities(NS).map((c) => c.subject);

function buildInput(o: { type?: ClusterType; wildcard?: boolean; namespace?: string; issuer?: string; identity?: Partial<typeof IDENTITY> } = {}): SetupInput {
  const namespace = o.namespace ?? NS;
  return {
    deployment: { id: 'dep_0123456789abcdefghjk', name: 'etl', namespace, runtimeVersion: '11.5.0' },
    cluster: { id: CLUSTER_ID, name: 'data-weu', cloud: 'azure', type: o.type ?? 'standard', region: 'westeurope', oidcIssuerUrl: o.issuer ?? ISSUER },
    components: componentIdentities(namespace),
    identity: { mode: 'customer-managed', identity: { ...IDENTITY, ...o.identity } },
    wildcard: o.wildcard ?? false,
  };
}

const CASES = [
  { type: 'standard' as const, wildcard: false },
  { type: 'dedicated' as const, wildcard: false },
  { type: 'dedicated' as const, wildcard: true },
];

// ---- the sandbox's Entra, loaded with the generated credentials ---------------------------------

/** A verifier that trusts every token's claims: the exchange's matching is what is under test. */
const trustingVerifier: OidcVerifier = {
  peekIssuer(token) {
    const iss = decodeJwt(token).iss;
    if (typeof iss !== 'string') throw new TokenCheckError('malformed', 'no iss');
    return iss;
  },
  async verify(token) {
    return { header: { alg: 'RS256', kid: 'k1' }, claims: decodeJwt(token) as never };
  },
};

function unsignedJwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'RS256', kid: 'k1' })}.${b64(claims)}.c2ln`;
}

function entraWith(credentials: { name: string; issuer: string; subject: string; audiences: string[] }[]) {
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const state = createAzureState();
  state.putTenant(IDENTITY.tenantId, {});
  const ref = { subscriptionId: IDENTITY.subscriptionId, resourceGroup: IDENTITY.resourceGroup, name: IDENTITY.managedIdentityName };
  state.putIdentity(ref, { tenantId: IDENTITY.tenantId, clientId: IDENTITY.clientId });
  for (const c of credentials) state.putCredential(ref, c.name, { issuer: c.issuer, subject: c.subject, audiences: c.audiences });
  const exchange = createTokenExchange({ state, verifier: trustingVerifier, tokens: createAccessTokenService({ clock }), clock });
  const now = Math.floor(clock.now() / 1000);
  /** Exchanges a token with these claims; resolves to 'ok' or the AADSTS code. */
  const tryToken = async (claims: Record<string, unknown>): Promise<'ok' | number> => {
    const assertion = unsignedJwt({ iss: ISSUER, aud: ['api://AzureADTokenExchange'], iat: now, exp: now + 600, ...claims });
    try {
      await exchange.exchange({
        tenant: IDENTITY.tenantId,
        origin: 'https://127.0.0.1:8443',
        params: {
          grant_type: 'client_credentials',
          client_id: IDENTITY.clientId,
          scope: 'https://storage.azure.com/.default',
          client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
          client_assertion: assertion,
        },
      });
      return 'ok';
    } catch (err) {
      if (err instanceof EntraError) return err.code;
      throw err;
    }
  };
  return { state, ref, tryToken };
}

// ---- setup -----------------------------------------------------------------------------------

describe('azureProvider.setup', () => {
  for (const { type, wildcard } of CASES) {
    describe(`${type} cluster${wildcard ? ', wildcard requested' : ''}`, () => {
      const result = azureProvider.setup(buildInput({ type, wildcard }));
      const creds = result.azure!.federatedCredentials;

      it('lists one federated credential per component, exact subjects, the Entra audience', () => {
        assert.equal(result.cloud, 'azure');
        assert.equal(result.mode, 'customer-managed');
        assert.equal(result.issuerUrl, ISSUER);
        assert.equal(result.audience, 'api://AzureADTokenExchange');
        assert.deepEqual(result.subjects, SUBJECTS);
        assert.deepEqual(
          creds,
          COMPONENTS.map((component, i) => ({ name: `${NS}-${component}`, issuer: ISSUER, subject: SUBJECTS[i], audiences: ['api://AzureADTokenExchange'] })),
        );
      });

      it("names satisfy Azure's rules and are distinct", () => {
        for (const c of creds) assert.match(c.name, FEDERATED_CREDENTIAL_NAME);
        assert.equal(new Set(creds.map((c) => c.name)).size, creds.length);
      });

      it('one az command per credential, each naming identity, group, subscription, issuer, subject and audience', () => {
        const commands = result.steps[0]!.commands;
        assert.equal(commands.length, COMPONENTS.length);
        assert.equal(
          commands[0],
          `az identity federated-credential create --name ${NS}-scheduler --identity-name airflow-etl --resource-group rg-data ` +
            `--subscription ${IDENTITY.subscriptionId} --issuer ${ISSUER} --subject system:serviceaccount:${NS}:${NS}-scheduler-serviceaccount --audiences api://AzureADTokenExchange`,
        );
        creds.forEach((c, i) => assert.ok(commands[i]!.includes(`--name ${c.name} `) && commands[i]!.includes(`--subject ${c.subject} `)));
      });

      it('every component exchanges its token at Entra (sandbox); others are refused with the AADSTS codes of the docs', async () => {
        const entra = entraWith(creds);
        for (const sub of SUBJECTS) assert.equal(await entra.tryToken({ sub }), 'ok', sub);
        // Exact matching: another Deployment, even on a wildcard request, is not trusted.
        assert.equal(await entra.tryToken({ sub: 'system:serviceaccount:etl-9zzzzzzz:etl-9zzzzzzz-worker-serviceaccount' }), 70021);
        assert.equal(await entra.tryToken({ sub: SUBJECTS[0], iss: `${ISSUER}/` }), 70021, 'a trailing slash is another issuer');
        assert.equal(await entra.tryToken({ sub: SUBJECTS[0], aud: ['sts.amazonaws.com'] }), 700212);
      });

      it('connects through workload identity with the client and tenant ids', () => {
        assert.deepEqual(result.connection, {
          conn_type: 'azure',
          extra: { managed_identity_client_id: IDENTITY.clientId, workload_identity_tenant_id: IDENTITY.tenantId, subscriptionId: IDENTITY.subscriptionId },
        });
        assert.deepEqual(result.environment, {
          AZURE_CLIENT_ID: IDENTITY.clientId,
          AZURE_TENANT_ID: IDENTITY.tenantId,
          AZURE_FEDERATED_TOKEN_FILE: AZURE_TOKEN_FILE,
          AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/',
        });
        assert.equal(result.steps.at(-1)!.commands[0], `airflow connections add azure_default --conn-json '${JSON.stringify(result.connection)}'`);
      });

      it(wildcard ? 'explains why there is no wildcard (exact match; flexible credentials do not cover this issuer)' : 'says nothing about wildcards', () => {
        const note = result.notes.find((n) => n.startsWith('No wildcard on Azure'));
        if (!wildcard) return assert.equal(note, undefined);
        assert.ok(note);
        assert.match(note, /exactly/);
        assert.match(note, /flexible federated identity credentials/);
        assert.match(note, /GitHub, GitLab and Terraform Cloud/);
      });

      it('states the 20-credential limit as three Deployments per identity', () => {
        assert.ok(result.notes.some((n) => n.includes('at most 20 federated identity credentials') && n.includes('at most 3 Deployments')));
      });
    });
  }

  it('a fourth Deployment does not fit on one managed identity (sandbox refuses the 19th credential)', () => {
    const namespaces = ['etl-aaaaaaa1', 'etl-aaaaaaa2', 'etl-aaaaaaa3', 'etl-aaaaaaa4'];
    const all = namespaces.map((namespace) => azureProvider.setup(buildInput({ namespace })).azure!.federatedCredentials);
    const entra = entraWith(all.slice(0, 3).flat());
    assert.equal(entra.state.getIdentity(entra.ref)!.federatedIdentityCredentials.length, 18);
    const [first, second, third] = all[3]!;
    entra.state.putCredential(entra.ref, first!.name, { issuer: first!.issuer, subject: first!.subject });
    entra.state.putCredential(entra.ref, second!.name, { issuer: second!.issuer, subject: second!.subject });
    assert.throws(() => entra.state.putCredential(entra.ref, third!.name, { issuer: third!.issuer, subject: third!.subject }), /maximum of 20/);
  });

  it('makes valid, distinct names for long or odd namespaces', () => {
    const long = `a${'b'.repeat(62)}`;
    for (const component of COMPONENTS) assert.equal(federatedCredentialName(long, component), `${long}-${component}`);
    const odd = ['-x', 'a.b', 'ns with space', '${x}', 'é', 'z'.repeat(200)];
    const names = odd.flatMap((ns) => COMPONENTS.map((c) => federatedCredentialName(ns, c)));
    for (const n of names) assert.match(n, FEDERATED_CREDENTIAL_NAME, n);
    assert.equal(new Set(names).size, names.length);
    assert.notEqual(federatedCredentialName('a.b', 'kpo'), federatedCredentialName('a_b', 'kpo'));
  });

  const rejects: { name: string; input: SetupInput; code: string; field: string }[] = [
    { name: 'a wildcard on a standard cluster', input: buildInput({ type: 'standard', wildcard: true }), code: 'ERR_RULE_VIOLATION', field: 'wildcard' },
    { name: 'a client id that is no GUID', input: buildInput({ identity: { clientId: 'airflow' } }), code: 'ERR_VALIDATION', field: 'identity.clientId' },
    { name: 'a tenant id that is no GUID', input: buildInput({ identity: { tenantId: 'contoso.onmicrosoft.com' } }), code: 'ERR_VALIDATION', field: 'identity.tenantId' },
    { name: 'a subscription that is no GUID', input: buildInput({ identity: { subscriptionId: 'prod' } }), code: 'ERR_VALIDATION', field: 'identity.subscriptionId' },
    { name: 'a bad identity name', input: buildInput({ identity: { managedIdentityName: 'a' } }), code: 'ERR_VALIDATION', field: 'identity.managedIdentityName' },
    { name: 'a resource group ending in .', input: buildInput({ identity: { resourceGroup: 'rg.' } }), code: 'ERR_VALIDATION', field: 'identity.resourceGroup' },
    { name: 'an issuer with a fragment', input: buildInput({ issuer: `${ISSUER}#x` }), code: 'ERR_VALIDATION', field: 'cluster.oidcIssuerUrl' },
  ];
  for (const { name, input, code, field } of rejects) {
    it(`rejects ${name} (${code} on ${field}), in setup and terraform alike`, () => {
      for (const fn of [azureProvider.setup, azureProvider.terraform]) {
        assert.throws(
          () => fn(input),
          (e: unknown) => e instanceof AppError && e.code === code && e.field === field && e.message.startsWith('cloud(azure): '),
        );
      }
    });
  }

  it('throws a programming error for a non-Azure identity', () => {
    const input = buildInput();
    input.identity = { mode: 'customer-managed', identity: { cloud: 'aws', roleArn: 'arn:aws:iam::123456789012:role/r' } };
    assert.throws(() => azureProvider.setup(input), (e: unknown) => e instanceof Error && !(e instanceof AppError) && /aws identity/.test(e.message));
    assert.throws(() => azureProvider.terraform(input), /aws identity/);
  });
});

// ---- Terraform -------------------------------------------------------------------------------

type FicResources = Record<string, { name: string; resource_group_name: string; audience: string[]; issuer: string; parent_id: string; subject: string }[]>;

describe('azureProvider.terraform', () => {
  for (const { type, wildcard } of CASES) {
    it(`${type}${wildcard ? ', wildcard' : ''}: parses, one azurerm_federated_identity_credential per component, matching setup()`, async () => {
      const input = buildInput({ type, wildcard });
      const tf = (await parse('main.tf', azureProvider.terraform(input))) as { resource: { azurerm_federated_identity_credential: FicResources } };
      assert.deepEqual(Object.keys(tf), ['resource']);
      assert.deepEqual(Object.keys(tf.resource), ['azurerm_federated_identity_credential']);
      const fics = tf.resource.azurerm_federated_identity_credential;
      // hcl2json sorts labels; match each resource to its component by label.
      const labels = COMPONENTS.map((c) => `etl_7f3k2q9x_${c.replace('-', '_')}`);
      assert.deepEqual(Object.keys(fics).sort(), [...labels].sort());
      const expected = azureProvider.setup(input).azure!.federatedCredentials;
      labels.forEach((label, i) => {
        assert.equal(fics[label]!.length, 1);
        assert.deepEqual(fics[label]![0], {
          name: expected[i]!.name,
          resource_group_name: 'rg-data',
          audience: ['api://AzureADTokenExchange'],
          issuer: ISSUER,
          parent_id: PARENT_ID,
          subject: expected[i]!.subject,
        });
      });
      assert.equal(managedIdentityResourceId(IDENTITY), PARENT_ID);
    });
  }

  it('a hostile issuer is escaped: Terraform sees the same issuer', async () => {
    const issuer = 'https://airlock.example.com/clusters/cl_x${file("/etc/passwd")}%{if true}"\\';
    const input = buildInput({ issuer });
    const tf = (await parse('main.tf', azureProvider.terraform(input))) as { resource: { azurerm_federated_identity_credential: FicResources } };
    const fics = Object.values(tf.resource.azurerm_federated_identity_credential);
    assert.equal(fics.length, COMPONENTS.length);
    for (const [r] of fics) assert.equal(tfJsonValue(r!.issuer), issuer);
    assert.ok(azureProvider.setup(input).steps[0]!.commands[0]!.includes(`--issuer '${issuer}' `));
  });
});

// ---- golden files ----------------------------------------------------------------------------

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/setup');

const golden = (name: string, actual: string) => matchGolden(join(FIXTURES, name), actual);

describe('golden fixtures (test/fixtures/setup)', () => {
  const input = buildInput();
  it('azure-customer.json', () => golden('azure-customer.json', `${JSON.stringify(azureProvider.setup(input), null, 2)}\n`));
  it('azure-customer.tf', () => golden('azure-customer.tf', azureProvider.terraform(input)));
  it('azure-customer-wildcard.json', () => golden('azure-customer-wildcard.json', `${JSON.stringify(azureProvider.setup(buildInput({ type: 'dedicated', wildcard: true })), null, 2)}\n`));
});
