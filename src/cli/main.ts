import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.ts';
import { CliError } from './client.ts';
import { registerAdminCommands } from './commands/admin.ts';
import { registerClusterCommands } from './commands/cluster.ts';
import { registerDeploymentCommands, registerIdentityCommands } from './commands/deployment.ts';
import { registerSandboxCommand } from './commands/sandbox.ts';
import { registerServeCommands } from './commands/serve.ts';

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
    .exitOverride();
  registerServeCommands(program);
  registerClusterCommands(program);
  registerDeploymentCommands(program);
  registerIdentityCommands(program);
  registerSandboxCommand(program);
  registerAdminCommands(program);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      let msg = `error: ${err.code}: ${err.message}`;
      if (err.field) msg += `\n  field: ${err.field}`;
      if (err.example !== undefined) msg += `\n  example: ${typeof err.example === 'string' ? err.example : JSON.stringify(err.example)}`;
      process.stderr.write(msg + '\n');
      return err.exitCode;
    }
    const e = err as { code?: string; message?: string };
    if (e?.code?.startsWith('ERR_')) {
      process.stderr.write(`error: ${e.code}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

const code = await run(process.argv);
// Long-running commands keep the process alive through their servers; the rest end here.
if (code !== 0 || !['serve', 'sandbox'].some((c) => process.argv.includes(c))) process.exitCode = code;
