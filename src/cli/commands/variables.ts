import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AppError } from '../../errors/index.ts';
import { ENV_FORMATS } from '../../variables/render.ts';
import { parseAssignment, parseDotenv } from '../../variables/rules.ts';
import { CliError, createClient } from '../client.ts';
import { parseFormat, print, type Column } from '../output.ts';

interface VariableJson {
  key: string;
  secret: boolean;
  value: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A secret's value never reaches the CLI; the table says it exists. */
export const SECRET_MASK = '********';

const columns: Column<VariableJson>[] = [
  { header: 'KEY', get: (v) => v.key },
  { header: 'VALUE', get: (v) => (v.secret ? SECRET_MASK : v.value) },
  { header: 'SECRET', get: (v) => (v.secret ? 'yes' : 'no') },
  { header: 'VERSION', get: (v) => v.version },
];

const enc = encodeURIComponent;

interface CommonOptions {
  deployment: string;
  output: string;
  workspace?: string;
}
interface CreateOptions extends CommonOptions {
  secret?: boolean;
  load?: boolean;
  env: string;
}
interface UpdateOptions extends CommonOptions {
  secret?: boolean;
  version?: string;
}

/** Rules broken on this side (a bad KEY=VALUE, a bad .env line) are usage errors: exit 2, the server never asked. */
function local<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof AppError) throw new CliError(err.message, err.code, err.field, err.example, 2);
    throw err;
  }
}

