import type { Command } from 'commander';
import { join } from 'node:path';
import { startSandbox } from '../../emulators/sandbox.ts';
import { CliError } from '../client.ts';

export function registerSandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description('Run local emulators of the AWS, GCP and Azure token endpoints (loopback only)')
    .option('--port <port>', 'AWS (IAM + STS query API) and GCP (STS, IAM Credentials) over http', '9000')
    .option('--azure-port <port>', 'Azure Entra ID over https (default: --port + 1)')
    .option('--host <host>', 'loopback address to bind', '127.0.0.1')
    .option('--data-dir <dir>', 'certificate and state file', join('.airlock', 'sandbox'))
    .option('--in-memory', 'do not keep configuration across restarts')
    .option('--config <file>', 'load configuration at start: { "aws": …, "gcp": …, "azure": … } (see docs/sandbox.md)')
    .action(async (o) => {
      const port = Number(o.port);
      const azurePort = o.azurePort === undefined ? undefined : Number(o.azurePort);
      for (const [flag, v] of [['--port', port], ['--azure-port', azurePort]] as const) {
        if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 65535)) throw new CliError(`${flag} must be a port number`, 'ERR_VALIDATION', flag, '9000', 2);
      }
      const s = await startSandbox({ host: o.host, port, azurePort, dataDir: o.dataDir, inMemory: Boolean(o.inMemory), configFile: o.config });
      const lines = [
        'airlock sandbox is running (emulates the token paths only; see docs/sandbox.md)',
        `  AWS IAM + STS   ${s.awsUrl}        aws --endpoint-url ${s.awsUrl} iam …   (admin key AKIASANDBOX, any secret)`,
        `  GCP STS + IAM   ${s.gcpUrl}/v1/…   token_url ${s.gcpUrl}/v1/token`,
        `  Azure Entra ID  ${s.azureUrl}       authority host; trust ${s.certFile}`,
        s.stateFile ? `  state           ${s.stateFile}` : '  state           in memory only',
        '',
        'Client environment:',
        ...Object.entries(s.clientEnv).map(([k, v]) => `  export ${k}=${v}`),
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
