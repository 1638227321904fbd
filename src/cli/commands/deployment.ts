import type { Command } from 'commander';
import { registerCredentialCommands } from './credentials.ts';
import { registerVariableCommands } from './variables.ts';
import { stringify as toYaml } from 'yaml';
import { createClient, CliError, withWorkspaceOption, type ApiFlags, type OutputFlags } from '../client.ts';
import { setExitCode } from '../exit.ts';
import { readFileOrStdin } from '../input.ts';
import { parseFormat, print, table, type Column } from '../output.ts';

interface IdentityJson {
  cloud: string;
  value: string;
  type?: string;
  mode?: string;
  savedIdentityName?: string;
}

interface DeploymentJson {
  id: string;
  name: string;
  clusterName: string;
  cloud: string;
  runtimeVersion: string;
  namespace: string;
  oidcIssuerUrl: string;
  workloadIdentity: IdentityJson | null;
  effectiveWorkloadIdentity: IdentityJson | null;
  effectiveWorkloadIdentityReason?: string;
  components: { component: string; serviceAccount: string; subject: string }[];
}

interface SetupJson {
  cloud: string;
  mode: string;
  issuerUrl: string;
  audience: string;
  subjects: string[];
  steps: { title: string; description?: string; commands: string[]; document?: { filename: string; content: unknown } }[];
  connection: { conn_type: string; extra: Record<string, unknown> };
  environment?: Record<string, string>;
  placeholders: { name: string; description: string }[];
  notes: string[];
}

interface CheckJson {
  cloud: string;
  mode: string;
  checked: string;
  ok: boolean;
  checks: { principal: string; component?: string; trusted: boolean; reason: string }[];
  findings: { severity: 'error' | 'warning' | 'info'; message: string }[];
}

const enc = encodeURIComponent;

/** The setup options `identity setup` and `identity check` both take (the check evaluates against the same setup). */
function setupOptions(cmd: Command): Command {
  return cmd
    .option('--wildcard', 'dedicated clusters only: trust every service account of the cluster (system:serviceaccount:*:*)')
    .option('--target-role-arn <arn>', 'default identity on AWS: your role that the default identity assumes')
    .option('--target-service-account <email>', 'default identity on GCP: the service account to impersonate')
    .option('--gcp-route <route>', 'default identity on GCP: impersonation | direct-grant')
    .option('--project <id>', 'GCP project for direct grants or the secrets backend')
    .option('--role <role>', 'GCP role to grant directly, e.g. roles/bigquery.dataViewer');
}

/** The setup options both `identity setup` and `identity check` take, as the API's query. */
function setupQuery(o: SetupOptionFlags): URLSearchParams {
  const q = new URLSearchParams();
  if (o.wildcard) q.set('wildcard', 'true');
  if (o.targetRoleArn) q.set('targetRoleArn', o.targetRoleArn);
  if (o.targetServiceAccount) q.set('targetServiceAccount', o.targetServiceAccount);
  if (o.gcpRoute) q.set('gcpRoute', o.gcpRoute);
  if (o.project) q.set('project', o.project);
  if (o.role) q.set('role', o.role);
  return q;
}

/** A check as a person reads it: one line per principal, then the findings, then the verdict. */
export function renderCheck(deployment: string, c: CheckJson): string {
  const out = [`Deployment ${deployment} against ${c.checked} (${c.cloud}, ${c.mode})`, ''];
  out.push(table(c.checks, [
    { header: 'COMPONENT', get: (r) => r.component ?? '(all)' },
    { header: 'TRUSTED', get: (r) => (r.trusted ? 'yes' : 'NO') },
    { header: 'PRINCIPAL', get: (r) => r.principal },
    { header: 'WHY', get: (r) => r.reason },
  ]));
  if (c.findings.length) out.push('', ...c.findings.map((f) => `${f.severity}: ${f.message}`));
  const refused = c.checks.filter((r) => !r.trusted).length;
  const errors = c.findings.filter((f) => f.severity === 'error').length;
  const problems = [refused && `${refused} of ${c.checks.length} not trusted`, errors && `${errors} error${errors === 1 ? '' : 's'}`].filter(Boolean);
  out.push('', c.ok ? 'OK: everything the Deployment needs is trusted, and nothing found trusts more.' : `NOT OK: ${problems.join(', ')}.`);
  return out.join('\n');
}

