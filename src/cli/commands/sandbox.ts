import type { Command } from 'commander';
import { join } from 'node:path';
import { createLogger } from '../../lib/logger.ts';
import { CliError } from '../client.ts';
import { LOG_LEVEL_HELP, parseLogLevel } from '../options.ts';

export function registerSandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description('Run local emulators of the AWS, GCP and Azure token endpoints (loopback only)')
    .option('--port <port>', 'AWS (IAM + STS query API), GCP (STS, IAM Credentials), /_sandbox/info and the HTTPS proxy, over http', '9000')
    .option('--azure-port <port>', 'Azure Entra ID over https (default: --port + 1)')
    .option('--host <host>', 'loopback address to bind', '127.0.0.1')
    .option('--data-dir <dir>', 'certificate and state file', join('.airlock', 'sandbox'))
    .option('--in-memory', 'do not keep configuration across restarts')
    .option('--config <file>', 'load configuration at start: { "aws": …, "gcp": …, "azure": … } (see docs/sandbox.md)')
    .option('--log-level <level>', LOG_LEVEL_HELP, 'info')
    .action(async (o: { port: string; azurePort?: string; host: string; dataDir: string; inMemory?: boolean; config?: string; logLevel: string }) => {
      const port = Number(o.port);
      const azurePort = o.azurePort === undefined ? undefined : Number(o.azurePort);
      for (const [flag, v] of [['--port', port], ['--azure-port', azurePort]] as const) {
        if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 65535)) throw new CliError(`${flag} must be a port number`, 'ERR_VALIDATION', flag, '9000', 2);
      }
      const level = parseLogLevel(o.logLevel);
      // Emulator failures, failed state saves and refused proxy requests: JSON lines on stderr.
      const logger = createLogger(level);
      // Loaded here: the emulators (and their certificate tooling) are no cost to the other commands.
      const { startSandbox } = await import('../../emulators/sandbox.ts');
      const s = await startSandbox({ host: o.host, port, azurePort, dataDir: o.dataDir, inMemory: Boolean(o.inMemory), configFile: o.config, logger });
      const accounts = s.info().accounts;
      const lines = [
        'airlock sandbox is running (emulates the token paths only; see docs/sandbox.md)',
        `  AWS IAM + STS   ${s.awsUrl}        aws --endpoint-url ${s.awsUrl} iam …`,
        `                  AWS_ACCESS_KEY_ID=<12-digit account id> acts in that account (any secret); AKIASANDBOX in 000000000000`,
        ...(accounts.length ? [`                  accounts with IAM state: ${accounts.join(', ')}`] : []),
        `  GCP STS + IAM   ${s.gcpUrl}/v1/…   token_url ${s.gcpUrl}/v1/token`,
        `  Azure Entra ID  ${s.azureUrl}       authority host; trust ${s.certFile}`,
        `  HTTPS proxy     ${s.proxyUrl}        tunnels login.microsoftonline.com (MSAL instance discovery) and {sts,iamcredentials,cloudresourcemanager}.googleapis.com to the emulators; refuses other hosts`,
        `  info            ${s.infoUrl}`,
        s.stateFile ? `  state           ${s.stateFile}` : '  state           in memory only',
        '',
        'Run a workload against it (exec reads the info URL and sets every cloud up for the child):',
        `  airlock exec --deployment <name> --component <component> --sandbox ${s.awsUrl} -- <command>`,
        '',
        'Or set a shell up by hand:',
        ...Object.entries(s.clientEnv).map(([k, v]) => `  export ${k}=${v}`),
        `  # @azure/identity with instance discovery on, and Google impersonation (impersonation_chain), also need, for that process only:`,
        `  #   HTTPS_PROXY=${s.proxyUrl} NO_PROXY=127.0.0.1,localhost,::1`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
      const stop = async () => {
        await s.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
    });
}
