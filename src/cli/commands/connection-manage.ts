/**
 * `airlock connection create|list|get|update|delete|link|unlink|import|imported`: the workspace's
 * Airflow connections (Environment Manager) and a Deployment's metadata-database connections,
 * through the API. Passwords go in (`--password`, `--password-stdin`) and never come back: the
 * table shows `********` when one is stored.
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { formatOfFileName, EXPORT_FORMATS } from '../../connections/export-files.ts';
import { CliError, createClient, withWorkspaceOption } from '../client.ts';
import { parseFormat, print, type Column } from '../output.ts';
import { readFileOrStdin, readStdin } from '../input.ts';

interface LinkJson {
  id: string;
  name: string;
  overrides: Record<string, unknown>;
  passwordOverridden: boolean;
}

interface ConnectionJson {
  id: string;
  connId: string;
  connType: string;
  description: string;
  host: string | null;
  schema: string | null;
  login: string | null;
  passwordSet: boolean;
  port: number | null;
  extra: Record<string, unknown>;
  allDeployments: boolean;
  deployments: LinkJson[];
  version: number;
  createdAt: string;
  updatedAt: string;
  derivation?: string;
  warnings?: Warning[];
}

interface Warning {
  deployment: { id: string; name: string };
  where: string;
}

interface MetastoreJson {
  connId: string;
  connType: string | null;
  host: string | null;
  login: string | null;
  passwordSet: boolean;
  port: number | null;
  schema: string | null;
  extra: Record<string, unknown>;
  source: string;
  importedAt: string;
}

const enc = encodeURIComponent;
const MASK = '********';

const linked = (c: ConnectionJson) => [...(c.allDeployments ? ['(all)'] : []), ...c.deployments.map((d) => d.name)].join(',') || undefined;

const columns: Column<ConnectionJson>[] = [
  { header: 'CONN_ID', get: (c) => c.connId },
  { header: 'TYPE', get: (c) => c.connType },
  { header: 'HOST', get: (c) => c.host },
  { header: 'LOGIN', get: (c) => c.login },
  { header: 'PASSWORD', get: (c) => (c.passwordSet ? MASK : undefined) },
  { header: 'PORT', get: (c) => c.port },
  { header: 'LINKED TO', get: linked },
  { header: 'VERSION', get: (c) => c.version },
];

const metastoreColumns: Column<MetastoreJson>[] = [
  { header: 'CONN_ID', get: (m) => m.connId },
  { header: 'TYPE', get: (m) => m.connType },
  { header: 'HOST', get: (m) => m.host },
  { header: 'LOGIN', get: (m) => m.login },
  { header: 'PASSWORD', get: (m) => (m.passwordSet ? MASK : undefined) },
  { header: 'PORT', get: (m) => m.port },
  { header: 'SOURCE', get: (m) => m.source },
];

function usage(message: string, flag: string, example: string): CliError {
  return new CliError(message, 'ERR_VALIDATION', flag, example, 2);
}

function jsonObject(flag: string, text: string, example: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw usage(`${flag} is not valid JSON`, flag, example);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw usage(`${flag} must be a JSON object`, flag, example);
  return v as Record<string, unknown>;
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);


interface FieldOptions {
  type?: string;
  description?: string;
  host?: string;
  schema?: string;
  login?: string;
  password?: string;
  passwordStdin?: boolean;
  port?: string;
  extra?: string;
  fromIdentity?: string;
  region?: string;
  roleArn?: string;
  assumeRoleMethod?: string;
  tokenFile?: string;
  assumeRoleKwargs?: string;
  projectId?: string;
  impersonationChain?: string;
  credentialConfigFile?: string;
  scopes?: string;
  clientId?: string;
  tenantId?: string;
}

function fieldOptions(cmd: Command): Command {
  return cmd
    .option('--type <conn_type>', 'aws | google_cloud_platform | azure | any Airflow conn_type (postgres, http, …)')
    .option('--from-identity <ref>', 'fill the cloud fields from a Deployment (deployment:<name>) or a saved identity (identity:<name>); a bare name is tried as a Deployment first')
    .option('--description <text>', 'description')
    .option('--host <host>', 'host')
    .option('--schema <schema>', 'schema')
    .option('--login <login>', 'login')
    .option('--password <password>', 'password (write-only; prefer --password-stdin, which keeps it out of shell history)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--port <port>', 'port')
    .option('--extra <json>', 'extra as a JSON object')
    .option('--region <region>', 'aws: region_name')
    .option('--role-arn <arn>', 'aws: role_arn (with --from-identity on a default identity: the role it chains into)')
    .option('--assume-role-method <method>', 'aws: assume_role | assume_role_with_web_identity')
    .option('--token-file <path>', 'aws: assume_role_with_web_identity_token_file (default: the file Airlock delivers)')
    .option('--assume-role-kwargs <json>', 'aws: assume_role_kwargs as a JSON object')
    .option('--project-id <project>', 'google_cloud_platform: project')
    .option('--impersonation-chain <emails>', 'google_cloud_platform: impersonation_chain, one service account or a comma-separated chain')
    .option('--credential-config-file <path>', 'google_cloud_platform: credential_config_file')
    .option('--scopes <scopes>', 'google_cloud_platform: scope, comma-separated')
    .option('--client-id <guid>', 'azure: managed_identity_client_id')
    .option('--tenant-id <guid>', 'azure: workload_identity_tenant_id')
    .option('-o, --output <format>', 'table | json | yaml', 'table');
}

/** The request body for create/update from the flags (absent flags are not sent). */
async function bodyFrom(o: FieldOptions): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  if (o.type !== undefined) body.connType = o.type;
  if (o.fromIdentity !== undefined) body.fromIdentity = o.fromIdentity;
  for (const k of ['description', 'host', 'schema', 'login'] as const) if (o[k] !== undefined) body[k] = o[k];
  if (o.password !== undefined && o.passwordStdin) throw usage('give --password or --password-stdin, not both', '--password-stdin', 'printf %s "$PW" | airlock connection create … --password-stdin');
  if (o.password !== undefined) body.password = o.password;
  if (o.passwordStdin) body.password = await readStdin();
  if (o.port !== undefined) {
    if (!/^\d{1,5}$/.test(o.port)) throw usage('--port must be a number from 0 to 65535', '--port', '5432');
    body.port = Number(o.port);
  }
  if (o.extra !== undefined) body.extra = jsonObject('--extra', o.extra, '{"region_name": "us-east-1"}');
  const aws: Record<string, unknown> = {};
  if (o.region !== undefined) aws.regionName = o.region;
  if (o.roleArn !== undefined) aws.roleArn = o.roleArn;
  if (o.assumeRoleMethod !== undefined) aws.assumeRoleMethod = o.assumeRoleMethod;
  if (o.tokenFile !== undefined) aws.webIdentityTokenFile = o.tokenFile;
  if (o.assumeRoleKwargs !== undefined) aws.assumeRoleKwargs = jsonObject('--assume-role-kwargs', o.assumeRoleKwargs, '{"DurationSeconds": 3600}');
  const gcp: Record<string, unknown> = {};
  if (o.projectId !== undefined) gcp.project = o.projectId;
  if (o.impersonationChain !== undefined) {
    const chain = list(o.impersonationChain);
    gcp.impersonationChain = chain.length === 1 ? chain[0] : chain;
  }
  if (o.credentialConfigFile !== undefined) gcp.credentialConfigFile = o.credentialConfigFile;
  if (o.scopes !== undefined) gcp.scopes = list(o.scopes);
  const azure: Record<string, unknown> = {};
  if (o.clientId !== undefined) azure.managedIdentityClientId = o.clientId;
  if (o.tenantId !== undefined) azure.workloadIdentityTenantId = o.tenantId;
  if (Object.keys(aws).length) body.aws = aws;
  if (Object.keys(gcp).length) body.gcp = gcp;
  if (Object.keys(azure).length) body.azure = azure;
  return body;
}

