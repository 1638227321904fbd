import type { Command } from 'commander';
import { CliError, createClient, type ApiFlags, type OutputFlags } from '../client.ts';
import { parseFormat, print, type Column } from '../output.ts';

interface CredentialJson {
  id: string;
  deploymentId: string;
  component: string;
  description: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  status: string;
  secret?: string;
}

const columns: Column<CredentialJson>[] = [
  { header: 'ID', get: (c) => c.id },
  { header: 'COMPONENT', get: (c) => c.component },
  { header: 'STATUS', get: (c) => c.status },
  { header: 'EXPIRES', get: (c) => c.expiresAt },
  { header: 'LAST USED', get: (c) => c.lastUsedAt },
  { header: 'DESCRIPTION', get: (c) => c.description || undefined },
];

const enc = encodeURIComponent;

/** `airlock deployment credentials …`: join credentials for workloads off Kubernetes. */
export function registerCredentialCommands(deployment: Command): void {
  const creds = deployment
    .command('credentials')
    .description('Join credentials: how a workload off Kubernetes (a VM, Celery worker, CI job) proves it is one Deployment component');
  const out = (cmd: Command) => cmd.option('-o, --output <format>', 'table | json | yaml', 'table');

  out(
    creds
      .command('create')
      .argument('<deployment>', 'id or name')
      .requiredOption('--component <component>', 'scheduler | worker | triggerer | webserver | dag-processor | kpo')
      .option('--ttl <duration>', 'lifetime, e.g. 7d or 12h (at most 365d)', '30d')
      .option('--description <text>', 'where it is used, for whoever revokes it later')
      .description('Create a join credential; its secret is printed once and cannot be shown again'),
  ).action(async (ref: string, o: OutputFlags & { component: string; ttl: string; description?: string }) => {
    const body: Record<string, unknown> = { component: o.component, ttl: o.ttl };
    if (o.description !== undefined) body.description = o.description;
    const c = await createClient({ workspace: o.workspace }).request<CredentialJson>('POST', `/api/v1/deployments/${enc(ref)}/credentials`, body);
    const format = parseFormat(o.output);
    if (format !== 'table') {
      print(format, c, columns);
      return;
    }
    process.stdout.write(
      [
        `Join credential ${c.id} for ${ref}/${c.component}, valid until ${c.expiresAt}.`,
        'The secret is shown once; store it in the machine\'s secret store:',
        '',
        `  ${c.secret}`,
        '',
        'Use it:',
        `  AIRLOCK_JOIN_CREDENTIAL=<secret> airlock exec --deployment ${ref} --component ${c.component} -- <command>`,
        '',
      ].join('\n'),
    );
  });

  out(creds.command('list').argument('<deployment>', 'id or name').description("List a Deployment's join credentials (never their secrets)")).action(async (ref: string, o: OutputFlags) => {
    const r = await createClient({ workspace: o.workspace }).request<{ items: CredentialJson[] }>('GET', `/api/v1/deployments/${enc(ref)}/credentials`);
    print(parseFormat(o.output), r.items, columns);
  });

  creds
    .command('revoke')
    .argument('<deployment>', 'id or name')
    .argument('[credential]', 'credential id (jc_…)')
    .option('--all', 'revoke every live credential of the Deployment')
    .description('Revoke join credentials; the next token exchange with them fails')
    .action(async (ref: string, id: string | undefined, o: ApiFlags & { all?: boolean }) => {
      if (Boolean(id) === Boolean(o.all)) {
        throw new CliError('name one credential id, or pass --all', 'ERR_VALIDATION', 'credential', `airlock deployment credentials revoke ${ref} jc_…`, 2);
      }
      const client = createClient({ workspace: o.workspace });
      if (o.all) {
        const r = await client.request<{ revoked: number }>('DELETE', `/api/v1/deployments/${enc(ref)}/credentials`);
        process.stdout.write(`revoked ${r.revoked} credential(s) of ${ref}\n`);
      } else {
        const r = await client.request<CredentialJson>('DELETE', `/api/v1/deployments/${enc(ref)}/credentials/${enc(id!)}`);
        process.stdout.write(`revoked ${r.id} (${ref}/${r.component})\n`);
      }
    });
}
