/**
 * `airlock exec` and `airlock agent`: the workload side of delivery, for anything that is not a pod
 * the webhook mutates (VMs, Celery workers, CI jobs, a laptop) and for the webhook's sidecar.
 * The work is in src/delivery/agent; this file only turns flags into options.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { joinCredential, joinCredentialFile, kubernetesTokenFile, type Attestation } from '../../delivery/client.ts';
import { startAgent } from '../../delivery/agent/agent.ts';
import { runExec } from '../../delivery/agent/exec.ts';
import { DEFAULT_TOKEN_DIR } from '../../delivery/environment.ts';
import { JOIN_CREDENTIAL_ENV } from '../../delivery/profile.ts';
import { systemClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/logger.ts';
import { systemScheduler } from '../../lib/scheduler.ts';
import { CliError } from '../client.ts';
import { setExitCode } from '../exit.ts';
import { LOG_LEVEL_HELP, parseLogLevel } from '../options.ts';

interface CommonFlags {
  server?: string;
  deployment?: string;
  component?: string;
  joinCredentialFile?: string;
  kubernetesTokenFile?: string;
  cluster?: string;
  dir?: string;
  audience: string[];
  sandbox?: string;
  fileMode: string;
  logLevel: string;
}

const collect = (v: string, acc: string[]) => [...acc, v];

function common(cmd: Command, defaults: { logLevel: string }): Command {
  return cmd
    .option('--server <url>', 'the Airlock server (default: AIRLOCK_URL, else http://127.0.0.1:8080)')
    .option('--deployment <deployment>', 'refuse to run unless the credential is this Deployment\'s (id or name)')
    .option('--component <component>', 'refuse to run unless the credential is this component\'s')
    .option('--join-credential-file <path>', `a file holding the join credential (default: the ${JOIN_CREDENTIAL_ENV} variable)`)
    .option('--kubernetes-token-file <path>', 'attest with this projected service-account token instead (needs --cluster)')
    .option('--cluster <cluster>', 'the cluster (id or name) whose Kubernetes issuer signed --kubernetes-token-file')
    .option('--audience <audience>', 'also keep a token for this custom audience of the cluster (repeatable)', collect, [])
    .option('--sandbox <url>', 'point every cloud at `airlock sandbox` (its http URL, e.g. http://127.0.0.1:9000)')
    .option('--file-mode <mode>', 'mode of the token files: 0600, or 0640/0644 to share them with another user', '0600')
    .option('--log-level <level>', LOG_LEVEL_HELP, defaults.logLevel);
}

function parseFileMode(v: string): number {
  if (!/^0?[0-7]{3}$/.test(v)) throw new CliError('--file-mode must be an octal file mode', 'ERR_VALIDATION', '--file-mode', '0600', 2);
  const mode = parseInt(v, 8);
  // The owner must read; nobody needs to write or execute a token, and nobody but the owner may change one.
  if ((mode & 0o400) === 0 || (mode & 0o133) !== 0) {
    throw new CliError(`--file-mode ${v} is not a token file mode: owner-readable, never executable, writable by the owner at most`, 'ERR_VALIDATION', '--file-mode', '0644', 2);
  }
  return mode;
}

function attestation(o: CommonFlags): Attestation {
  if (o.kubernetesTokenFile !== undefined) {
    if (o.joinCredentialFile !== undefined) {
      throw new CliError('give either --kubernetes-token-file or --join-credential-file, not both', 'ERR_VALIDATION', '--kubernetes-token-file', '--kubernetes-token-file /var/run/secrets/airlock-attest/token --cluster prod', 2);
    }
    if (o.cluster === undefined) {
      throw new CliError('--kubernetes-token-file needs --cluster: the server must know whose issuer signed the token', 'ERR_VALIDATION', '--cluster', 'prod-aws', 2);
    }
    return kubernetesTokenFile(o.kubernetesTokenFile, o.cluster);
  }
  if (o.joinCredentialFile !== undefined) return joinCredentialFile(o.joinCredentialFile);
  const v = process.env[JOIN_CREDENTIAL_ENV];
  if (v === undefined || v === '') {
    throw new CliError(
      `no credential: set ${JOIN_CREDENTIAL_ENV}, or pass --join-credential-file, or --kubernetes-token-file with --cluster (create one with \`airlock deployment credentials create <deployment> --component worker\`)`,
      'ERR_UNAUTHENTICATED',
      JOIN_CREDENTIAL_ENV,
      'alj_<20 lowercase letters or digits>_<43 base64url characters>',
      2,
    );
  }
  return joinCredential(v);
}

function sessionOptions(o: CommonFlags) {
  const fileMode = parseFileMode(o.fileMode);
  const logger = createLogger(parseLogLevel(o.logLevel));
  return {
    serverUrl: o.server ?? process.env.AIRLOCK_URL ?? 'http://127.0.0.1:8080',
    attestation: attestation(o),
    expect: { deployment: o.deployment, component: o.component },
    extraAudiences: o.audience,
    sandboxUrl: o.sandbox,
    fileMode,
    clock: systemClock,
    scheduler: systemScheduler,
    logger,
  };
}

export function registerExecCommands(program: Command): void {
  common(
    program
      .command('exec')
      .description("Run a command with a Deployment component's workload identity: token files and the env the AWS, GCP and Azure SDKs read")
      .argument('<command>', 'the program to run')
      .argument('[args...]', 'its arguments (put -- before the command so they are not read as airlock options)')
      .usage('[options] -- <command> [args...]')
      .passThroughOptions(),
    { logLevel: 'warn' },
  )
    .option('--dir <dir>', 'keep the token files here (default: a private temporary directory, removed when the command ends)')
    .option('--clean-env', 'remove variables that would take precedence over the identity (static AWS keys, AWS_PROFILE, an Azure secret)')
    .action(async (command: string, args: string[], o: CommonFlags & { cleanEnv?: boolean }) => {
      const code = await runExec({
        ...sessionOptions(o),
        command,
        args,
        dir: o.dir === undefined ? undefined : resolve(o.dir),
        cleanEnv: Boolean(o.cleanEnv),
        warn: (line) => process.stderr.write(line + '\n'),
      });
      // The child's exit status is ours; nothing of ours (keep-alive sockets) should hold the process up.
      setExitCode(code, { exitNow: true });
    });

  common(
    program
      .command('agent')
      .description('Keep token files (and an env file) fresh in a directory for other processes: a sidecar, or a VM service'),
    { logLevel: 'info' },
  )
    .option('--dir <dir>', 'where the files go (the paths the generated setup names)', DEFAULT_TOKEN_DIR)
    .option('--once', 'write the files once and exit (fails on the first refusal instead of retrying)')
    .option('--print-env', 'print the env file (export lines) on stdout once it is written')
    .option('--socket <path>', 'also answer GET /v1/token?audience=, /v1/env and /healthz on this unix socket')
    .option('--metrics-file <path>', "keep Prometheus metrics (token expiry, exchanges, failures) in this file, for node_exporter's textfile collector")
    .action(async (o: CommonFlags & { once?: boolean; printEnv?: boolean; socket?: string; metricsFile?: string; dir: string }) => {
      const opts = sessionOptions(o);
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      try {
        const agent = await startAgent({
          ...opts,
          dir: resolve(o.dir),
          once: Boolean(o.once),
          socketPath: o.socket === undefined ? undefined : resolve(o.socket),
          metricsFile: o.metricsFile === undefined ? undefined : resolve(o.metricsFile),
          signal: controller.signal,
          ...(o.printEnv ? { printEnv: (content: string) => process.stdout.write(content) } : {}),
        });
        await agent.done;
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
      setExitCode(0, { exitNow: true });
    });
}
