import type { Command } from 'commander';
import { restoreSnapshot, type CarriedRevocations } from '../../backup/restore.ts';
import { envName } from '../../config/load.ts';
import { AppError } from '../../errors/index.ts';
import { formatDuration } from '../../lib/duration.ts';
import { systemClock } from '../../lib/clock.ts';
import { CliError, createClient, type OutputFlags } from '../client.ts';
import { serverConfig } from '../options.ts';
import { parseFormat, print, type Column } from '../output.ts';

interface BackupJson {
  name: string;
  path: string;
  bytes: number;
  createdAt: string;
}

const columns: Column<BackupJson>[] = [
  { header: 'NAME', get: (b) => b.name },
  { header: 'CREATED', get: (b) => b.createdAt },
  { header: 'BYTES', get: (b) => String(b.bytes) },
];

/** What the restore carried over from the replaced store, as lines for a person. */
function carriedLines(c: CarriedRevocations): string[] {
  if (c.otherLineage) return [`the store it replaced belongs to another installation (${c.otherLineage}): nothing to carry over from it`];
  if (c.unreadable) {
    return [
      `WARNING: the replaced store could not be read (${c.unreadable}), so revocations made since the snapshot were not carried over.`,
      'Revoke again any join credential or API token revoked since the snapshot, and rotate any token rotated since.',
    ];
  }
  const parts = [
    c.joinCredentials.length && `${c.joinCredentials.length} join credential(s) revoked or deleted since the snapshot`,
    c.apiTokens.length && `${c.apiTokens.length} API token(s) revoked or deleted since`,
    c.rotatedApiTokens.length && `${c.rotatedApiTokens.length} API token(s) rotated since (their current secret carried over)`,
    c.signingKeys.length && `${c.signingKeys.length} signing key(s) revoked since`,
  ].filter(Boolean);
  return [
    parts.length ? `kept revoked: ${parts.join('; ')}` : 'nothing had been revoked since the snapshot',
    ...(c.addedSigningKeys.length ? [`kept the ${c.addedSigningKeys.length} signing key(s) made since, so the tokens they signed still verify`] : []),
  ];
}

/** `airlock backup create|list|restore`: snapshots of the embedded store (docs/backup.md). */
export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('Snapshots of the embedded store: take one, list them, restore one (see docs/backup.md)');
  const out = (cmd: Command) => cmd.option('-o, --output <format>', 'table | json | yaml', 'table');

  out(backup.command('create').description('Take a snapshot now, while the server runs (POST /api/v1/backups)')).action(async (o: OutputFlags) => {
    const format = parseFormat(o.output);
    const made = await createClient().request<BackupJson & { deleted: string[] }>('POST', '/api/v1/backups');
    if (format !== 'table') return print(format, made, columns);
    process.stdout.write(`wrote ${made.path} (${made.bytes} bytes)${made.deleted.length ? `; deleted the older ${made.deleted.join(', ')}` : ''}\n`);
  });

  out(backup.command('list').description('The snapshots in the backup directory, newest first, and the schedule (GET /api/v1/backups)')).action(async (o: OutputFlags) => {
    const format = parseFormat(o.output);
    const r = await createClient().request<{ dir: string | null; intervalSeconds: number; keep: number; items: BackupJson[] }>('GET', '/api/v1/backups');
    if (format !== 'table') return print(format, r as never, []);
    if (r.dir === null) {
      process.stdout.write('the server uses PostgreSQL: back it up with pg_dump, and keep the master key apart from the dump\n');
      return;
    }
    const schedule = r.intervalSeconds > 0 ? `every ${formatDuration(r.intervalSeconds)}` : 'automatic backups off';
    process.stdout.write(`${r.dir} (${schedule}, newest ${r.keep} kept)\n`);
    print(format, r.items, columns);
  });

  backup
    .command('restore')
    .argument('<snapshot>', 'a file airlock backup create (or the schedule) wrote')
    .description("Replace a stopped server's embedded store with a snapshot; the replaced store is kept beside it (works on the data directory directly)")
    .option('-c, --config <file>', 'server config file')
    .option('--data-dir <dir>', `data directory [env ${envName('dataDir')}]`)
    .option('--master-key-file <file>', `the master key the snapshot was sealed under [env AIRLOCK_MASTER_KEY; default <dataDir>/master.key]`)
    .option('--accept-lost-revocations', 'restore even when the store being replaced cannot be read, so revocations made since the snapshot are lost')
    .action(async (snapshot: string, o: { config?: string; dataDir?: string; masterKeyFile?: string; acceptLostRevocations?: boolean }) => {
      const config = serverConfig(o.config, { dataDir: o.dataDir, masterKeyFile: o.masterKeyFile });
      if (config.databaseUrl) throw new CliError('the server uses PostgreSQL: restore its pg_dump with pg_restore instead', 'ERR_RULE_VIOLATION', 'databaseUrl', 'pg_restore --clean -d "$DATABASE_URL" airlock.dump', 2);
      let r;
      try {
        r = await restoreSnapshot({ snapshot, dataDir: config.dataDir, env: process.env, masterKeyFile: config.masterKeyFile, clock: systemClock, acceptLostRevocations: o.acceptLostRevocations === true });
      } catch (err) {
        // Refused before anything was replaced: say why, exit 1.
        if (err instanceof AppError) throw new CliError(err.message, err.code, err.field === 'acceptLostRevocations' ? '--accept-lost-revocations' : err.field, err.example);
        throw err;
      }
      process.stdout.write(
        [
          `restored ${snapshot} into ${r.restored}`,
          r.replaced ? `the store it replaced is kept as ${r.replaced} (delete it once the restored server works)` : 'there was no store to replace',
          ...carriedLines(r.carried),
          'Start the server. Everything made after the snapshot is gone from it: tokens, join credentials, changes.',
          'If the admin token was reset since the snapshot, run: airlock admin-token reset',
          '',
        ].join('\n'),
      );
    });
}
