/**
 * `airlock exec`: run one command with the workload's identity in its environment, keep its token
 * files fresh while it runs, pass it every signal, and exit with its exit code.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeliveryPlan } from '../environment.ts';
import { DeliveryError } from '../errors.ts';
import { JOIN_CREDENTIAL_ENV } from '../profile.ts';
import { openSession, type Session, type SessionOptions } from './session.ts';

/** Secrets of the launcher that the command must not inherit: it gets short-lived tokens instead. */
export const LAUNCHER_SECRETS = [JOIN_CREDENTIAL_ENV, 'AIRLOCK_TOKEN'] as const;

export interface ChildEnvironment {
  env: NodeJS.ProcessEnv;
  /** Variables of the plan the caller had already set: their values were kept. */
  kept: string[];
  /** Variables that take precedence over the delivered identity in the SDKs and were left in place. */
  shadowing: string[];
  /** Variables removed (launcher secrets; shadowing ones with `cleanEnv`). */
  removed: string[];
}

/**
 * The command's environment: the caller's, plus the plan's variables it did not set itself (a
 * variable already set is never overridden), minus the launcher's secrets. Variables that would win
 * over the delivered identity (static AWS keys, AWS_PROFILE, an Azure secret) are removed only with
 * `cleanEnv`; otherwise they stay and are reported.
 */
export function childEnvironment(
  base: NodeJS.ProcessEnv,
  plan: DeliveryPlan,
  o: { cleanEnv?: boolean; deploymentEnv?: Record<string, string> | undefined } = {},
): ChildEnvironment {
  const env: NodeJS.ProcessEnv = { ...base };
  const kept: string[] = [];
  const shadowing: string[] = [];
  const removed: string[] = [];
  // The Deployment's variables and connections first; the delivered identity's variables win over
  // a Deployment variable of the same name; the caller's own environment wins over both.
  for (const [k, v] of Object.entries({ ...o.deploymentEnv, ...plan.env })) {
    if (env[k] !== undefined && env[k] !== '') kept.push(k);
    else env[k] = v;
  }
  for (const k of plan.unset) {
    if (env[k] === undefined) continue;
    if (o.cleanEnv) {
      delete env[k];
      removed.push(k);
    } else {
      shadowing.push(k);
    }
  }
  for (const k of LAUNCHER_SECRETS) {
    if (env[k] !== undefined) {
      delete env[k];
      removed.push(k);
    }
  }
  return { env, kept: kept.sort(), shadowing: shadowing.sort(), removed: removed.sort() };
}

/** Signals passed on to the command (SIGKILL and SIGSTOP cannot be caught). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/**
 * Runs `command` with inherited stdio and resolves with its exit code, or 128 + the signal's number
 * when a signal ended it (as a shell reports it).
 */
export function runChild(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => {
      child.kill(sig);
    };
    const handlers = FORWARDED_SIGNALS.map((sig) => {
      const h = () => forward(sig);
      process.on(sig, h);
      return [sig, h] as const;
    });
    const detach = () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      detach();
      const why = err.code === 'ENOENT' ? 'not found on PATH' : err.code === 'EACCES' ? 'not executable' : (err.code ?? err.message);
      reject(new DeliveryError('ERR_CHILD_START', `cannot start ${command}: ${why}`, { field: 'command', example: 'airlock exec … -- python my_task.py', cause: err }));
    });
    child.once('exit', (code, signal) => {
      detach();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

export interface ExecOptions extends Omit<SessionOptions, 'dir'> {
  command: string;
  args: readonly string[];
  /** Keep the files here (and leave them); a private temporary directory, removed at the end, otherwise. */
  dir?: string | undefined;
  cleanEnv?: boolean;
  baseEnv?: NodeJS.ProcessEnv;
  /** Where notes for the operator go (stderr). */
  warn: (line: string) => void;
  /** Runs the child; tests replace it to drive a long-running child. */
  run?: (command: string, args: readonly string[], env: NodeJS.ProcessEnv, session: Session) => Promise<number>;
}

export async function runExec(o: ExecOptions): Promise<number> {
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'airlock-exec-')));
  let session: Session | undefined;
  try {
    const base = o.baseEnv ?? process.env;
    session = await openSession({ ...o, dir, outerEnv: base });
    await session.keeper.start();
    const child = childEnvironment(base, session.plan, { cleanEnv: o.cleanEnv ?? false, deploymentEnv: session.environment?.applied.env });
    const shadowedVars = session.environment?.applied.shadowedVariables ?? [];
    if (shadowedVars.length) o.warn(`airlock exec: ${shadowedVars.join(', ')} set by a Deployment variable ${shadowedVars.length === 1 ? 'is' : 'are'} replaced by the Environment Manager's linked connection (it ranks first)`);
    if (child.kept.length) o.warn(`airlock exec: keeping ${child.kept.join(', ')} as already set in the environment`);
    if (child.shadowing.length) {
      o.warn(
        `airlock exec: ${child.shadowing.join(', ')} ${child.shadowing.length === 1 ? 'is' : 'are'} set and take${child.shadowing.length === 1 ? 's' : ''} precedence over ` +
          `${session.profile.deployment.name}/${session.profile.component}'s identity in the cloud SDKs; unset ${child.shadowing.length === 1 ? 'it' : 'them'} or pass --clean-env`,
      );
    }
    return await (o.run ?? ((c, a, e) => runChild(c, a, e)))(o.command, o.args, child.env, session);
  } finally {
    session?.stop();
    // A refresh in flight finishes (writing nothing) before the directory goes, so no token file
    // is left behind; a failed removal is reported, never put in place of the command's outcome.
    await session?.keeper.settled();
    if (o.dir === undefined) {
      await rm(dir, { recursive: true, force: true }).catch((err: unknown) => o.warn(`airlock exec: could not remove ${dir}: ${(err as Error).message}`));
    }
  }
}