const effectiveLabel = (d: DeploymentJson) =>
  d.effectiveWorkloadIdentity ? `${d.effectiveWorkloadIdentity.value}${d.effectiveWorkloadIdentity.mode === 'default' ? ' (default)' : ''}` : '(none)';

const columns: Column<DeploymentJson>[] = [
  { header: 'NAME', get: (d) => d.name },
  { header: 'ID', get: (d) => d.id },
  { header: 'CLUSTER', get: (d) => d.clusterName },
  { header: 'RUNTIME', get: (d) => d.runtimeVersion },
  { header: 'NAMESPACE', get: (d) => d.namespace },
  { header: 'WORKLOAD IDENTITY', get: effectiveLabel },
];

/** Renders setup as the steps a person follows (the UI's "How to configure"). */
export function renderSetup(deployment: string, s: SetupJson): string {
  const out: string[] = [];
  out.push(`Workload identity setup for Deployment ${deployment} (${s.cloud}, ${s.mode})`);
  out.push(`  Issuer:   ${s.issuerUrl}`, `  Audience: ${s.audience}`, '  Subjects:', ...s.subjects.map((x) => `    ${x}`), '');
  s.steps.forEach((step, i) => {
    out.push(`Step ${i + 1}. ${step.title}`);
    if (step.description) out.push(...step.description.split('\n').map((l) => `  ${l}`));
    if (step.document) {
      out.push(`  Save as ${step.document.filename}:`);
      const text = typeof step.document.content === 'string' ? step.document.content : JSON.stringify(step.document.content, null, 2);
      out.push(...text.split('\n').map((l) => `    ${l}`));
    }
    for (const c of step.commands) out.push(...c.split('\n').map((l, j) => (j === 0 ? `  $ ${l}` : `    ${l}`)));
    out.push('');
  });
  out.push(`Airflow connection (conn_type ${s.connection.conn_type}), extra:`);
  out.push(...JSON.stringify(s.connection.extra, null, 2).split('\n').map((l) => `  ${l}`));
  if (s.environment && Object.keys(s.environment).length) {
    out.push('', 'Environment:');
    for (const [k, v] of Object.entries(s.environment)) out.push(`  ${k}=${v}`);
  }
  if (s.placeholders.length) {
    out.push('', 'Replace these placeholders:');
    for (const p of s.placeholders) out.push(`  \${${p.name}}: ${p.description}`);
  }
  if (s.notes.length) {
    out.push('', 'Notes:');
    for (const n of s.notes) out.push(`  - ${n}`);
  }
  return out.join('\n');
}

