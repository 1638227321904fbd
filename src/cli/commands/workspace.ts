import type { Command } from 'commander';
import { createClient, type OutputFlags } from '../client.ts';
import { parseFormat, print, type Column } from '../output.ts';

interface WorkspaceJson {
  id: string;
  name: string;
  createdAt: string;
}

const columns: Column<WorkspaceJson>[] = [
  { header: 'NAME', get: (w) => w.name },
  { header: 'ID', get: (w) => w.id },
  { header: 'CREATED', get: (w) => w.createdAt },
];

/** `airlock workspace create|list`: workspaces hold Deployments, saved identities and their credentials. */
export function registerWorkspaceCommands(program: Command): void {
  const ws = program.command('workspace').description('Workspaces: Deployments, saved identities and tokens are grouped in them');
  const out = (cmd: Command) => cmd.option('-o, --output <format>', 'table | json | yaml', 'table');
  out(ws.command('create').description('Create a workspace').requiredOption('--name <name>', 'DNS-1123 label, e.g. data-eng')).action(async (o: OutputFlags & { name: string }) => {
    print(parseFormat(o.output), await createClient().request<WorkspaceJson>('POST', '/api/v1/workspaces', { name: o.name }), columns);
  });
  out(ws.command('list').description('List workspaces (a workspace-scoped token sees its own)')).action(async (o: OutputFlags) => {
    print(parseFormat(o.output), (await createClient().request<{ items: WorkspaceJson[] }>('GET', '/api/v1/workspaces')).items, columns);
  });
}
