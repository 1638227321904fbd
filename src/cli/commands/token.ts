import type { Command } from 'commander';
import { ROLES, ROLE_INFO, type Role } from '../../access/matrix.ts';
import { CliError, createClient, type OutputFlags } from '../client.ts';
import { parseFormat, print, type Column } from '../output.ts';

interface TokenJson {
  id: string;
  name: string;
  role: string;
  workspaceName: string | null;
  deploymentName: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  previousSecretExpiresAt: string | null;
  status: string;
  token?: string;
}

const enc = encodeURIComponent;

const columns: Column<TokenJson>[] = [
  { header: 'NAME', get: (t) => t.name },
  { header: 'ID', get: (t) => t.id },
  { header: 'ROLE', get: (t) => t.role },
  { header: 'SCOPE', get: (t) => (t.deploymentName ? `${t.workspaceName}/${t.deploymentName}` : (t.workspaceName ?? 'organization')) },
  { header: 'EXPIRES', get: (t) => t.expiresAt ?? 'never' },
  { header: 'LAST USED', get: (t) => t.lastUsedAt },
  { header: 'STATUS', get: (t) => t.status },
];

/**
 * `--role` as a person says it: the full name (`workspace-operator`), or the short one with the
 * scope flag that gives it its meaning (`--workspace data-eng --role operator`,
 * `--deployment etl --role admin`; `owner`/`member` alone are the organization's).
 */
export function roleFromFlags(role: string, scope: { workspace?: string | undefined; deployment?: string | undefined }): Role {
  if ((ROLES as readonly string[]).includes(role)) return role as Role;
  const level = scope.deployment ? 'deployment' : scope.workspace ? 'workspace' : 'organization';
  const short = role === 'deployment-admin' ? 'admin' : role;
  const match = ROLES.find((r) => ROLE_INFO[r].level === level && ROLE_INFO[r].short === short);
  if (!match) {
    const accepted = ROLES.filter((r) => ROLE_INFO[r].level === level).map((r) => ROLE_INFO[r].short);
    throw new CliError(`--role ${role} is not a role of ${level === 'organization' ? 'the organization' : `a ${level}`}; use one of: ${accepted.join(', ')}`, 'ERR_VALIDATION', '--role', accepted[0], 2);
  }
  return match;
}

/** `airlock token create|list|rotate|revoke`: scoped API tokens (docs/access.md). */
export function registerTokenCommands(program: Command): void {
  const tok = program.command('token').description('API tokens: one role at one scope each (see docs/access.md)');
  const out = (cmd: Command) => cmd.option('-o, --output <format>', 'table | json | yaml', 'table');

  const shownOnce = (t: TokenJson, what: string) =>
    [`${what} ${t.id} (${t.name}, ${t.role}).`, 'The token is shown once; store it in your secret manager:', '', `  ${t.token}`, ''].join('\n');

  out(
    tok
      .command('create')
      .description('Create a token; it is printed once and cannot be shown again')
      .requiredOption('--name <name>', 'what it is for, e.g. ci-deployer')
      .requiredOption('--role <role>', `owner | member (organization); owner | operator | viewer (with --workspace); admin (with --deployment); or a full name: ${ROLES.join(', ')}`)
      .option('--workspace <workspace>', 'workspace id or name, for a workspace role (or where --deployment is)')
      .option('--deployment <deployment>', 'Deployment id or name, for deployment-admin')
      .option('--expires-in <duration>', 'lifetime, e.g. 90d or 12h (default: no expiry, nor beyond your own token)'),
  ).action(async (o: OutputFlags & { name: string; role: string; deployment?: string; expiresIn?: string }) => {
    const body: Record<string, unknown> = { name: o.name, role: roleFromFlags(o.role, o) };
    if (o.workspace !== undefined) body.workspace = o.workspace;
    if (o.deployment !== undefined) body.deployment = o.deployment;
    if (o.expiresIn !== undefined) body.expiresIn = o.expiresIn;
    const t = await createClient().request<TokenJson>('POST', '/api/v1/tokens', body);
    const format = parseFormat(o.output);
    if (format !== 'table') return print(format, t, columns);
    process.stdout.write(shownOnce(t, 'Created token'));
  });

  out(tok.command('list').description('List the tokens you may manage (never their secrets)').option('--workspace <workspace>', 'only this workspace')).action(async (o: OutputFlags) => {
    const q = o.workspace ? `?workspace=${enc(o.workspace)}` : '';
    print(parseFormat(o.output), (await createClient().request<{ items: TokenJson[] }>('GET', `/api/v1/tokens${q}`)).items, columns);
  });

  out(
    tok
      .command('rotate')
      .argument('<token>', 'token id (tok_…)')
      .description('Give a token a new secret; the old one keeps working for the overlap')
      .option('--overlap <duration>', 'how long the old secret keeps working: 0 to 7d', '1h'),
  ).action(async (id: string, o: OutputFlags & { overlap: string }) => {
    const t = await createClient().request<TokenJson>('POST', `/api/v1/tokens/${enc(id)}/rotate`, { overlap: o.overlap });
    const format = parseFormat(o.output);
    if (format !== 'table') return print(format, t, columns);
    process.stdout.write(
      shownOnce(t, 'Rotated token') + (t.previousSecretExpiresAt ? `The previous secret works until ${t.previousSecretExpiresAt}.\n` : 'The previous secret no longer works.\n'),
    );
  });

  out(tok.command('revoke').argument('<token>', 'token id (tok_…)').description('Revoke a token: it stops working at once')).action(async (id: string, o: OutputFlags) => {
    print(parseFormat(o.output), await createClient().request<TokenJson>('DELETE', `/api/v1/tokens/${enc(id)}`), columns);
  });

  out(program.command('whoami').description('The API token this CLI uses: its name, role, scope, expiry and permissions (GET /api/v1/tokens/self)')).action(async (o: OutputFlags) => {
    const t = await createClient().request<TokenJson & { permissions: string[] }>('GET', '/api/v1/tokens/self');
    const format = parseFormat(o.output);
    if (format !== 'table') return print(format, t, columns);
    const scope = columns.find((c) => c.header === 'SCOPE')!.get(t);
    process.stdout.write(
      [`${t.name} (${t.id})`, `role:        ${t.role}`, `scope:       ${String(scope)}`, `expires:     ${t.expiresAt ?? 'never'}`, `permissions: ${t.permissions.join(', ')}`, ''].join('\n'),
    );
  });
}
