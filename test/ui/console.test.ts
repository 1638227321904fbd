// The web console in a real Chromium against `airlock serve` (as `npm start` runs it): every
// flow a user clicks through, read back through the API. Screenshots go to ARTIFACTS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { startConsole, type Console } from './helpers.ts';

interface Dep {
  namespace: string;
  workloadIdentity: { savedIdentityName?: string } | null;
  effectiveWorkloadIdentity: { mode: string; roleArn?: string };
}
interface SetupDoc {
  steps: { document?: { filename: string; content: unknown } }[];
}
interface Key {
  kid: string;
  state: string;
}
interface Cred {
  id: string;
  status: string;
}
const trustPolicy = (s: SetupDoc) => s.steps.find((x) => x.document?.filename === 'trust-policy.json')?.document;

const ROLE = 'arn:aws:iam::123456789012:role/etl-reader';
const guid = (n: number) => `${String(n).repeat(8)}-1111-2222-3333-444444444444`;

describe('web console (Chromium)', () => {
  let c: Console;
  let page: Page;

  before(async () => {
    c = await startConsole();
    const clusters = [
      { name: 'prod-aws', cloud: 'aws', type: 'standard', region: 'us-east-1', defaultIdentityAccount: '210987654321' },
      { name: 'dedicated-aws', cloud: 'aws', type: 'dedicated', region: 'us-west-2', defaultIdentityAccount: '210987654321' },
      { name: 'prod-azure', cloud: 'azure', type: 'standard', region: 'eastus2' },
    ];
    for (const body of clusters) assert.equal((await c.api('POST', '/api/v1/clusters', body)).status, 201);
    page = await c.page();
  });
  after(async () => {
    await c?.close();
  });
  /** A connection as a workload holding `credential` receives it: the one place a password can be read back. */
  const workloadConnection = async (credential: string, connId: string) => {
    const r = await fetch(`${c.url}/api/v1/workload/environment`, { headers: { authorization: `Bearer ${credential}` } });
    assert.equal(r.status, 200);
    const doc = (await r.json()) as { connections: { connId: string; fields: { password: string | null; host: string | null; extra: Record<string, unknown> } }[] };
    return doc.connections.find((x) => x.connId === connId)!.fields;
  };

  it('signs in with an API token, refuses a bad one with a clear message, signs out', async () => {
    await page.goto('/');
    await page.getByLabel('API token').fill('alk_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That API token was not accepted' }).waitFor();
    await c.shot(page, 'sign-in-refused');
    // Keyboard only: the token field has focus, Enter submits.
    await page.getByLabel('API token').fill('');
    await page.keyboard.type(c.token);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);
    // The top bar names the token the console acts as, as GET /api/v1/tokens/self does.
    const self = (await c.api<{ name: string; role: string }>('GET', '/api/v1/tokens/self')).body;
    await page.getByRole('banner').getByText(`${self.name} · ${self.role}`, { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign out clears the token');
    await c.signIn(page);
    await page.getByText('No Deployments yet').waitFor();
    await c.shot(page, 'deployments-empty');
  });

  it('creates a Deployment, showing the API field error inline first', async () => {
    // A dialog opens with focus inside and closes on Escape.
    await page.getByRole('button', { name: '+ Deployment' }).click();
    const dialog = page.getByRole('dialog', { name: 'New Deployment' });
    assert.ok(await dialog.getByLabel('Name').evaluate((e) => e === document.activeElement), 'focus is on the first field');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: '+ Deployment' }).click();
    await dialog.getByLabel('Name').fill('ETL!');
    await dialog.getByLabel('Cluster').selectOption({ label: 'prod-aws (aws, standard)' });
    await dialog.getByLabel('Runtime version').fill('12.1.0');
    await dialog.getByRole('button', { name: 'Create Deployment' }).click();
    const nameInput = dialog.getByLabel('Name');
    await page.waitForFunction(() => document.querySelector('[aria-invalid="true"]') !== null);
    assert.equal(await nameInput.getAttribute('aria-invalid'), 'true');
    await dialog.getByText('must be a DNS-1123 label').waitFor();
    await c.shot(page, 'create-deployment-invalid');
    await nameInput.fill('etl');
    await dialog.getByRole('button', { name: 'Create Deployment' }).click();
    await page.getByRole('heading', { level: 1, name: 'etl' }).waitFor();
    const d = (await c.api<Dep>('GET', '/api/v1/deployments/etl')).body;
    await page.getByText(d.namespace, { exact: true }).first().waitFor();
    await page.getByRole('cell', { name: `${d.namespace}-worker-serviceaccount`, exact: true }).waitFor();
    await c.shot(page, 'deployment-details');
  });

  it('sets a customer-managed AWS role; How to configure shows the API trust policy', async () => {
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('radio', { name: /Customer Managed Identity/ }).check();
    await page.getByLabel('IAM role ARN').fill(ROLE);
    await page.getByRole('button', { name: 'Update Deployment' }).click();
    await page.getByRole('status').filter({ hasText: `etl now uses ${ROLE}` }).waitFor();
    const d = (await c.api<Dep>('GET', '/api/v1/deployments/etl')).body;
    assert.equal(d.effectiveWorkloadIdentity.mode, 'customer-managed');
    assert.equal(d.effectiveWorkloadIdentity.roleArn, ROLE);

    await page.getByRole('button', { name: 'How to configure' }).click();
    const dialog = page.getByRole('dialog', { name: /How to configure etl/ });
    const setup = (await c.api<SetupDoc>('GET', '/api/v1/deployments/etl/identity/setup')).body;
    const doc = trustPolicy(setup);
    assert.ok(doc, 'the API setup has a trust policy document');
    const shown = await dialog.getByLabel('trust-policy.json', { exact: true }).textContent();
    assert.deepEqual(JSON.parse(shown!), doc.content);
    assert.equal(await dialog.locator('ol.steps > li').count(), setup.steps.length + 1);
    await c.shot(page, 'how-to-configure');
    await dialog.getByRole('tab', { name: 'Terraform' }).click();
    const tf = (await c.api<string>('GET', '/api/v1/deployments/etl/identity/terraform')).body;
    assert.equal(await dialog.getByLabel('main.tf', { exact: true }).textContent(), tf);
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it("checks the trust policy IAM holds, pasted from aws iam get-role: OK, a namespace wildcard, the guide's repeated key", async () => {
    await page.getByRole('button', { name: 'How to configure' }).click();
    const dialog = page.getByRole('dialog', { name: /How to configure etl/ });
    await dialog.getByRole('tab', { name: 'Check' }).click();
    const panel = dialog.getByRole('tabpanel', { name: 'Check' });
    const policy = trustPolicy((await c.api<SetupDoc>('GET', '/api/v1/deployments/etl/identity/setup')).body)!.content as {
      Statement: { Principal: unknown; Condition: { StringEquals: Record<string, unknown> } }[];
    };
    const check = async (text: string) => {
      await panel.getByLabel('Trust policy', { exact: true }).fill(text);
      await panel.getByRole('button', { name: 'Check', exact: true }).click();
    };

    await check(JSON.stringify({ Role: { RoleName: 'etl-reader', AssumeRolePolicyDocument: policy } }, null, 2));
    const result = panel.getByRole('region', { name: 'Check result' });
    await result.getByRole('status').filter({ hasText: /^OK/ }).waitFor();
    const rows = result.getByRole('table', { name: 'Trust per component' }).locator('tbody tr');
    assert.equal(await rows.count(), 6);
    assert.deepEqual(await rows.locator('td:nth-child(2)').allTextContents(), ['yes', 'yes', 'yes', 'yes', 'yes', 'yes']);

    const [aud, sub] = Object.keys(policy.Statement[0]!.Condition.StringEquals) as [string, string];
    const wildcard = { Version: '2012-10-17', Statement: [{ ...policy.Statement[0], Condition: { StringEquals: { [aud]: 'sts.amazonaws.com' }, StringLike: { [sub]: 'system:serviceaccount:*' } } }] };
    await check(JSON.stringify(wildcard));
    await result.getByRole('status').filter({ hasText: /^Not OK/ }).waitFor();
    assert.match((await result.getByRole('list', { name: 'Findings' }).textContent())!, /error: the policy trusts service accounts outside Deployment etl/);

    const subjects = policy.Statement[0]!.Condition.StringEquals[sub] as string[];
    const federated = (policy.Statement[0]!.Principal as { Federated: string }).Federated;
    await check(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"${federated}"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"${sub}":"${subjects[0]}","${sub}":"${subjects[1]}"}}}]}`);
    const alert = panel.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent())!, /names the condition key .* 2 times/);
    assert.match((await alert.textContent())!, /ERR_VALIDATION · body\.trustPolicy\.Statement\[0\]\.Condition\.StringLike/);
    assert.equal(await result.count(), 0, 'no stale verdict beside the error');
    await c.shot(page, 'identity-check');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('saves the configuration and picks it for a second Deployment', async () => {
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('radio', { name: /Enter AWS identity/ }).check();
    await page.getByLabel('Save as').fill('etl-reader');
    await page.getByRole('button', { name: 'Save Configuration' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved identity etl-reader created' }).waitFor();
    assert.equal((await c.api<{ identity: { roleArn: string } }>('GET', '/api/v1/identities/etl-reader')).body.identity.roleArn, ROLE);

    assert.equal((await c.api('POST', '/api/v1/deployments', { name: 'reports', cluster: 'prod-aws', runtimeVersion: '12.1.0' })).status, 201);
    await page.goto('/deployments/reports');
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('radio', { name: /Customer Managed Identity/ }).check();
    await page.getByRole('radio', { name: /Use a saved identity/ }).check();
    await page.getByLabel('Saved identity', { exact: true }).selectOption('etl-reader');
    await page.getByRole('button', { name: 'Update Deployment' }).click();
    await page.getByRole('status').filter({ hasText: 'reports now uses etl-reader' }).waitFor();
    const d = (await c.api<Dep>('GET', '/api/v1/deployments/reports')).body;
    assert.equal(d.workloadIdentity?.savedIdentityName, 'etl-reader');
    await page.goto('/deployments');
    await page.getByLabel('Saved identity', { exact: true }).selectOption({ label: 'etl-reader' });
    // etl has the role itself, not the saved identity: the filtered list leaves it out.
    await page.getByRole('link', { name: 'etl', exact: true }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'reports' }).waitFor();
    await c.shot(page, 'deployments-filtered-by-identity');
  });

  it('shows each rule as a persistent, readable error', async () => {
    // Runtime minimum for a customer-managed AWS role.
    assert.equal((await c.api('POST', '/api/v1/deployments', { name: 'legacy', cluster: 'prod-aws', runtimeVersion: '10.2.0' })).status, 201);
    await page.goto('/deployments/legacy');
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('radio', { name: /Customer Managed Identity/ }).check();
    await page.getByLabel('IAM role ARN').fill(ROLE);
    await page.getByRole('button', { name: 'Update Deployment' }).click();
    const runtime = page.getByRole('alert').filter({ hasText: 'needs runtime 9.15.0+ on 9.x, 10.9.0+ on 10.x' });
    await runtime.waitFor();
    await page.waitForTimeout(1500);
    assert.ok(await runtime.isVisible(), 'the rule stays on screen');
    await c.shot(page, 'rule-runtime');
    // The way out the message names: a newer runtime, then the role applies.
    await page.getByRole('button', { name: 'Change runtime' }).click();
    await page.getByRole('form', { name: 'Change runtime' }).getByLabel('Runtime version').fill('10.9.0');
    await page.getByRole('button', { name: 'Save runtime' }).click();
    await page.getByRole('button', { name: 'Change runtime' }).waitFor();
    await page.getByRole('button', { name: 'Update Deployment' }).click();
    await page.getByRole('status').filter({ hasText: `legacy now uses ${ROLE}` }).waitFor();
    // And back down is refused with the same rule, on the runtime form this time.
    await page.getByRole('button', { name: 'Change runtime' }).click();
    await page.getByRole('form', { name: 'Change runtime' }).getByLabel('Runtime version').fill('10.2.0');
    await page.getByRole('button', { name: 'Save runtime' }).click();
    await page.getByRole('form', { name: 'Change runtime' }).getByRole('alert').filter({ hasText: 'needs runtime 9.15.0+' }).waitFor();
    assert.equal((await c.api<{ runtimeVersion: string }>('GET', '/api/v1/deployments/legacy')).body.runtimeVersion, '10.9.0');

    // Wildcard trust only on dedicated clusters.
    await page.getByRole('button', { name: 'How to configure' }).click();
    let dialog = page.getByRole('dialog', { name: /How to configure legacy/ });
    await dialog.getByRole('radio', { name: /Wildcard/ }).check();
    await dialog.getByRole('alert').filter({ hasText: 'wildcard trust (system:serviceaccount:*:*) is only allowed on dedicated clusters' }).waitFor();
    await c.shot(page, 'rule-wildcard');
    await dialog.getByRole('button', { name: 'Close' }).click();
    assert.equal((await c.api('POST', '/api/v1/deployments', { name: 'lake', cluster: 'dedicated-aws', runtimeVersion: '12.1.0', workloadIdentity: ROLE })).status, 201);
    await page.goto('/deployments/lake');
    await page.getByRole('button', { name: 'How to configure' }).click();
    dialog = page.getByRole('dialog', { name: /How to configure lake/ });
    await dialog.getByRole('radio', { name: /Wildcard/ }).check();
    const policy: unknown = JSON.parse((await dialog.getByLabel('trust-policy.json', { exact: true }).textContent())!);
    assert.deepEqual(policy, trustPolicy((await c.api<SetupDoc>('GET', '/api/v1/deployments/lake/identity/setup?wildcard=true')).body)?.content);
    assert.match(JSON.stringify(policy), /system:serviceaccount:\*:\*/);
    await dialog.getByRole('button', { name: 'Close' }).click();

    // Azure: one managed identity serves at most 3 Deployments (20 federated credentials / 6 components).
    const mi = { name: 'blob-mi', azure: { managedIdentityName: 'blob-mi', resourceGroup: 'data-rg', subscriptionId: guid(1), clientId: guid(2), tenantId: guid(3) } };
    assert.equal((await c.api('PUT', '/api/v1/identities', mi)).status, 200);
    for (const name of ['az1', 'az2', 'az3']) {
      assert.equal((await c.api('POST', '/api/v1/deployments', { name, cluster: 'prod-azure', runtimeVersion: '12.1.0', workloadIdentity: 'blob-mi' })).status, 201);
    }
    assert.equal((await c.api('POST', '/api/v1/deployments', { name: 'az4', cluster: 'prod-azure', runtimeVersion: '12.1.0' })).status, 201);
    await page.goto('/deployments/az4');
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('radio', { name: /Customer Managed Identity/ }).check();
    await page.getByRole('radio', { name: /Use a saved identity/ }).check();
    await page.getByLabel('Saved identity', { exact: true }).selectOption('blob-mi');
    await page.getByRole('button', { name: 'Update Deployment' }).click();
    await page.getByRole('alert').filter({ hasText: 'at most 3 Deployments can share it' }).waitFor();
    await c.shot(page, 'rule-azure-capacity');
    assert.equal((await c.api<Dep>('GET', '/api/v1/deployments/az4')).body.workloadIdentity, null);
  });

  it('creates a join credential shown once, lists it with last use and expiry, revokes it', async () => {
    await page.goto('/deployments/etl');
    await page.getByLabel('Component', { exact: true }).selectOption('worker');
    await page.getByLabel('Credential description').fill('ci runners');
    await page.getByRole('button', { name: 'Create join credential' }).click();
    const secret = (await page.getByLabel('Join credential', { exact: true }).textContent())!;
    assert.match(secret, /^alj_/);
    const exec = (await page.getByLabel('Run a command with it', { exact: true }).textContent())!;
    assert.match(exec, /airlock exec --server http:\/\/127\.0\.0\.1:\d+ --deployment etl --component worker -- <command>$/);
    await c.shot(page, 'join-credential-created');
    const listed = (await c.api<{ items: Cred[] }>('GET', '/api/v1/deployments/etl/credentials')).body.items;
    assert.equal(listed.length, 1);
    const cred = listed[0];
    assert.ok(cred);
    const table = page.getByRole('table', { name: 'Join credentials' });
    await table.getByRole('cell', { name: cred.id, exact: true }).waitFor();
    await table.getByRole('cell', { name: 'never' }).waitFor();
    await page.getByRole('button', { name: 'Done, I have copied it' }).click();
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is not shown again');
    await page.getByRole('button', { name: `Revoke ${cred.id}` }).click();
    await table.getByText('revoked').waitFor();
    assert.equal((await c.api<{ items: Cred[] }>('GET', '/api/v1/deployments/etl/credentials')).body.items[0]?.status, 'revoked');
  });

  it('registers a cluster: the API\'s field error under its field first, then the new issuer with its published key', async () => {
    await page.getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('button', { name: '+ Cluster' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register a cluster' });
    await dialog.getByLabel('Cluster name').fill('edge-gcp');
    await dialog.getByLabel('Cloud').selectOption('gcp');
    await dialog.getByLabel('Region').fill('us-central1');
    await dialog.getByLabel('Default identity project number').fill('not-a-number');
    await dialog.getByRole('button', { name: 'Register cluster' }).click();
    await dialog.locator('.field-error').first().waitFor();
    assert.equal(await dialog.getByLabel('Default identity project number').getAttribute('aria-invalid'), 'true', 'the error sits under the project number');
    assert.equal((await c.api('GET', '/api/v1/clusters/edge-gcp')).status, 404, 'nothing was created');
    await dialog.getByLabel('Default identity project number').fill('123456789012');
    await dialog.getByLabel('Default identity project', { exact: true }).fill('platform-prod');
    await dialog.getByRole('button', { name: 'Register cluster' }).click();
    await page.getByRole('status').filter({ hasText: 'Registered edge-gcp.' }).waitFor();
    const made = await c.api<{ id: string; cloud: string; region: string; defaultIdentityProjectNumber: string }>('GET', '/api/v1/clusters/edge-gcp');
    assert.equal(made.status, 200);
    assert.deepEqual([made.body.cloud, made.body.region, made.body.defaultIdentityProjectNumber], ['gcp', 'us-central1', '123456789012']);
    const keys = (await c.api<{ items: Key[] }>('GET', '/api/v1/clusters/edge-gcp/keys')).body.items;
    const card = page.getByRole('region', { name: 'edge-gcp' });
    await card.getByRole('table', { name: 'Signing keys of edge-gcp' }).getByRole('cell', { name: keys[0]!.kid, exact: true }).waitFor();
  });

  it("rotates a cluster's keys and shows the next key", async () => {
    await page.getByRole('link', { name: 'Clusters' }).click();
    const card = page.getByRole('region', { name: 'prod-aws' });
    const before = (await c.api<{ items: Key[] }>('GET', '/api/v1/clusters/prod-aws/keys')).body.items;
    await card.getByRole('link', { name: 'OpenID configuration of prod-aws' }).waitFor();
    await card.getByRole('button', { name: 'Rotate keys of prod-aws' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate the signing keys of prod-aws' });
    await dialog.getByRole('button', { name: 'Rotate keys' }).click();
    await card.getByRole('status').filter({ hasText: 'New signing key' }).waitFor();
    const keys = (await c.api<{ items: Key[] }>('GET', '/api/v1/clusters/prod-aws/keys')).body.items;
    assert.equal(keys.length, before.length + 1);
    const table = card.getByRole('table', { name: 'Signing keys of prod-aws' });
    for (const k of keys) await table.getByRole('cell', { name: k.kid, exact: true }).waitFor();
    const pending = keys.find((k) => k.state === 'pending');
    assert.ok(pending);
    await card.getByText(`${pending.kid} activates`).waitFor();
    await c.shot(page, 'clusters-rotated');
  });

  it('adds a secret variable that is never shown again, and loads .env text', async () => {
    const SECRET = 'hunter2-Zq8v5XcW';
    await page.goto('/deployments/etl');
    // The Deployment page's own link (the top bar has one too, to the workspace's page): wait for the page, not .last().
    await page.getByRole('main').getByRole('link', { name: 'Environment', exact: true }).click();
    await page.getByRole('heading', { name: 'Environment variables of etl' }).waitFor();
    await page.getByText('No variables yet').waitFor();
    const form = page.getByRole('form', { name: 'Add a variable' });
    await form.getByLabel('Key').fill('LAKE_PASSWORD');
    await form.getByRole('checkbox', { name: /Secret/ }).check();
    assert.equal(await form.getByLabel('Value').getAttribute('type'), 'password');
    await form.getByLabel('Value').fill(SECRET);
    await form.getByRole('button', { name: 'Add variable' }).click();
    await page.getByRole('status').filter({ hasText: 'Added LAKE_PASSWORD.' }).waitFor();
    const table = page.getByRole('table', { name: 'Variables of etl' });
    await table.getByRole('cell', { name: 'LAKE_PASSWORD', exact: true }).waitFor();
    await table.getByText('secret, hidden').waitFor();
    assert.equal(await form.getByLabel('Value').inputValue(), '', 'the form forgets the value once sent');

    const load = page.getByRole('form', { name: 'Load variables from .env text' });
    await load.getByLabel('.env text').fill('# pasted\nexport API_URL="https://lake.example.com"\nLOG_LEVEL=info\nLAKE_PASSWORD=again');
    await load.getByRole('button', { name: 'Load variables' }).click();
    await page.getByRole('status').filter({ hasText: 'Added API_URL, LOG_LEVEL. Already set, left unchanged (edit them instead): LAKE_PASSWORD.' }).waitFor();
    await table.getByRole('cell', { name: 'https://lake.example.com', exact: true }).waitFor();

    await page.reload();
    await table.getByRole('cell', { name: 'LAKE_PASSWORD', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Edit LAKE_PASSWORD' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit LAKE_PASSWORD' });
    assert.equal(await dialog.getByLabel('New value').inputValue(), '', 'a secret is never put back in a field');
    await c.shot(page, 'environment-variables');
    const html = await page.content();
    assert.ok(!html.includes(SECRET), 'the secret is nowhere in the page');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    const listed = (await c.api<{ items: { key: string; value: string | null; secret: boolean }[] }>('GET', '/api/v1/deployments/etl/variables')).body.items;
    assert.deepEqual(
      listed.map((v) => [v.key, v.secret, v.value]),
      [
        ['API_URL', false, 'https://lake.example.com'],
        ['LAKE_PASSWORD', true, null],
        ['LOG_LEVEL', false, 'info'],
      ],
    );
  });

  it('creates an AWS connection from the Deployment identity and links it; a password is never shown', async () => {
    await page.goto('/environment?deployment=etl');
    await page.getByText('No connections yet').waitFor();
    await page.getByRole('button', { name: '+ Connection' }).click();
    let dialog = page.getByRole('dialog', { name: 'New connection' });
    await dialog.getByRole('radio', { name: 'Amazon Web Services' }).check();
    await dialog.getByLabel('Connection ID').fill('aws_lake');
    await dialog.getByLabel('Create from identity').selectOption('deployment:etl');
    await dialog.getByRole('button', { name: 'Create connection' }).click();
    await page.getByRole('status').filter({ hasText: 'Connection aws_lake created' }).waitFor();
    interface Conn {
      connType: string;
      extra: Record<string, unknown>;
      passwordSet: boolean;
      deployments: { name: string }[];
    }
    const created = (await c.api<Conn>('GET', '/api/v1/connections/aws_lake')).body;
    assert.equal(created.connType, 'aws');
    assert.equal(created.extra.role_arn, ROLE);
    const table = page.getByRole('table', { name: 'Connections' });
    await table.getByRole('cell', { name: 'aws_lake', exact: true }).waitFor();
    assert.deepEqual(JSON.parse((await table.locator('pre.extra').first().textContent())!), created.extra, 'the extra shown is the API\'s');

    await page.getByRole('button', { name: 'Link aws_lake' }).click();
    dialog = page.getByRole('dialog', { name: 'Link aws_lake' });
    await dialog.getByRole('radio', { name: 'A Deployment' }).check();
    await dialog.getByLabel('Deployment', { exact: true }).selectOption('etl');
    await dialog.getByRole('button', { name: 'Link connection' }).click();
    await page.getByRole('status').filter({ hasText: 'aws_lake linked to etl.' }).waitFor();
    await page.getByRole('button', { name: 'Unlink aws_lake from etl' }).waitFor();
    assert.deepEqual((await c.api<Conn>('GET', '/api/v1/connections/aws_lake')).body.deployments.map((d) => d.name), ['etl']);

    // A generic connection with a password: stored, said to be set, never shown.
    const PASSWORD = 'pg-Secret-9d2kq';
    await page.getByRole('button', { name: '+ Connection' }).click();
    dialog = page.getByRole('dialog', { name: 'New connection' });
    await dialog.getByRole('radio', { name: 'Generic' }).check();
    await dialog.getByLabel('Connection ID').fill('lake_db');
    await dialog.getByLabel('Connection type').fill('postgres');
    await dialog.getByLabel('Host', { exact: true }).fill('db.internal');
    await dialog.getByLabel('Port', { exact: true }).fill('5432');
    await dialog.getByLabel('Login', { exact: true }).fill('etl');
    await dialog.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Create connection' }).click();
    await page.getByRole('status').filter({ hasText: 'Connection lake_db created' }).waitFor();
    await table.getByText('password set').waitFor();
    assert.equal((await c.api<Conn>('GET', '/api/v1/connections/lake_db')).body.passwordSet, true);
    await c.shot(page, 'environment-connections');
    // What etl reads: the API's rendering, the secret withheld and named.
    await page.getByRole('button', { name: 'Show rendered environment' }).click();
    await page.getByLabel('Format', { exact: true }).selectOption('airflow-connections-json');
    const rendered = (await c.api<{ content: string; withheld: string[] }>('GET', '/api/v1/deployments/etl/env?format=airflow-connections-json')).body;
    const shownEnv = page.getByLabel('Rendered Airflow connections file (JSON)', { exact: true });
    await shownEnv.waitFor();
    assert.equal(await shownEnv.textContent(), rendered.content);
    assert.match(rendered.content, /aws_lake/);

    // Resolve: the Environment Manager's aws_lake is used; an AIRFLOW_CONN_AWS_LAKE variable is shadowed.
    const v = await c.api('POST', '/api/v1/deployments/etl/variables', { variables: [{ key: 'AIRFLOW_CONN_AWS_LAKE', value: 'aws://?region_name=eu-west-1' }] });
    assert.equal(v.status, 201, JSON.stringify(v.body));
    await page.reload();
    const resolveForm = page.getByRole('form', { name: 'Resolve a connection' });
    await resolveForm.getByLabel('conn_id to resolve').fill('aws_lake');
    await resolveForm.getByRole('button', { name: 'Resolve' }).click();
    const region = page.getByRole('region', { name: 'Resolution of aws_lake' });
    await region.waitFor();
    const api = (await c.api<{ winner: string; steps: { source: string; status: string }[] }>('GET', '/api/v1/connections/aws_lake/resolve?deployment=etl')).body;
    assert.equal(api.winner, 'environment-manager');
    assert.ok(api.steps.some((x) => x.source === 'environment-variable' && x.status === 'shadowed'));
    await region.getByText('etl uses aws_lake from the Environment Manager').waitFor();
    const shownSteps = await region.locator('li.resolve-step').evaluateAll((els) => els.map((e) => e.className.replace('resolve-step resolve-', '')));
    assert.deepEqual(shownSteps, api.steps.map((x) => x.status), 'the steps, in the API\'s order and statuses');
    await c.shot(page, 'environment-resolve');
    assert.ok(!(await page.content()).includes(PASSWORD), 'the password is nowhere in the page');
  });

  it('edits a connection: an emptied field is cleared, the password kept, replaced or removed; a stale edit is refused and loses nothing', async () => {
    interface Conn {
      host: string | null;
      login: string | null;
      port: number | null;
      schema: string | null;
      description: string;
      passwordSet: boolean;
      version: number;
    }
    // What a workload of etl receives for lake_db: the one place its password can be read back.
    assert.equal((await c.api('POST', '/api/v1/connections/lake_db/link', { deployment: 'etl' })).status, 200);
    const credential = (await c.api<{ secret: string }>('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' })).body.secret;
    const delivered = () => workloadConnection(credential, 'lake_db');
    assert.equal((await delivered()).password, 'pg-Secret-9d2kq');
    const before = (await c.api<Conn>('GET', '/api/v1/connections/lake_db')).body;

    await page.goto('/environment?deployment=etl');
    await page.getByRole('button', { name: 'Edit lake_db' }).click();
    let dialog = page.getByRole('dialog', { name: 'Edit lake_db' });
    assert.equal(await dialog.getByLabel('Host', { exact: true }).inputValue(), 'db.internal', 'the form starts from the stored fields');
    assert.equal(await dialog.getByLabel('New password', { exact: true }).inputValue(), '', 'a stored password is never put in the form');
    await dialog.getByLabel('Host', { exact: true }).fill('db2.internal');
    await dialog.getByLabel('Login', { exact: true }).fill('');
    await dialog.getByLabel('Port', { exact: true }).fill('6432');
    await dialog.getByRole('button', { name: 'Save connection' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Connection lake_db saved.' }).waitFor();
    let after = (await c.api<Conn>('GET', '/api/v1/connections/lake_db')).body;
    assert.deepEqual([after.host, after.login, after.port, after.schema, after.passwordSet, after.version], ['db2.internal', null, 6432, before.schema, true, before.version + 1]);
    assert.deepEqual(await delivered(), { ...(await delivered()), host: 'db2.internal', password: 'pg-Secret-9d2kq' }, 'the password was kept');

    await page.getByRole('button', { name: 'Edit lake_db' }).click();
    dialog = page.getByRole('dialog', { name: 'Edit lake_db' });
    await dialog.getByLabel('New password', { exact: true }).fill('pg-Rotated-77x');
    await dialog.getByRole('button', { name: 'Save connection' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Connection lake_db saved.' }).waitFor();
    assert.equal((await delivered()).password, 'pg-Rotated-77x');

    // Changed elsewhere while the dialog is open: refused, nothing lost, the reason shown.
    await page.getByRole('button', { name: 'Edit lake_db' }).click();
    dialog = page.getByRole('dialog', { name: 'Edit lake_db' });
    assert.equal((await c.api('PATCH', '/api/v1/connections/lake_db', { description: 'changed by someone else' })).status, 200);
    await dialog.getByLabel('Schema', { exact: true }).fill('mine');
    await dialog.getByRole('button', { name: 'Save connection' }).click();
    await dialog.getByText('was changed by someone else').waitFor();
    after = (await c.api<Conn>('GET', '/api/v1/connections/lake_db')).body;
    assert.deepEqual([after.description, after.schema], ['changed by someone else', before.schema]);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('button', { name: 'Edit lake_db' }).click();
    dialog = page.getByRole('dialog', { name: 'Edit lake_db' });
    await dialog.getByLabel('Remove the stored password').check();
    await dialog.getByRole('button', { name: 'Save connection' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Connection lake_db saved.' }).waitFor();
    assert.equal((await c.api<Conn>('GET', '/api/v1/connections/lake_db')).body.passwordSet, false);
    assert.equal((await delivered()).password, null);
    assert.ok(!(await page.content()).includes('pg-Rotated-77x'), 'the password is nowhere in the page');
  });

  it("links a connection with overrides for one Deployment; linking again starts from the stored ones, so nothing is lost", async () => {
    interface Link {
      name: string;
      overrides: Record<string, unknown>;
      passwordOverridden: boolean;
    }
    const link = async () => (await c.api<{ deployments: Link[] }>('GET', '/api/v1/connections/lake_db')).body.deployments.find((l) => l.name === 'etl')!;
    const credential = (await c.api<{ secret: string }>('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' })).body.secret;
    const delivered = () => workloadConnection(credential, 'lake_db');
    const open = async () => {
      await page.getByRole('button', { name: 'Link lake_db', exact: true }).click();
      const dialog = page.getByRole('dialog', { name: 'Link lake_db' });
      await dialog.getByRole('radio', { name: 'A Deployment' }).check();
      await dialog.getByLabel('Deployment', { exact: true }).selectOption('etl');
      return dialog;
    };
    const submit = async (dialog: ReturnType<Page['getByRole']>) => {
      await dialog.getByRole('button', { name: 'Link connection' }).click();
      await dialog.waitFor({ state: 'detached' });
    };
    await page.goto('/environment?deployment=etl');
    assert.deepEqual((await link()).overrides, {});

    let dialog = await open();
    assert.equal(await dialog.getByLabel('Host override', { exact: true }).inputValue(), '');
    await dialog.getByLabel('Host override', { exact: true }).fill('replica.internal');
    await dialog.getByLabel('Extra override (JSON)').fill('{"sslmode": "require"}');
    await dialog.getByLabel('Password override', { exact: true }).fill('replica-Secret-31');
    await submit(dialog);
    assert.deepEqual(await link(), { ...(await link()), overrides: { host: 'replica.internal', extra: { sslmode: 'require' } }, passwordOverridden: true });
    let fields = await delivered();
    assert.deepEqual([fields.host, fields.password, fields.extra.sslmode], ['replica.internal', 'replica-Secret-31', 'require']);
    await page.getByRole('table', { name: 'Connections' }).getByText('(overrides)').first().waitFor();

    // Linking again without touching the form keeps every override, the password's too.
    dialog = await open();
    assert.equal(await dialog.getByLabel('Host override', { exact: true }).inputValue(), 'replica.internal');
    assert.deepEqual(JSON.parse(await dialog.getByLabel('Extra override (JSON)').inputValue()), { sslmode: 'require' });
    assert.equal(await dialog.getByLabel('Password override', { exact: true }).inputValue(), '', 'a stored password override is never put in the form');
    await submit(dialog);
    assert.deepEqual((await link()).overrides, { host: 'replica.internal', extra: { sslmode: 'require' } });
    assert.equal((await delivered()).password, 'replica-Secret-31');

    // Emptying a field drops its override; the password override can be removed.
    dialog = await open();
    await dialog.getByLabel('Host override', { exact: true }).fill('');
    await dialog.getByLabel('Remove the password override').check();
    await submit(dialog);
    const after = await link();
    assert.deepEqual([after.overrides, after.passwordOverridden], [{ extra: { sslmode: 'require' } }, false]);
    fields = await delivered();
    assert.deepEqual([fields.host, fields.password], ['db2.internal', null]);
    await c.shot(page, 'connection-link-overrides');
    assert.ok(!(await page.content()).includes('replica-Secret-31'), 'the password override is nowhere in the page');
  });

  it("imports an airflow connections export file into a Deployment's metadata database (all or nothing), lists and deletes its connections", async () => {
    interface Meta {
      connId: string;
      connType: string | null;
      host: string | null;
      passwordSet: boolean;
      source: string;
    }
    const stored = async () => (await c.api<{ items: Meta[] }>('GET', '/api/v1/deployments/etl/metastore-connections')).body.items;
    await page.goto('/environment?deployment=etl');
    const card = page.getByRole('region', { name: 'Metadata database connections of etl' });
    await card.getByText('None imported').waitFor();

    // A file that does not parse: refused with the API's reason, nothing imported.
    await card.getByRole('button', { name: 'Import file' }).click();
    let dialog = page.getByRole('dialog', { name: 'Import connections into etl' });
    // The file is read asynchronously: wait until its text is in the form.
    const fileRead = () => page.waitForFunction(() => Array.from(document.querySelectorAll('dialog textarea')).some((t) => (t as HTMLTextAreaElement).value.length > 0));
    await dialog.getByLabel('File from airflow connections export').setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from('{"reporting_db": {"conn_type": ') });
    await fileRead();
    assert.equal(await dialog.getByLabel('Format', { exact: true }).inputValue(), 'json', 'the format follows the file name');
    await dialog.getByRole('button', { name: 'Import' }).click();
    await dialog.getByText('Nothing was imported').waitFor();
    assert.equal(await dialog.getByText('Choose a file or paste its content.').count(), 0, "the API's refusal, not the form's");
    assert.deepEqual(await stored(), []);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    const yaml = ['reporting_db:', '  conn_type: postgres', '  host: reports.internal', '  login: rep', '  password: rep-Secret-55', '  port: 5432', 'slack_alerts:', '  conn_type: http', '  host: hooks.slack.example.com', ''].join('\n');
    await card.getByRole('button', { name: 'Import file' }).click();
    dialog = page.getByRole('dialog', { name: 'Import connections into etl' });
    await dialog.getByLabel('File from airflow connections export').setInputFiles({ name: 'connections.yaml', mimeType: 'text/plain', buffer: Buffer.from(yaml) });
    await fileRead();
    assert.equal(await dialog.getByLabel('Format', { exact: true }).inputValue(), 'yaml');
    await dialog.getByRole('button', { name: 'Import' }).click();
    await dialog.waitFor({ state: 'detached' });
    await card.getByRole('status').filter({ hasText: "Imported into etl's metadata database: created reporting_db, slack_alerts." }).waitFor();
    const items = await stored();
    assert.deepEqual(
      items.map((m) => [m.connId, m.connType, m.host, m.passwordSet, m.source]),
      [
        ['reporting_db', 'postgres', 'reports.internal', true, 'connections.yaml'],
        ['slack_alerts', 'http', 'hooks.slack.example.com', false, 'connections.yaml'],
      ],
    );
    const table = card.getByRole('table', { name: 'Metadata database connections of etl' });
    await table.getByRole('row', { name: /reporting_db .*password set/ }).waitFor();

    await table.getByRole('button', { name: 'Delete slack_alerts from the metadata database' }).click();
    await page.getByRole('dialog', { name: 'Delete slack_alerts?' }).getByRole('button', { name: 'Delete connection' }).click();
    await card.getByRole('status').filter({ hasText: "slack_alerts deleted from etl's metadata database." }).waitFor();
    assert.deepEqual((await stored()).map((m) => m.connId), ['reporting_db']);
    await c.shot(page, 'metastore-imported');
    assert.ok(!(await page.content()).includes('rep-Secret-55'), 'the imported password is nowhere in the page');
  });

  it('creates an API token shown once, rotates it without an overlap, revokes it; each step holds against the API', async () => {
    const works = async (token: string) => (await fetch(`${c.url}/api/v1/deployments`, { headers: { authorization: `Bearer ${token}` } })).status;
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'API tokens' }).waitFor();
    const form = page.getByRole('form', { name: 'Create an API token' });
    // The API's field error, under its field.
    await form.getByRole('button', { name: 'Create token' }).click();
    await form.locator('.field-error').first().waitFor();
    assert.equal(await form.getByLabel('Token name').getAttribute('aria-invalid'), 'true', 'the error sits under the name');
    assert.equal(await form.locator('.field-error').count(), 1);
    await form.getByLabel('Token name').fill('ci-deployer');
    await form.getByLabel('Role').selectOption('workspace-operator');
    await form.getByLabel('Workspace').fill('default');
    await form.getByRole('button', { name: 'Create token' }).click();
    const banner = page.getByRole('region', { name: 'New API token' });
    const first = (await banner.locator('pre, code').first().textContent())!.trim();
    assert.match(first, /^alk_[0-9a-z]{20}_[A-Za-z0-9_-]{43}$/);
    assert.equal(await works(first), 200, 'the token shown works');
    const table = page.getByRole('table', { name: 'API tokens' });
    const row = table.getByRole('row').filter({ hasText: 'ci-deployer' });
    await row.getByText('workspace-operator').waitFor();
    await row.getByText('Workspace default').waitFor();
    const listed = (await c.api<{ items: { id: string; name: string; status: string }[] }>('GET', '/api/v1/tokens')).body.items.find((t) => t.name === 'ci-deployer');
    assert.ok(listed && listed.status === 'live');
    await banner.getByRole('button', { name: 'Done, I have copied it' }).click();
    assert.ok(!(await page.content()).includes(first.slice(25)), 'once dismissed, the secret is gone from the page');

    await row.getByRole('button', { name: 'Rotate ci-deployer' }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate ci-deployer' });
    await rotate.getByLabel('Overlap').fill('0');
    await rotate.getByRole('button', { name: 'Rotate', exact: true }).click();
    await banner.getByText('Rotated ci-deployer.').waitFor();
    const second = (await banner.locator('pre, code').first().textContent())!.trim();
    assert.notEqual(second, first);
    assert.equal(second.slice(0, 24), first.slice(0, 24), 'the same token id');
    assert.equal(await works(first), 401, 'no overlap: the old secret stops at once');
    assert.equal(await works(second), 200);
    await c.shot(page, 'tokens-rotated');
    await banner.getByRole('button', { name: 'Done, I have copied it' }).click();

    await row.getByRole('button', { name: 'Revoke ci-deployer' }).click();
    await page.getByRole('dialog', { name: 'Revoke ci-deployer' }).getByRole('button', { name: 'Revoke token' }).click();
    await row.getByText('revoked').waitFor();
    assert.equal(await works(second), 401);
  });

  it('shows the audit log newest first, filters it, opens a record, and verifies the chain', async () => {
    type AuditRec = { seq: number; action: string; targetType: string; targetId: string; targetName: string; result: string };
    await page.getByRole('link', { name: 'Audit', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    const table = page.getByRole('table', { name: 'Audit records' });
    const rowCount = (n: number) =>
      page.waitForFunction((want) => document.querySelectorAll('table[aria-label="Audit records"] tbody tr').length === want, n);
    // The first page is the API's newest 50, in its order.
    const newest = (await c.api<{ items: AuditRec[] }>('GET', '/api/v1/audit?order=newest&limit=50')).body.items;
    assert.ok(newest.length >= 10, `enough history from the earlier tests: ${newest.length}`);
    await rowCount(newest.length);
    const shownSeqs = await table.locator('tbody tr td:first-child').allTextContents();
    assert.deepEqual(shownSeqs.map(Number), newest.map((r) => r.seq));

    // Filtered by action: exactly the key rotation of the clusters test.
    const rotations = (await c.api<{ items: AuditRec[] }>('GET', '/api/v1/audit?action=cluster.rotate-keys')).body.items;
    assert.equal(rotations.length, 1, JSON.stringify(rotations));
    const form = page.getByRole('form', { name: 'Filter the audit log' });
    await form.getByLabel('Action').fill('cluster.rotate-keys');
    await form.getByRole('button', { name: 'Filter' }).click();
    await rowCount(1);
    const row = table.getByRole('row').nth(1);
    const rot = rotations[0]!;
    await row.getByRole('cell', { name: `${rot.targetName || rot.targetId} ${rot.targetType}`, exact: true }).waitFor();
    await row.getByText('success').waitFor();
    await row.getByText('Show').click();
    await row.getByText(/"requestId": "/).waitFor();
    await c.shot(page, 'audit-filtered');

    // A filter nothing matches says so; Clear brings everything back.
    await form.getByLabel('Action').fill('nothing.matches');
    await form.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No record matches').waitFor();
    await form.getByRole('button', { name: 'Clear' }).click();
    await rowCount(newest.length);

    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByRole('status').filter({ hasText: /Chain intact: \d+ record\(s\) check out/ }).waitFor();
    assert.ok(!(await page.content()).includes('hunter2-Zq8v5XcW'), "the secret variable's value is nowhere in the log's page");
  });

  it('lists the backups the server took, takes one now, and shows how to restore the newest', async () => {
    type List = { dir: string; dataDir: string; intervalSeconds: number; items: { name: string; path: string }[] };
    await page.getByRole('link', { name: 'Backups', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Backups' }).waitFor();
    const before = (await c.api<List>('GET', '/api/v1/backups')).body;
    assert.ok(before.items.length >= 1, 'airlock serve took one at start');
    await page.getByText(`In ${before.dir}, every day; the newest 7 are kept.`).waitFor();
    const table = page.getByRole('table', { name: 'Backups' });
    await table.getByText(before.items[0]!.name, { exact: true }).waitFor();

    await page.getByRole('button', { name: 'Back up now' }).click();
    const made = await page.getByRole('status').filter({ hasText: /^Wrote airlock-.*\.db \(\d+ KiB\)\.$/ }).textContent();
    const after = (await c.api<List>('GET', '/api/v1/backups')).body;
    assert.equal(after.items.length, before.items.length + 1);
    assert.ok(made?.includes(after.items[0]!.name), `${made} names the API's newest`);
    await table.locator('tbody tr').nth(after.items.length - 1).waitFor();
    assert.deepEqual(await table.locator('tbody tr td:first-child').allTextContents(), after.items.map((b) => b.name), 'newest first, as the API lists them');
    await page.getByRole('figure').filter({ hasText: `npx airlock backup restore ${after.items[0]!.path} --data-dir ${after.dataDir}` }).waitFor();
    await c.shot(page, 'backups');
  });

  it('an organization token picks the workspace in the top bar; each workspace shows its own Deployments, and the choice lasts', async () => {
    assert.equal((await c.api('POST', '/api/v1/workspaces', { name: 'analytics' })).status, 201);
    const mk = await c.api('POST', '/api/v1/deployments?workspace=analytics', { name: 'quarterly', cluster: 'prod-aws', runtimeVersion: '12.1.0' });
    assert.equal(mk.status, 201, JSON.stringify(mk.body));
    await page.goto('/deployments');
    const picker = page.getByRole('combobox', { name: 'Workspace' });
    await page.getByRole('link', { name: 'etl', exact: true }).waitFor();
    assert.equal(await picker.locator('option:checked').textContent(), 'default');
    await picker.selectOption({ label: 'analytics' });
    await page.getByRole('link', { name: 'quarterly', exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'etl', exact: true }).count(), 0, "the default workspace's Deployment is not listed in analytics");
    // The choice survives a reload (the tab's session) and reaches the pages' writes too.
    await page.reload();
    await page.getByRole('link', { name: 'quarterly', exact: true }).waitFor();
    assert.equal(await picker.locator('option:checked').textContent(), 'analytics');
    await c.shot(page, 'workspace-analytics');
    await picker.selectOption({ label: 'default' });
    await page.getByRole('link', { name: 'etl', exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'quarterly', exact: true }).count(), 0);
  });

  it('works in a narrow window', async () => {
    const narrow = await c.page({ width: 390, height: 800 });
    await c.signIn(narrow);
    await narrow.getByRole('link', { name: 'etl', exact: true }).click();
    await narrow.getByRole('heading', { name: 'Workload Identity' }).waitFor();
    const overflow = await narrow.evaluate(() => {
      const wide = Array.from(document.querySelectorAll('body *')).filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !e.closest('pre') && !e.parentElement?.closest('.table-wrap'));
      return { by: document.documentElement.scrollWidth - document.documentElement.clientWidth, what: wide.slice(0, 8).map((e) => `${e.tagName}.${e.className}:${Math.round(e.getBoundingClientRect().right)}`) };
    });
    assert.ok(overflow.by <= 0, `no horizontal scroll at 390px (overflow ${JSON.stringify(overflow)})`);
    await c.shot(narrow, 'narrow-deployment');
    await narrow.context().close();
  });

  it('lists saved identities with their use; deletes an unused one, and a used one only when its Deployments are moved to the default identity', async () => {
    assert.equal((await c.api('PUT', '/api/v1/identities', { name: 'spare-reader', awsRoleArn: 'arn:aws:iam::123456789012:role/spare' })).status, 200);
    await page.goto('/deployments');
    const table = page.getByRole('table', { name: 'Saved identities' });
    const used = (await c.api<{ workloadIdentityOptions: { name: string; deploymentsUsing: number; capacity?: number }[] }>('GET', '/api/v1/deployment-options')).body.workloadIdentityOptions;
    assert.deepEqual(used.filter((o) => o.name !== 'blob-mi').map((o) => [o.name, o.deploymentsUsing]), [['etl-reader', 1], ['spare-reader', 0]]);
    await table.getByRole('row', { name: /etl-reader .* 1 Deployment\b/ }).waitFor();
    await table.getByRole('row', { name: /spare-reader .* 0 Deployments/ }).waitFor();

    await page.getByRole('button', { name: 'Delete saved identity spare-reader' }).click();
    let dialog = page.getByRole('dialog', { name: 'Delete saved identity spare-reader?' });
    await dialog.getByRole('button', { name: 'Delete saved identity' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved identity spare-reader was deleted.' }).waitFor();
    assert.equal((await c.api('GET', '/api/v1/identities/spare-reader')).status, 404);

    // In use by reports: refused with the API's reason until the move is ticked; nothing changes meanwhile.
    await page.getByRole('button', { name: 'Delete saved identity etl-reader' }).click();
    dialog = page.getByRole('dialog', { name: 'Delete saved identity etl-reader?' });
    await dialog.getByRole('button', { name: 'Delete saved identity' }).click();
    await dialog.getByText('is used by 1 Deployment(s): reports').waitFor();
    assert.equal((await c.api<Dep>('GET', '/api/v1/deployments/reports')).body.workloadIdentity?.savedIdentityName, 'etl-reader');
    await dialog.getByLabel(/Move the 1 Deployment using it to the default identity/).check();
    await dialog.getByRole('button', { name: 'Delete saved identity' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved identity etl-reader was deleted. reports now uses the default identity.' }).waitFor();
    assert.equal((await c.api('GET', '/api/v1/identities/etl-reader')).status, 404);
    const reports = (await c.api<Dep>('GET', '/api/v1/deployments/reports')).body;
    assert.equal(reports.workloadIdentity, null);
    assert.equal(reports.effectiveWorkloadIdentity.mode, 'default');
    await table.getByRole('row', { name: /etl-reader/ }).waitFor({ state: 'detached' });
    const blob = used.find((o) => o.name === 'blob-mi')!;
    await table.getByRole('row', { name: new RegExp(`blob-mi .* ${blob.deploymentsUsing} Deployments of ${blob.capacity}`) }).waitFor();
    await c.shot(page, 'saved-identities-deleted');
  });

  it("offers only what the signed-in token's role may do: a workspace viewer reads, a deployment-admin works on its Deployment", async () => {
    const mint = async (body: Record<string, unknown>) => {
      const r = await c.api<{ token: string }>('POST', '/api/v1/tokens', body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.token;
    };
    const signInAs = async (token: string) => {
      const p = await c.page();
      await p.goto('/');
      await p.getByLabel('API token').fill(token);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
      await p.getByRole('banner').getByText(/ · /).waitFor(); // the role is known: the page offers what it may do
      return p;
    };
    const navOf = async (p: Page) => (await p.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).map((t) => t.trim());

    const viewer = await signInAs(await mint({ name: 'ui-viewer', role: 'workspace-viewer', workspace: 'default' }));
    await viewer.getByRole('banner').getByText('ui-viewer · workspace-viewer', { exact: true }).waitFor();
    await viewer.getByRole('link', { name: 'etl', exact: true }).waitFor();
    assert.deepEqual(await navOf(viewer), ['Deployments', 'Environment', 'Clusters'], 'no Tokens, no Audit: its role reads neither');
    assert.equal(await viewer.getByRole('button', { name: '+ Deployment' }).count(), 0);
    assert.equal(await viewer.getByRole('button', { name: 'Delete etl' }).count(), 0);
    await viewer.getByRole('link', { name: 'etl', exact: true }).click();
    await viewer.getByRole('heading', { name: 'Join credentials' }).waitFor();
    for (const name of ['Delete Deployment', 'Edit', 'Change runtime', 'Create join credential']) {
      assert.equal(await viewer.getByRole('button', { name, exact: true }).count(), 0, name);
    }
    await viewer.goto('/environment?deployment=etl');
    await viewer.getByRole('table', { name: 'Connections', exact: true }).waitFor();
    await viewer.getByRole('table', { name: 'Variables of etl' }).waitFor();
    for (const name of ['+ Connection', 'Edit lake_db', 'Link lake_db', 'Delete lake_db', 'Import file', 'Add variable', 'Load variables']) {
      assert.equal(await viewer.getByRole('button', { name, exact: true }).count(), 0, name);
    }
    await c.shot(viewer, 'viewer-environment');
    await viewer.context().close();

    // A deployment-admin of etl: its Deployment only; it manages credentials and variables, reads connections.
    const admin = await signInAs(await mint({ name: 'ui-etl-admin', role: 'deployment-admin', workspace: 'default', deployment: 'etl' }));
    assert.deepEqual(await navOf(admin), ['Deployments', 'Environment']);
    await admin.getByRole('link', { name: 'etl', exact: true }).click();
    await admin.getByRole('button', { name: 'Create join credential' }).waitFor();
    assert.equal(await admin.getByRole('button', { name: 'Delete Deployment' }).count(), 0);
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Environment' }).click();
    await admin.getByRole('table', { name: 'Connections', exact: true }).getByText('lake_db', { exact: true }).waitFor();
    await admin.getByRole('button', { name: 'Add variable' }).waitFor();
    assert.equal(await admin.getByRole('button', { name: 'Edit lake_db' }).count(), 0, 'reads connections, does not change them');
    await admin.context().close();
  });
});
