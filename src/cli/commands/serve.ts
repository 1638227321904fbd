import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { performance } from 'node:perf_hooks';
import { createApp } from '../../app.ts';
import { embeddedPath } from '../../store/store.ts';
import { envName, loadConfig } from '../../config/load.ts';
import { maskDatabaseUrl } from '../../config/mask.ts';
import { productionReadiness } from '../../config/readiness.ts';
import { CONFIG_KEYS, configSchema, type ConfigInput } from '../../config/schema.ts';
import { AppError } from '../../errors/index.ts';
import { formatDuration } from '../../lib/duration.ts';
import { reloadTlsPeriodically } from '../../lib/tls-files.ts';
import { CliError } from '../client.ts';
import { setExitCode } from '../exit.ts';

/** `--public-url` ↔ `publicUrl` for every setting, so flags stay in step with the schema. */
const flagName = (key: string) => '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

function addConfigFlags(cmd: Command): Command {
  cmd.option('-c, --config <file>', 'YAML or JSON config file (also AIRLOCK_CONFIG)');
  for (const key of CONFIG_KEYS) {
    const desc = configSchema.shape[key].description ?? '';
    cmd.option(`${flagName(key)} <value>`, `${desc} [env ${envName(key)}]`);
  }
  return cmd;
}

function configFrom(opts: Record<string, unknown>) {
  const flags: Partial<Record<keyof ConfigInput, unknown>> = {};
  for (const key of CONFIG_KEYS) if (opts[key] !== undefined) flags[key] = opts[key];
  try {
    return loadConfig({ file: opts.config as string | undefined, flags });
  } catch (err) {
    if (err instanceof AppError) throw new CliError(err.message, err.code, undefined, undefined, 2);
    throw err;
  }
}

const DURATION_KEYS = new Set(['tokenTtlDefault', 'tokenTtlMax', 'keyRotationPeriod', 'keyPrepublish', 'clockSkew', 'rotationCheckInterval', 'auditRetention']);

export function registerServeCommands(program: Command): void {
  addConfigFlags(program.command('serve').description('Run the server: API, OIDC issuers, embedded store by default')).action(async (opts: Record<string, unknown>) => {
    // performance.now() counts from the process start: this is Node's own start plus loading our modules.
    const modulesMs = performance.now();
    const config = configFrom(opts);
    const app = await createApp({ config });
    const listening = performance.now();
    await app.listen();
    const ms = (x: number) => Math.round(x * 10) / 10;
    const s = app.startup;
    app.logger.info('airlock is serving', {
      url: app.publicUrl(),
      store: app.store.kind === 'embedded' ? `embedded (${embeddedPath(config.dataDir)})` : 'postgres',
      adminTokenFile: app.adminTokenFile,
      startupMs: {
        modules: ms(modulesMs),
        storeOpen: ms(s.storeOpenMs),
        migrations: ms(s.migrateMs),
        bootstrap: ms(s.bootstrapMs),
        assemble: ms(s.assembleMs),
        listen: ms(performance.now() - listening),
        total: ms(performance.now()),
      },
    });
    if (app.adminTokenFile) {
      app.logger.warn('created the admin API token; it was written once to the file named here and is not shown again', { file: app.adminTokenFile });
    }
    const stopTlsReload = config.tlsCert ? reloadTlsPeriodically(() => app.reloadTls(), app.logger) : undefined;
    let closing = false;
    const stop = async (signal: string) => {
      if (closing) return;
      closing = true;
      stopTlsReload?.();
      app.logger.info('shutting down', { signal });
      await app.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  });

  const config = program.command('config').description('Inspect the server configuration');
  addConfigFlags(config.command('validate').description('Check the configuration (file, env, flags) and print the result'))
    .option('-o, --output <format>', 'yaml | json', 'yaml')
    .option('--explain', 'print every setting with its description and default')
    .option('--production', 'also check it is ready for real clouds (public https issuers, store, master key, key pre-publication); exit 1 on an error')
    .action((opts: Record<string, unknown> & { explain?: boolean; output: string; production?: boolean }) => {
      if (opts.explain) {
        for (const key of CONFIG_KEYS) {
          const s = configSchema.shape[key];
          process.stdout.write(`${key} (${envName(key)}, ${flagName(key)})\n    ${s.description ?? ''}\n`);
        }
        return;
      }
      const c = configFrom(opts);
      const shown: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(c)) shown[k] = DURATION_KEYS.has(k) && typeof v === 'number' ? formatDuration(v) : v;
      if (c.databaseUrl) shown.databaseUrl = maskDatabaseUrl(c.databaseUrl);
      process.stderr.write('configuration is valid\n');
      const readiness = opts.production ? productionReadiness(c, process.env) : undefined;
      if (opts.output === 'json') process.stdout.write(JSON.stringify(readiness ? { config: shown, readiness } : shown, null, 2) + '\n');
      else {
        process.stdout.write(toYaml(shown));
        if (readiness) {
          process.stdout.write(`\nproduction readiness:${readiness.length === 0 ? ' nothing to report' : ''}\n`);
          for (const f of readiness) process.stdout.write(`  ${f.severity} ${f.key}: ${f.message}\n      set: ${f.fix}\n`);
        }
      }
      if (readiness?.some((f) => f.severity === 'error')) setExitCode(1);
    });
}
