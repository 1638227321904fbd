import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.ts';
import { CliError } from './client.ts';
import { registerAdminCommands } from './commands/admin.ts';
import { registerClusterCommands } from './commands/cluster.ts';
import { registerConnectionCommands } from './commands/connection.ts';
import { registerDeploymentCommands, registerIdentityCommands } from './commands/deployment.ts';
import { registerWorkspaceCommands } from './commands/workspace.ts';
import { registerTokenCommands } from './commands/token.ts';
import { registerAuditCommands } from './commands/audit.ts';
import { registerBackupCommands } from './commands/backup.ts';
import { registerMasterKeyCommands } from './commands/master-key.ts';
import { registerExecCommands } from './commands/exec.ts';
import { registerSandboxCommand } from './commands/sandbox.ts';
import { registerServeCommands } from './commands/serve.ts';
import { registerWebhookCommands } from './commands/webhook.ts';
import { exitRequested, takeExitCode } from './exit.ts';

/**
 * `airlock`: one binary for the server (`serve`) and the client commands, which talk to a server
 * over HTTP (AIRLOCK_URL, AIRLOCK_TOKEN). Errors print the server's code and message and exit 1;
 * usage and configuration errors exit 2.
 */
export function buildProgram(): Command {
  const program = new Command('airlock')
    .description('Workload identity for data pipelines')
    .version(VERSION)
    .showHelpAfterError()
    .enablePositionalOptions()
    .exitOverride();
  registerServeCommands(program);
  registerClusterCommands(program);
  registerWorkspaceCommands(program);
  registerTokenCommands(program);
  registerAuditCommands(program);
  registerDeploymentCommands(program);
  registerIdentityCommands(program);
  registerConnectionCommands(program);
  registerSandboxCommand(program);
  registerExecCommands(program);
  registerWebhookCommands(program);
  registerAdminCommands(program);
  registerBackupCommands(program);
  registerMasterKeyCommands(program);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return takeExitCode() ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      let msg = `error: ${err.code}: ${err.message}`;
      if (err.field) msg += `\n  field: ${err.field}`;
      if (err.example !== undefined) msg += `\n  example: ${typeof err.example === 'string' ? err.example : JSON.stringify(err.example)}`;
      process.stderr.write(msg + '\n');
      return err.exitCode;
    }
    const e = err as { code?: string; message?: string; field?: unknown; example?: unknown };
    if (e?.code?.startsWith('ERR_')) {
      // Errors of the delivery side (DeliveryError) carry the input at fault like the server's do.
      let msg = `error: ${e.code}: ${e.message}`;
      if (typeof e.field === 'string') msg += `\n  field: ${e.field}`;
      if (e.example !== undefined) msg += `\n  example: ${typeof e.example === 'string' ? e.example : JSON.stringify(e.example)}`;
      process.stderr.write(msg + '\n');
      return 1;
    }
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

const code = await run(process.argv);
// Long-running commands (serve, sandbox) keep the process alive through their servers; exec and
// agent are done when they return, whatever sockets the HTTP client still keeps open.
if (exitRequested()) process.exit(code);
process.exitCode = code;
