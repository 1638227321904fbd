import type { Command } from 'commander';
import { registerConnectionResolve } from './connection-resolve.ts';
import { stringify as toYaml } from 'yaml';
import {
  parseConnectionJson,
  parseConnectionUri,
  renderConnectionJson,
  renderConnectionUri,
  type AirflowConnectionFields,
} from '../../connections/codec.ts';
import { CliError } from '../client.ts';
import { parseFormat } from '../output.ts';
import { registerConnectionManageCommands } from './connection-manage.ts';
import { readStdin } from '../input.ts';

const TARGETS = ['uri', 'json'] as const;


function usage(message: string, flag: string, example: string): CliError {
  return new CliError(message, 'ERR_VALIDATION', flag, example, 2);
}

/** The fields in the order the brief and Airflow's as_json use. */
function ordered(c: AirflowConnectionFields): AirflowConnectionFields {
  return { conn_type: c.conn_type, host: c.host, login: c.login, password: c.password, schema: c.schema, port: c.port, extra: c.extra };
}

function fieldLines(c: AirflowConnectionFields): string {
  const shown = (v: unknown): string => (v === null ? '-' : v === '' ? '""' : typeof v === 'string' ? v : JSON.stringify(v));
  const rows: [string, string][] = [
    ['conn_type', shown(c.conn_type)],
    ['host', shown(c.host)],
    ['login', shown(c.login)],
    // The table is for reading; -o json and --to print the password for tools.
    ['password', c.password === null ? '-' : '******** (set; -o json shows it)'],
    ['schema', shown(c.schema)],
    ['port', shown(c.port)],
    ['extra', JSON.stringify(c.extra)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(10)}${v}`).join('\n');
}

/**
 * `airlock connection convert`: parses an Airflow connection URI or JSON exactly as Airflow's
 * `Connection` does and prints its fields or Airflow's other form. Pure: no server, no token.
 */
export function registerConnectionConvert(connection: Command): void {
  connection
    .command('convert')
    .description("Read an Airflow connection (an AIRFLOW_CONN_* value) as Airflow does: print its fields, or Airflow's URI or JSON form. No server needed.")
    .option('--uri <uri>', "an Airflow connection URI ('-' reads it from stdin)")
    .option('--json <json>', "an Airflow connection JSON object ('-' reads it from stdin)")
    .option('--from-env <NAME>', "an environment variable's value, read as Airflow reads AIRFLOW_CONN_*: JSON when it starts with '{', else a URI")
    .option('--to <form>', "print Airflow's form instead of the fields: uri (get_uri) | json (as_json)")
    .option('-o, --output <format>', 'format of the fields: table | json | yaml (default table)')
    .addHelpText(
      'after',
      `
Examples:
  $ airlock connection convert --uri 'postgresql://user:p%40ss@host:5432/db?sslmode=require' -o json
  $ airlock connection convert --json '{"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::123456789012:role/etl"}}' --to uri
  $ airlock connection convert --from-env AIRFLOW_CONN_AWS_DEFAULT --to json
  $ printenv AIRFLOW_CONN_AWS_DEFAULT | airlock connection convert --uri -`,
    )
    .action(async (o: { uri?: string; json?: string; fromEnv?: string; to?: string; output?: string }) => {
      const sources = [o.uri, o.json, o.fromEnv].filter((s) => s !== undefined).length;
      if (sources !== 1) throw usage('pass exactly one of --uri, --json or --from-env', '--uri', "--uri 'postgres://user:pass@host:5432/db'");
      if (o.to !== undefined && !(TARGETS as readonly string[]).includes(o.to)) throw usage(`unknown --to form "${o.to}"`, '--to', TARGETS.join('|'));
      if (o.to !== undefined && o.output !== undefined) throw usage('--to prints one of Airflow\'s forms and -o formats the fields: pass one of them', '--to', 'uri');
      const format = parseFormat(o.output ?? 'table');

      let fields: AirflowConnectionFields;
      if (o.fromEnv !== undefined) {
        const value = process.env[o.fromEnv];
        if (value === undefined) throw usage(`environment variable ${o.fromEnv} is not set`, '--from-env', 'AIRFLOW_CONN_AWS_DEFAULT');
        // BaseSecretsBackend.deserialize_connection: stripped, then JSON if it starts with '{'.
        const trimmed = value.trim();
        fields = trimmed.startsWith('{') ? parseConnectionJson(trimmed) : parseConnectionUri(trimmed);
      } else if (o.uri !== undefined) {
        fields = parseConnectionUri(o.uri === '-' ? await readStdin() : o.uri);
      } else {
        fields = parseConnectionJson(o.json === '-' ? await readStdin() : o.json!);
      }

      let text: string;
      if (o.to === 'uri') text = renderConnectionUri(fields);
      else if (o.to === 'json') text = renderConnectionJson(fields);
      else if (format === 'json') text = JSON.stringify(ordered(fields), null, 2);
      else if (format === 'yaml') text = toYaml(ordered(fields)).trimEnd();
      else text = fieldLines(fields);
      process.stdout.write(text + '\n');
    });
}

/**
 * The `connection` command group. Returns the group so that other `connection` subcommands can
 * be registered on it (`registerConnectionConvert` is one of them).
 */
export function registerConnectionCommands(program: Command): Command {
  const connection = program.command('connection').description('Airflow connections');
  registerConnectionConvert(connection);
  registerConnectionManageCommands(connection);
  registerConnectionResolve(connection);
  return connection;
}
