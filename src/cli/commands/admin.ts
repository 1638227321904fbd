import type { Command } from 'commander';
import { resolve } from 'node:path';
import { createApiTokenService } from '../../auth/api-tokens.ts';
import { envName } from '../../config/load.ts';
import { systemClock } from '../../lib/clock.ts';
import { createStore } from '../../store/store.ts';
import { createAuditLog } from '../../audit/log.ts';
import { createLogger } from '../../lib/logger.ts';
import { userInfo } from 'node:os';
import { serverConfig } from '../options.ts';

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin-token').description('The admin API token');
  admin
    .command('reset')
    .description('Revoke every admin token and write a new one to <dataDir>/admin-token (works on the store directly)')
    .option('-c, --config <file>', 'server config file')
    .option('--data-dir <dir>', `data directory [env ${envName('dataDir')}]`)
    .option('--database-url <url>', 'PostgreSQL URL [env DATABASE_URL]')
    .action(async (o: { config?: string; dataDir?: string; databaseUrl?: string }) => {
      const config = serverConfig(o.config, { dataDir: o.dataDir, databaseUrl: o.databaseUrl });
      // The embedded store refuses while a server has it open (data-directory lock): stop it first.
      const store = await createStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const r = await createApiTokenService(store, systemClock).resetAdminToken(resolve(config.dataDir));
        // Done on the store directly, so it is recorded here rather than at the API's edge.
        const audit = createAuditLog({ store, clock: systemClock, logger: createLogger('silent') });
        await audit.record({
          actor: { type: 'system', id: 'airlock admin-token reset', name: userInfo().username },
          action: 'token.admin-reset',
          target: { type: 'token', id: 'admin', name: 'admin' },
          result: 'success',
          details: { revoked: r.revoked },
        });
        process.stdout.write(`revoked ${r.revoked} admin token(s); the new one is in ${r.path} (mode 0600)\n`);
      } finally {
        await store.close();
      }
    });
}