export function registerDeploymentCommands(program: Command): void {
  const dep = program.command('deployment').description('Manage Deployments and their workload identities');
  const out = (cmd: Command) => cmd.option('-o, --output <format>', 'table | json | yaml', 'table');
  const wi =
    'an IAM role ARN, a Google service account email, the name of a saved identity, or "default"';

  out(
    dep
      .command('create')
      .description('Create a Deployment')
      .requiredOption('--name <name>', 'DNS-1123 label, e.g. etl')
      .requiredOption('--cluster <cluster>', 'cluster id or name')
      .requiredOption('--runtime-version <version>', 'runtime version, e.g. 12.1.0')
      .option('--description <text>', 'description')
      .option('--workload-identity <identity>', wi),
  ).action(async (o: OutputFlags & { name: string; cluster: string; runtimeVersion: string; description?: string; workloadIdentity?: string }) => {
    const body: Record<string, unknown> = { name: o.name, cluster: o.cluster, runtimeVersion: o.runtimeVersion };
    if (o.description !== undefined) body.description = o.description;
    if (o.workloadIdentity !== undefined) body.workloadIdentity = o.workloadIdentity;
    print(parseFormat(o.output), await createClient({ workspace: o.workspace }).request<DeploymentJson>('POST', '/api/v1/deployments', body), columns);
  });

  out(
    dep
      .command('update')
      .argument('<deployment>', 'id or name')
      .description('Update a Deployment; options not given are left as they are')
      .option('--runtime-version <version>', 'runtime version')
      .option('--description <text>', 'description')
      .option('--workload-identity <identity>', wi),
  ).action(async (ref: string, o: OutputFlags & { runtimeVersion?: string; description?: string; workloadIdentity?: string }) => {
    const body: Record<string, unknown> = {};
    if (o.runtimeVersion !== undefined) body.runtimeVersion = o.runtimeVersion;
    if (o.description !== undefined) body.description = o.description;
    if (o.workloadIdentity !== undefined) body.workloadIdentity = o.workloadIdentity;
    print(parseFormat(o.output), await createClient({ workspace: o.workspace }).request<DeploymentJson>('PATCH', `/api/v1/deployments/${enc(ref)}`, body), columns);
  });

  out(
    dep
      .command('inspect')
      .argument('<deployment>', 'id or name')
      .description('Show a Deployment')
      .option('--show-workload-identity', 'only the workload identity: configured, in force, issuer and subjects'),
  ).action(async (ref: string, o: OutputFlags & { showWorkloadIdentity?: boolean }) => {
    const d = await createClient({ workspace: o.workspace }).request<DeploymentJson>('GET', `/api/v1/deployments/${enc(ref)}`);
    const format = parseFormat(o.output);
    if (!o.showWorkloadIdentity) {
      if (format === 'table') {
        process.stdout.write(toYaml(d));
        return;
      }
      print(format, d, columns);
      return;
    }
    const wiView: Record<string, unknown> = {
      workloadIdentity: d.workloadIdentity,
      effectiveWorkloadIdentity: d.effectiveWorkloadIdentity,
      oidcIssuerUrl: d.oidcIssuerUrl,
      subjects: d.components.map((c) => c.subject),
    };
    if (d.effectiveWorkloadIdentityReason) wiView.effectiveWorkloadIdentityReason = d.effectiveWorkloadIdentityReason;
    if (format === 'table') {
      process.stdout.write(`${effectiveLabel(d)}\n`);
      if (d.effectiveWorkloadIdentityReason) process.stderr.write(`${d.effectiveWorkloadIdentityReason}\n`);
      return;
    }
    print(format, wiView, []);
  });

  out(dep.command('list').description('List Deployments').option('--cluster <cluster>', 'only this cluster')).action(async (o: OutputFlags & { cluster?: string }) => {
    const client = createClient({ workspace: o.workspace });
    const items: DeploymentJson[] = [];
    let cursor: string | undefined;
    do {
      const q = new URLSearchParams({ limit: '100' });
      if (o.cluster) q.set('cluster', o.cluster);
      if (cursor) q.set('cursor', cursor);
      const page = await client.request<{ items: DeploymentJson[]; nextCursor?: string }>('GET', `/api/v1/deployments?${q}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    print(parseFormat(o.output), items, columns);
  });

  dep
    .command('delete')
    .argument('<deployment>', 'id or name')
    .description('Delete a Deployment')
    .action(async (ref: string, o: ApiFlags) => {
      await createClient({ workspace: o.workspace }).request('DELETE', `/api/v1/deployments/${enc(ref)}`);
      process.stdout.write(`deployment ${ref} deleted\n`);
    });

  registerCredentialCommands(dep);
  registerVariableCommands(dep);

  const identity = dep.command('identity').description("A Deployment's workload identity");
  setupOptions(identity.command('setup'))
    .argument('<deployment>', 'id or name')
    .description('What to run in the cloud so it trusts this Deployment')
    .option('-o, --output <format>', 'text | json | yaml', 'text')
    .option('--format <format>', 'steps | terraform', 'steps')
    .action(async (ref: string, o: SetupFlags) => {
      const q = setupQuery(o);
      const qs = q.size ? `?${q}` : '';
      const client = createClient({ workspace: o.workspace });
      if (o.format === 'terraform') {
        process.stdout.write(await client.request<string>('GET', `/api/v1/deployments/${enc(ref)}/identity/terraform${qs}`));
        return;
      }
      if (o.format !== 'steps') throw new CliError(`unknown --format "${o.format}"`, 'ERR_VALIDATION', '--format', 'steps | terraform', 2);
      const s = await client.request<SetupJson>('GET', `/api/v1/deployments/${enc(ref)}/identity/setup${qs}`);
      if (o.output === 'json') process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      else if (o.output === 'yaml') process.stdout.write(toYaml(s));
      else if (o.output === 'text') process.stdout.write(renderSetup(ref, s) + '\n');
      else throw new CliError(`unknown output format "${o.output}"`, 'ERR_VALIDATION', '-o', 'text | json | yaml', 2);
    });
  const check = identity
    .command('check')
    .argument('<deployment>', 'id or name')
    .description(
      "Check what the cloud holds against what the Deployment needs: each component trusted, nobody else. Exits 1 when not. AWS: the role's trust policy (`aws iam get-role --role-name R --output json`); Azure: the managed identity's federated credentials (`az identity federated-credential list --identity-name I --resource-group G -o json`); GCP: the pool provider (`gcloud iam workload-identity-pools providers describe … --format=json`) and, to check the grant too, the service account's policy",
    )
    .option('--trust-policy <file>', "AWS: the role's trust policy, or `aws iam get-role` output (- reads stdin)")
    .option('--federated-credentials <file>', 'Azure: `az identity federated-credential list -o json` output (- reads stdin)')
    .option('--provider <file>', 'GCP: `gcloud iam workload-identity-pools providers describe … --format=json` output (- reads stdin)')
    .option('--service-account-policy <file>', 'GCP, optional: `gcloud iam service-accounts get-iam-policy <account> --format=json` output for the account the components become')
    .option('--platform-trust-policy <file>', "default identity on AWS, optional: the default role's trust policy or get-role output (the platform operator's side)")
    .option('--target-policy <file>', "default identity on GCP, optional: get-iam-policy of your target service account (impersonation) or project (direct grant)");
  setupOptions(check)
    .option('-o, --output <format>', 'text | json | yaml', 'text')
    .action(async (ref: string, o: CheckFlags) => {
      const given = (
        [
          ['trustPolicy', o.trustPolicy, '--trust-policy'],
          ['federatedCredentials', o.federatedCredentials, '--federated-credentials'],
          ['provider', o.provider, '--provider'],
          ['serviceAccountPolicy', o.serviceAccountPolicy, '--service-account-policy'],
          ['platformTrustPolicy', o.platformTrustPolicy, '--platform-trust-policy'],
          ['targetPolicy', o.targetPolicy, '--target-policy'],
        ] as const
      ).filter(([, file]) => file !== undefined);
      if (given.length === 0) {
        throw new CliError('give the document to check: --trust-policy (AWS), --federated-credentials (Azure) or --provider [--service-account-policy] (GCP)', 'ERR_VALIDATION', '--trust-policy', 'aws iam get-role --role-name etl-reader --output json > role.json; airlock deployment identity check etl --trust-policy role.json', 2);
      }
      if (given.filter(([, file]) => file === '-').length > 1) throw new CliError('only one document can come from stdin (-)', 'ERR_VALIDATION', '--provider', '--provider provider.json --service-account-policy -', 2);
      const body: Record<string, string> = {};
      for (const [key, file, flag] of given) body[key] = await readFileOrStdin(file!, flag, 'trust-policy.json');
      const q = setupQuery(o);
      const c = await createClient({ workspace: o.workspace }).request<CheckJson>('POST', `/api/v1/deployments/${enc(ref)}/identity/check${q.size ? `?${q}` : ''}`, body);
      if (o.output === 'json') process.stdout.write(JSON.stringify(c, null, 2) + '\n');
      else if (o.output === 'yaml') process.stdout.write(toYaml(c));
      else if (o.output === 'text') process.stdout.write(renderCheck(ref, c) + '\n');
      else throw new CliError(`unknown output format "${o.output}"`, 'ERR_VALIDATION', '-o', 'text | json | yaml', 2);
      if (!c.ok) setExitCode(1);
    });
  withWorkspaceOption(dep);
}

interface SetupOptionFlags {
  wildcard?: boolean;
  targetRoleArn?: string;
  targetServiceAccount?: string;
  gcpRoute?: string;
  project?: string;
  role?: string;
}

interface CheckFlags extends OutputFlags, SetupOptionFlags {
  trustPolicy?: string;
  federatedCredentials?: string;
  provider?: string;
  serviceAccountPolicy?: string;
  platformTrustPolicy?: string;
  targetPolicy?: string;
}

interface SetupFlags extends OutputFlags, SetupOptionFlags {
  format: string;
}

interface SaveIdentityFlags extends OutputFlags {
  name: string;
  awsRoleArn?: string;
  gcpServiceAccount?: string;
  gcpProjectNumber?: string;
  azureManagedIdentity?: string;
  resourceGroup?: string;
  subscriptionId?: string;
  clientId?: string;
  tenantId?: string;
}

interface SavedJson {
  id: string;
  name: string;
  cloud: string;
  identity: { value: string };
  created?: boolean;
}

export function registerIdentityCommands(program: Command): void {
  const identity = program.command('identity').description('Saved customer-managed identities, selectable by any Deployment');
  const cols: Column<SavedJson>[] = [
    { header: 'NAME', get: (i) => i.name },
    { header: 'CLOUD', get: (i) => i.cloud },
    { header: 'IDENTITY', get: (i) => i.identity.value },
  ];
  identity
    .command('save')
    .description('Save (or replace) an identity under a name')
    .requiredOption('--name <name>', 'DNS-1123 label, e.g. etl-reader')
    .option('--aws-role-arn <arn>', 'AWS: IAM role ARN')
    .option('--gcp-service-account <email>', 'GCP: service account email')
    .option('--gcp-project-number <number>', 'GCP: numeric project number (else setup shows a placeholder)')
    .option('--azure-managed-identity <name>', 'Azure: user-assigned managed identity name')
    .option('--resource-group <rg>', 'Azure: resource group of the managed identity')
    .option('--subscription-id <guid>', 'Azure: subscription id')
    .option('--client-id <guid>', 'Azure: client id of the managed identity')
    .option('--tenant-id <guid>', 'Azure: tenant id')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .action(async (o: SaveIdentityFlags) => {
      const body: Record<string, unknown> = { name: o.name };
      if (o.awsRoleArn !== undefined) body.awsRoleArn = o.awsRoleArn;
      if (o.gcpServiceAccount !== undefined) body.gcpServiceAccount = o.gcpServiceAccount;
      if (o.gcpProjectNumber !== undefined) body.gcpProjectNumber = o.gcpProjectNumber;
      const azureKeys = ['resourceGroup', 'subscriptionId', 'clientId', 'tenantId'] as const;
      if (o.azureManagedIdentity !== undefined || azureKeys.some((k) => o[k] !== undefined)) {
        const missing = azureKeys.filter((k) => o[k] === undefined);
        if (o.azureManagedIdentity === undefined || missing.length) {
          const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
          throw new CliError(
            `an Azure identity needs --azure-managed-identity, ${azureKeys.map(flag).join(', ')}`,
            'ERR_VALIDATION',
            o.azureManagedIdentity === undefined ? '--azure-managed-identity' : flag(missing[0]!),
            '--azure-managed-identity blob-mi --resource-group data-rg --subscription-id <guid> --client-id <guid> --tenant-id <guid>',
            2,
          );
        }
        body.azure = { managedIdentityName: o.azureManagedIdentity, resourceGroup: o.resourceGroup, subscriptionId: o.subscriptionId, clientId: o.clientId, tenantId: o.tenantId };
      }
      print(parseFormat(o.output), await createClient({ workspace: o.workspace }).request<SavedJson>('PUT', '/api/v1/identities', body), cols);
    });
  identity
    .command('list')
    .description('List saved identities')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .action(async (o: OutputFlags) => {
      print(parseFormat(o.output), (await createClient({ workspace: o.workspace }).request<{ items: SavedJson[] }>('GET', '/api/v1/identities')).items, cols);
    });
  identity
    .command('delete')
    .argument('<identity>', 'id or name')
    .option('--reset-deployments', 'move Deployments that use it back to the default identity')
    .description('Delete a saved identity (refused while Deployments use it)')
    .action(async (ref: string, o: ApiFlags & { resetDeployments?: boolean }) => {
      const r = await createClient({ workspace: o.workspace }).request<{ resetDeployments: string[] }>(
        'DELETE',
        `/api/v1/identities/${enc(ref)}${o.resetDeployments ? '?resetDeployments=true' : ''}`,
      );
      process.stdout.write(`identity ${ref} deleted${r.resetDeployments.length ? `; reset to the default identity: ${r.resetDeployments.join(', ')}` : ''}\n`);
    });
  withWorkspaceOption(identity);
}