/** One connection for reading: every field, the password masked. */
function detail(c: ConnectionJson): string {
  const shown: Record<string, unknown> = {
    conn_id: c.connId,
    conn_type: c.connType,
    description: c.description,
    host: c.host,
    schema: c.schema,
    login: c.login,
    password: c.passwordSet ? MASK : null,
    port: c.port,
    extra: c.extra,
    linked: { allDeployments: c.allDeployments, deployments: c.deployments.map((d) => ({ name: d.name, overrides: { ...d.overrides, ...(d.passwordOverridden ? { password: MASK } : {}) } })) },
    version: c.version,
    updated: c.updatedAt,
  };
  return toYaml(shown).trimEnd();
}

function show(format: string, c: ConnectionJson): void {
  const f = parseFormat(format);
  if (f === 'table') {
    process.stdout.write(detail(c) + '\n');
    if (c.derivation) process.stderr.write(`from identity: ${c.derivation}\n`);
    return;
  }
  print(f, c, columns);
}

function warn(connId: string, warnings: Warning[] | undefined, what: string): void {
  for (const w of warnings ?? []) process.stderr.write(`warning: ${w.where} of Deployment ${w.deployment.name} still refers to ${connId}, which ${what}\n`);
}

export function registerConnectionManageCommands(connection: Command): void {
  const added: Command[] = [];
  const add = (c: Command) => {
    added.push(c);
    return c;
  };

  add(
    fieldOptions(connection.command('create').argument('<conn_id>', "Airflow's conn_id, e.g. aws_default").description('Create an Airflow connection in the workspace (Environment Manager)')).addHelpText(
      'after',
      `
Examples:
  $ airlock connection create aws_default --type aws --from-identity etl --region us-east-1
  $ airlock connection create gcp_bq --type google_cloud_platform --project-id my-proj --impersonation-chain sa@my-proj.iam.gserviceaccount.com
  $ airlock connection create blob --type azure --from-identity identity:blob-mi
  $ printf %s "$PW" | airlock connection create warehouse --type postgres --host db --login etl --password-stdin --port 5432`,
    ),
  ).action(async (connId: string, o: FieldOptions & { output: string; workspace?: string }) => {
    const body = { connId, ...(await bodyFrom(o)) };
    show(o.output, await createClient({ workspace: o.workspace }).request<ConnectionJson>('POST', '/api/v1/connections', body));
  });

  add(
    fieldOptions(
      connection
        .command('update')
        .argument('<conn_id>', 'conn_id')
        .description('Change a connection; options not given stay as they are (--extra replaces the whole extra; the cloud options merge into it)')
        .option('--if-version <n>', 'only if the connection is still at this version (else ERR_CONFLICT)'),
    ),
  ).action(async (connId: string, o: FieldOptions & { output: string; workspace?: string; ifVersion?: string }) => {
    const body = await bodyFrom(o);
    if (o.ifVersion !== undefined) {
      if (!/^\d+$/.test(o.ifVersion)) throw usage('--if-version must be a number', '--if-version', '3');
      body.version = Number(o.ifVersion);
    }
    show(o.output, await createClient({ workspace: o.workspace }).request<ConnectionJson>('PATCH', `/api/v1/connections/${enc(connId)}`, body));
  });

  add(connection.command('list').description("List the workspace's connections (passwords masked)").option('-o, --output <format>', 'table | json | yaml', 'table')).action(
    async (o: { output: string; workspace?: string }) => {
      const r = await createClient({ workspace: o.workspace }).request<{ items: ConnectionJson[] }>('GET', '/api/v1/connections');
      print(parseFormat(o.output), r.items, columns);
    },
  );

  add(connection.command('get').argument('<conn_id>', 'conn_id').description('Show a connection (the password masked; it is never returned)').option('-o, --output <format>', 'table | json | yaml', 'table')).action(
    async (connId: string, o: { output: string; workspace?: string }) => {
      show(o.output, await createClient({ workspace: o.workspace }).request<ConnectionJson>('GET', `/api/v1/connections/${enc(connId)}`));
    },
  );

  add(connection.command('delete').argument('<conn_id>', 'conn_id').description('Delete a connection; warns where a variable still refers to it')).action(async (connId: string, o: { workspace?: string }) => {
    const r = await createClient({ workspace: o.workspace }).request<{ deleted: string; warnings: Warning[] }>('DELETE', `/api/v1/connections/${enc(connId)}`);
    process.stdout.write(`deleted connection ${r.deleted}\n`);
    warn(connId, r.warnings, 'no longer exists');
  });

  const target = (cmd: Command) => cmd.option('-d, --deployment <deployment>', 'one Deployment (id or name)').option('--all-deployments', 'every Deployment of the workspace, new ones included');
  const targetBody = (o: { deployment?: string; allDeployments?: boolean }) => {
    if ((o.deployment === undefined) === (o.allDeployments === undefined)) throw usage('give exactly one of --deployment or --all-deployments', '--deployment', '--deployment etl');
    return o.deployment !== undefined ? { deployment: o.deployment } : { allDeployments: true };
  };

  add(
    target(connection.command('link').argument('<conn_id>', 'conn_id').description('Link a connection to a Deployment (optionally with overrides) or to all Deployments'))
      .option('--overrides <json>', 'this Deployment\'s field overrides, e.g. {"host": "replica", "extra": {"region_name": "eu-west-1"}} (null in extra removes a key)')
      .option('-o, --output <format>', 'table | json | yaml', 'table'),
  ).action(async (connId: string, o: { deployment?: string; allDeployments?: boolean; overrides?: string; output: string; workspace?: string }) => {
    const body: Record<string, unknown> = targetBody(o);
    if (o.overrides !== undefined) body.overrides = jsonObject('--overrides', o.overrides, '{"host": "replica.example.com"}');
    show(o.output, await createClient({ workspace: o.workspace }).request<ConnectionJson>('POST', `/api/v1/connections/${enc(connId)}/link`, body));
  });

  add(target(connection.command('unlink').argument('<conn_id>', 'conn_id').description('Unlink a connection from a Deployment or from all; warns where a variable still refers to it')).option('-o, --output <format>', 'table | json | yaml', 'table')).action(
    async (connId: string, o: { deployment?: string; allDeployments?: boolean; output: string; workspace?: string }) => {
      const r = await createClient({ workspace: o.workspace }).request<ConnectionJson>('POST', `/api/v1/connections/${enc(connId)}/unlink`, targetBody(o));
      show(o.output, r);
      warn(connId, r.warnings, `no longer reaches ${o.deployment ?? 'every Deployment'}`);
    },
  );

  add(
    connection
      .command('import')
      .argument('<file>', 'a file written by `airflow connections export` (- reads stdin)')
      .requiredOption('-d, --deployment <deployment>', "the Deployment whose Airflow metadata database the file came from")
      .option('--format <format>', `${EXPORT_FORMATS.join(' | ')} (default: from the file name)`)
      .option('-o, --output <format>', 'table | json | yaml', 'table')
      .description("Import an `airflow connections export` file (JSON, YAML or env) as a Deployment's metadata-database connections; same conn_id replaced, all or nothing"),
  ).action(async (file: string, o: { deployment: string; format?: string; output: string; workspace?: string }) => {
    const format = o.format ?? (file === '-' ? undefined : formatOfFileName(file));
    if (format === undefined) throw usage('cannot tell the format from the file name: pass --format', '--format', EXPORT_FORMATS.join('|'));
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw usage(`unknown --format "${format}"`, '--format', EXPORT_FORMATS.join('|'));
    const content = await readFileOrStdin(file, '<file>', 'connections.json');
    const r = await createClient({ workspace: o.workspace }).request<{ deployment: { name: string }; created: string[]; replaced: string[] }>('POST', '/api/v1/connections/import', {
      deployment: o.deployment,
      format,
      content,
      source: file === '-' ? 'stdin' : basename(file),
    });
    const f = parseFormat(o.output);
    if (f !== 'table') return print(f, r, []);
    process.stdout.write(`imported into ${r.deployment.name}'s metadata database: ${r.created.length} created${r.created.length ? ` (${r.created.join(', ')})` : ''}, ${r.replaced.length} replaced${r.replaced.length ? ` (${r.replaced.join(', ')})` : ''}\n`);
  });

  add(
    connection
      .command('imported')
      .argument('<deployment>', 'id or name')
      .description("List a Deployment's metadata-database connections (imported; passwords masked)")
      .option('-o, --output <format>', 'table | json | yaml', 'table'),
  ).action(async (dep: string, o: { output: string; workspace?: string }) => {
    const r = await createClient({ workspace: o.workspace }).request<{ items: MetastoreJson[] }>('GET', `/api/v1/deployments/${enc(dep)}/metastore-connections`);
    print(parseFormat(o.output), r.items, metastoreColumns);
  });

  for (const c of added) withWorkspaceOption(c);
}
