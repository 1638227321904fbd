import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import type { ResolveResult } from '../../connections/resolve.ts';
import { label } from '../../connections/resolve.ts';
import { CliError, createClient } from '../client.ts';

type ResolveJson = ResolveResult & { deployment: { id: string; name: string } };

const STATUS: Record<string, string> = {
  'consulted-first': 'CONSULTED FIRST',
  'skips-connections': 'skipped for connections',
  winner: 'WINNER',
  shadowed: 'shadowed',
  'not-defined': 'not defined',
  'not-configured': 'not configured',
  unreadable: 'UNREADABLE',
};

/** What a person reads: the order, each source's outcome, the definitions (no password), the warnings. */
export function renderResolve(r: ResolveJson): string {
  const out = [`${r.connId} in Deployment ${r.deployment.name}: Airflow's lookup order, the first match wins`];
  for (const s of r.steps) {
    out.push(`  ${s.position}. ${label(s.source).padEnd(22)}${STATUS[s.status] ?? s.status}${s.detail ? `  (${s.detail})` : ''}`);
    if (s.secretsBackend && !s.secretsBackend.kwargsWithheld && s.secretsBackend.kwargs) out.push(`       kwargs: ${JSON.stringify(s.secretsBackend.kwargs)}`);
    if (s.secretsBackend?.kwargsWithheld) out.push('       kwargs: (secret, withheld)');
    const d = s.definition;
    if (d?.withheld) out.push('       definition: (secret variable, withheld)');
    else if (d) {
      const parts = (['conn_type', 'host', 'login', 'schema', 'port'] as const).filter((k) => d[k] !== null && d[k] !== undefined).map((k) => `${k}=${String(d[k])}`);
      if (d.passwordSet) parts.push('password=********');
      if (d.extra && Object.keys(d.extra).length) parts.push(`extra=${JSON.stringify(d.extra)}`);
      out.push(`       ${parts.join(' ')}`);
    }
    if (s.differsFrom?.length) out.push(`       differs from the winner in: ${s.differsFrom.join(', ')}`);
  }
  const winner = r.winner ? label(r.winner) : 'none of the sources Airlock can see';
  out.push('', `Used: ${winner}${r.secretsBackendConsultedFirst ? ', unless the secrets backend holds it' : ''}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out.join('\n') + '\n';
}

export function registerConnectionResolve(connection: Command): void {
  connection
    .command('resolve')
    .argument('<conn_id>', 'the connection id Airflow looks up')
    .description(
      "Which definition a Deployment's Airflow uses: secrets backend (consulted first; Airlock cannot see inside), Environment Manager, AIRFLOW_CONN_<ID>, metadata database. The first match wins; shadowed definitions are listed with what differs",
    )
    .requiredOption('-d, --deployment <deployment>', 'Deployment id or name')
    .option('-o, --output <format>', 'text | json | yaml', 'text')
    .option('--workspace <workspace>', 'workspace id or name [env AIRLOCK_WORKSPACE; default: the token\'s own, or "default"]')
    .action(async (connId: string, o: { deployment: string; output: string; workspace?: string }) => {
      if (!['text', 'json', 'yaml'].includes(o.output)) throw new CliError(`unknown output format "${o.output}"`, 'ERR_VALIDATION', '-o', 'text | json | yaml', 2);
      const r = await createClient({ workspace: o.workspace }).request<ResolveJson>(
        'GET',
        `/api/v1/connections/${encodeURIComponent(connId)}/resolve?deployment=${encodeURIComponent(o.deployment)}`,
      );
      if (o.output === 'json') process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else if (o.output === 'yaml') process.stdout.write(toYaml(r));
      else process.stdout.write(renderResolve(r));
    });
}