/** `airlock deployment variable …`: a Deployment's environment variables. */
export function registerVariableCommands(deployment: Command): void {
  const variable = deployment
    .command('variable')
    .description("A Deployment's environment variables (what its workloads get in their environment; secrets are write-only)");
  const common = (cmd: Command) =>
    cmd.requiredOption('-d, --deployment <deployment>', 'Deployment id or name').option('-o, --output <format>', 'table | json | yaml', 'table');

  common(
    variable
      .command('create')
      .argument('[variables...]', 'KEY=VALUE pairs (split on the first "=")')
      .description('Add variables; keys that already exist are skipped and named (change them with update)')
      .option('--secret', 'store the values as secrets: write-only, never shown again, never turned back into plain values')
      .option('--load', 'also add the variables of a .env file')
      .option('--env <file>', 'the .env file --load reads', '.env'),
  ).action(async (pairs: string[], o: CreateOptions) => {
    const vars = local(() => pairs.map((p) => parseAssignment(p)));
    if (o.load) {
      let text: string;
      try {
        text = readFileSync(o.env, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${o.env}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'ERR_VALIDATION', '--env', '.env', 2);
      }
      const fromFile = local(() => parseDotenv(text, o.env));
      for (const v of fromFile) {
        if (vars.some((x) => x.key === v.key)) throw new CliError(`${v.key} is given both as an argument and in ${o.env}; keep one`, 'ERR_VALIDATION', v.key, undefined, 2);
      }
      vars.push(...fromFile);
    }
    if (vars.length === 0) throw new CliError('give at least one KEY=VALUE, or --load a .env file', 'ERR_VALIDATION', 'variables', 'airlock deployment variable create -d etl AIRFLOW__CORE__LOAD_EXAMPLES=False', 2);
    const r = await createClient({ workspace: o.workspace }).request<{ created: VariableJson[]; skipped: string[] }>(
      'POST',
      `/api/v1/deployments/${enc(o.deployment)}/variables`,
      { variables: vars.map((v) => ({ key: v.key, value: v.value, secret: Boolean(o.secret) })) },
    );
    const format = parseFormat(o.output);
    if (format === 'table') {
      if (r.created.length) print(format, r.created, columns);
      if (r.skipped.length) process.stderr.write(`skipped ${r.skipped.length} that already exist (change them with: airlock deployment variable update): ${r.skipped.join(', ')}\n`);
      return;
    }
    print(format, r, []);
  });

  common(
    variable
      .command('update')
      .argument('<variables...>', 'KEY=VALUE pairs of existing variables')
      .description('Change existing variables (a secret stays secret; --secret makes a plain one secret)')
      .option('--secret', 'make the variables secret (write-only from now on)')
      .option('--version <n>', 'only if the variable is still at this version (one KEY=VALUE); else ERR_CONFLICT'),
  ).action(async (pairs: string[], o: UpdateOptions) => {
    const vars = local(() => pairs.map((p) => parseAssignment(p)));
    let version: number | undefined;
    if (o.version !== undefined) {
      version = Number(o.version);
      if (!Number.isInteger(version) || version < 1) throw new CliError('--version must be a positive integer', 'ERR_VALIDATION', '--version', '3', 2);
      if (vars.length !== 1) throw new CliError('--version applies to one variable: give one KEY=VALUE', 'ERR_VALIDATION', '--version', undefined, 2);
    }
    const client = createClient({ workspace: o.workspace });
    const updated: VariableJson[] = [];
    for (const v of vars) {
      const body: Record<string, unknown> = { value: v.value };
      if (o.secret) body.secret = true;
      if (version !== undefined) body.version = version;
      updated.push(await client.request<VariableJson>('PATCH', `/api/v1/deployments/${enc(o.deployment)}/variables/${enc(v.key)}`, body));
    }
    print(parseFormat(o.output), updated, columns);
  });

  variable
    .command('delete')
    .argument('<keys...>', 'variable names')
    .description('Delete variables')
    .requiredOption('-d, --deployment <deployment>', 'Deployment id or name')
    .option('--version <n>', 'only if the variable is still at this version (one key); else ERR_CONFLICT')
    .action(async (keys: string[], o: Omit<UpdateOptions, 'output' | 'secret'>) => {
      let qs = '';
      if (o.version !== undefined) {
        if (!/^[1-9][0-9]*$/.test(o.version)) throw new CliError('--version must be a positive integer', 'ERR_VALIDATION', '--version', '3', 2);
        if (keys.length !== 1) throw new CliError('--version applies to one variable: give one key', 'ERR_VALIDATION', '--version', undefined, 2);
        qs = `?version=${o.version}`;
      }
      const client = createClient({ workspace: o.workspace });
      for (const k of keys) {
        await client.request('DELETE', `/api/v1/deployments/${enc(o.deployment)}/variables/${enc(k)}${qs}`);
        process.stdout.write(`variable ${k} deleted\n`);
      }
    });

  common(variable.command('list').description("List a Deployment's variables (secret values are never shown)")).action(async (o: CommonOptions) => {
    const r = await createClient({ workspace: o.workspace }).request<{ items: VariableJson[] }>('GET', `/api/v1/deployments/${enc(o.deployment)}/variables`);
    print(parseFormat(o.output), r.items, columns);
  });

  deployment
    .command('env')
    .argument('<deployment>', 'id or name')
    .description(
      "The Deployment's environment: its variables as a .env file or JSON, or its Environment Manager connections as Airflow's LocalFilesystemBackend connections file (JSON or YAML). Secret values are withheld (named on stderr): only the Deployment's workloads receive them",
    )
    .option('--format <format>', ENV_FORMATS.join(' | '), 'dotenv')
    .action(async (ref: string, o: { format: string; workspace?: string }) => {
      if (!(ENV_FORMATS as readonly string[]).includes(o.format)) throw new CliError(`unknown --format "${o.format}"`, 'ERR_VALIDATION', '--format', ENV_FORMATS.join(' | '), 2);
      const r = await createClient({ workspace: o.workspace }).request<{ content: string; withheld: string[] }>('GET', `/api/v1/deployments/${enc(ref)}/env?format=${enc(o.format)}`);
      process.stdout.write(r.content);
      if (r.withheld.length) process.stderr.write(`withheld (secret; delivered only to the Deployment's workloads): ${r.withheld.join(', ')}\n`);
    });
}
