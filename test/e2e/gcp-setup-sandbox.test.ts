/**
 * End to end against the GCP sandbox: the resources a setup creates (gcpResources), tokens
 * Airlock mints for the Deployment's components with the setup's audience, and the setup's own
 * credential configuration, loaded by Google's unmodified client library. Only the endpoints of
 * the credential configuration are pointed at the sandbox; every other byte is what setup emits.
 * A socket guard fails the run if anything tries to leave 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { GoogleAuth, Impersonated } from 'google-auth-library';
import { componentIdentities } from '../../src/deployments/components.ts';
import { createGcpEmulator } from '../../src/emulators/gcp/index.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { guardLoopback } from '../helpers/loopback-guard.ts';
import type { SetupInput, SetupResult } from '../../src/cloud/types.ts';
import { gcpProvider, planGcpSetup } from '../../src/cloud/gcp/index.ts';
import { gcpResources, type GcpPlaceholderValues } from '../../src/cloud/gcp/resources.ts';

for (const k of Object.keys(process.env)) {
  if (/^(GOOGLE_|GCE_|GCLOUD_|CLOUDSDK_|METADATA_SERVER)/i.test(k)) delete process.env[k];
}
const guard = guardLoopback();

const SCOPES = ['https://www.googleapis.com/auth/cloud-platform', 'https://www.googleapis.com/auth/userinfo.email'];
const CUSTOMER_SA = 'lake-loader@data-lake-prod.iam.gserviceaccount.com';
const TARGET_SA = 'bq-reader@analytics-prod.iam.gserviceaccount.com';
const NUMBERS: GcpPlaceholderValues = { PROJECT_NUMBER: '498127360554', PLATFORM_PROJECT_NUMBER: '730146219987' };

describe('GCP setup against the sandbox, with google-auth-library', () => {
  const clock = createManualClock(Date.now()); // the library checks expiry against its own clock
  let airlock: TestServer;
  let cluster: { id: string; name: string; oidcIssuerUrl: string; type: 'standard' | 'dedicated' };
  let dir: string;
  let n = 0;
  const emulators: FastifyInstance[] = [];

  before(async () => {
    airlock = await startServer({ clock });
    const c = await airlock.app.clusters.create({ name: 'prod-gcp', cloud: 'gcp', type: 'dedicated', region: 'us-central1' });
    cluster = { id: c.id, name: c.name, oidcIssuerUrl: c.oidcIssuerUrl, type: 'dedicated' };
    dir = mkdtempSync(join(tmpdir(), 'airlock-gcp-setup-'));
  });

  after(async () => {
    for (const e of emulators) await e.close();
    await airlock?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    guard.restore();
    assert.deepEqual(guard.blocked, [], 'nothing left 127.0.0.1');
  });

  function inputFor(namespace: string, identity: SetupInput['identity'], o: Partial<Pick<SetupInput, 'wildcard' | 'target'>> = {}): SetupInput {
    return {
      deployment: { id: `dep_${namespace}`, name: namespace, namespace, runtimeVersion: '12.1.0' },
      cluster: { ...cluster, cloud: 'gcp', region: 'us-central1' },
      components: componentIdentities(namespace),
      identity,
      wildcard: o.wildcard ?? false,
      ...(o.target ? { target: o.target } : {}),
    };
  }

  /** A sandbox holding exactly what the setup's steps create. */
  async function sandboxFor(input: SetupInput): Promise<string> {
    const gcp = createGcpEmulator({ clock, config: gcpResources(planGcpSetup(input), NUMBERS) });
    const app = Fastify();
    await app.register(gcp.plugin);
    await app.listen({ host: '127.0.0.1', port: 0 });
    emulators.push(app);
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }

  async function mint(namespace: string, serviceAccount: string, audience: string): Promise<string> {
    const r = await airlock.app.minter.mint({ clusterId: cluster.id, namespace, serviceAccount, serviceAccountUid: 'uid-1', audiences: [audience], ttlSeconds: 3600 });
    return r.token;
  }

  /** setup's credential configuration, with the token file written and only the endpoints moved to the sandbox. */
  function credentialFile(setup: SetupResult, token: string, emu: string): string {
    const id = ++n;
    const tokenFile = join(dir, `token-${id}`);
    writeFileSync(tokenFile, token);
    const cfg = JSON.parse(JSON.stringify(setup.gcp!.credentialConfig).replaceAll('${PROJECT_NUMBER}', NUMBERS.PROJECT_NUMBER!).replaceAll('${PLATFORM_PROJECT_NUMBER}', NUMBERS.PLATFORM_PROJECT_NUMBER!));
    cfg.credential_source.file = tokenFile;
    cfg.token_url = cfg.token_url.replace('https://sts.googleapis.com', emu);
    cfg.service_account_impersonation_url = cfg.service_account_impersonation_url.replace('https://iamcredentials.googleapis.com', emu);
    const file = join(dir, `credentials-${id}.json`);
    writeFileSync(file, JSON.stringify(cfg));
    return file;
  }

  const audienceOf = (s: SetupResult) => s.audience.replace('${PROJECT_NUMBER}', NUMBERS.PROJECT_NUMBER!).replace('${PLATFORM_PROJECT_NUMBER}', NUMBERS.PLATFORM_PROJECT_NUMBER!);

  async function emailOf(token: string, emu: string): Promise<string> {
    const res = await fetch(`${emu}/oauth2/v3/tokeninfo?access_token=${encodeURIComponent(token)}`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { email: string }).email;
  }

  async function refusal(p: Promise<unknown>): Promise<{ status?: number; data: any }> {
    try {
      await p;
    } catch (err) {
      const e = err as { status?: number; response?: { status?: number; data?: unknown } };
      return { status: e.response?.status ?? e.status, data: e.response?.data };
    }
    return assert.fail('expected a refusal');
  }

  it('attach: every component becomes the customer service account; nothing else does', async () => {
    const input = inputFor('etl-attach', { mode: 'customer-managed', identity: { cloud: 'gcp', serviceAccountEmail: CUSTOMER_SA } });
    const setup = gcpProvider.setup(input);
    const emu = await sandboxFor(input);
    for (const c of input.components) {
      const auth = new GoogleAuth({ keyFilename: credentialFile(setup, await mint('etl-attach', c.serviceAccount, audienceOf(setup)), emu), scopes: SCOPES });
      assert.equal(await emailOf((await auth.getAccessToken())!, emu), CUSTOMER_SA, c.component);
    }
    // Another namespace of the same cluster: the provider's condition refuses it at STS.
    const other = new GoogleAuth({ keyFilename: credentialFile(setup, await mint('intruder', 'intruder-worker-serviceaccount', audienceOf(setup)), emu), scopes: SCOPES });
    const f = await refusal(other.getAccessToken());
    assert.equal(f.status, 400);
    assert.equal(f.data.error, 'unauthorized_client');
    // A service account of the right namespace that is not a component: STS accepts it, IAM does not.
    const stray = new GoogleAuth({ keyFilename: credentialFile(setup, await mint('etl-attach', 'etl-attach-debug', audienceOf(setup)), emu), scopes: SCOPES });
    assert.equal((await refusal(stray.getAccessToken())).status, 403);
    // A token minted for another audience.
    const wrongAud = new GoogleAuth({ keyFilename: credentialFile(setup, await mint('etl-attach', 'etl-attach-kpo', 'sts.amazonaws.com'), emu), scopes: SCOPES });
    assert.equal((await refusal(wrongAud.getAccessToken())).data.error, 'invalid_grant');
  });

  it('attach with wildcard (dedicated cluster): any service account of the cluster becomes it', async () => {
    const input = inputFor('etl-shared', { mode: 'customer-managed', identity: { cloud: 'gcp', serviceAccountEmail: CUSTOMER_SA } }, { wildcard: true });
    const setup = gcpProvider.setup(input);
    const emu = await sandboxFor(input);
    for (const [ns, sa] of [['etl-shared', 'etl-shared-worker-serviceaccount'], ['some-future-deployment', 'some-future-deployment-kpo']] as const) {
      const auth = new GoogleAuth({ keyFilename: credentialFile(setup, await mint(ns, sa, audienceOf(setup)), emu), scopes: SCOPES });
      assert.equal(await emailOf((await auth.getAccessToken())!, emu), CUSTOMER_SA, ns);
    }
  });

  it('impersonation: the default identity impersonates the target, as impersonation_chain does', async () => {
    const input = inputFor(
      'etl-imp',
      { mode: 'default', identity: { cloud: 'gcp', projectId: 'airlock-platform', serviceAccountEmail: 'airlock-etl-imp@airlock-platform.iam.gserviceaccount.com', accountId: 'airlock-etl-imp' } },
      { target: { gcpRoute: 'impersonation', gcpServiceAccount: TARGET_SA } },
    );
    const setup = gcpProvider.setup(input);
    assert.equal(setup.connection.extra.impersonation_chain, TARGET_SA);
    const emu = await sandboxFor(input);
    const auth = new GoogleAuth({ keyFilename: credentialFile(setup, await mint('etl-imp', 'etl-imp-worker-serviceaccount', audienceOf(setup)), emu), scopes: SCOPES });
    const source = await auth.getClient();
    assert.equal(await emailOf((await source.getAccessToken()).token!, emu), 'airlock-etl-imp@airlock-platform.iam.gserviceaccount.com');
    const target = new Impersonated({ sourceClient: source, targetPrincipal: TARGET_SA, targetScopes: SCOPES, lifetime: 900, endpoint: emu });
    assert.equal(await emailOf((await target.getAccessToken()).token!, emu), TARGET_SA);
  });

  it('direct grant: the default identity holds the role on the project', async () => {
    const input = inputFor(
      'etl-direct',
      { mode: 'default', identity: { cloud: 'gcp', projectId: 'airlock-platform', serviceAccountEmail: 'airlock-etl-direct@airlock-platform.iam.gserviceaccount.com', accountId: 'airlock-etl-direct' } },
      { target: { gcpRoute: 'direct-grant', gcpProjectId: 'analytics-prod', gcpRole: 'roles/bigquery.dataViewer' } },
    );
    const setup = gcpProvider.setup(input);
    const emu = await sandboxFor(input);
    const auth = new GoogleAuth({ keyFilename: credentialFile(setup, await mint('etl-direct', 'etl-direct-scheduler-serviceaccount', audienceOf(setup)), emu), scopes: SCOPES });
    const token = (await auth.getAccessToken())!;
    const me = (await (await fetch(`${emu}/_sandbox/gcp/whoami`, { headers: { authorization: `Bearer ${token}` } })).json()) as { projectRoles: { projectId: string; roles: string[] }[] };
    assert.ok(me.projectRoles.some((p) => p.projectId === 'analytics-prod' && p.roles.includes('roles/bigquery.dataViewer')), JSON.stringify(me.projectRoles));
  });
});
