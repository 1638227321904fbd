import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';

export interface Spawned {
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Settles when the process exits: its code, or 128 + signal number as a shell reports it. */
  exited: Promise<number>;
  /** Resolves once `pattern` appears on stdout; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** SIGKILL to the whole process group (the process and everything it started); idempotent. */
  kill(): void;
}

const live = new Set<Spawned>();

/**
 * Starts a process in its own process group, so it and every child it starts can be killed
 * together ({@link killAll} in an `after`), even when a test fails midway. stdin is closed unless
 * `stdin: 'pipe'`.
 */
export function spawnGroup(command: string, args: readonly string[], o: { env: NodeJS.ProcessEnv; cwd?: string; stdin?: 'pipe' }): Spawned {
  const child = spawn(command, args, { env: o.env, cwd: o.cwd, detached: true, stdio: [o.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
  const s: Spawned = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern) {
      for (;;) {
        const m = pattern.exec(out);
        if (m) return m;
        const more = await Promise.race([once(child.stdout!, 'data').then(() => true), exited.then(() => false)]);
        if (!more && !pattern.exec(out)) throw new Error(`${command} exited before printing ${pattern}\nstdout: ${out}\nstderr: ${err}`);
      }
    },
    kill() {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
  };
  live.add(s);
  void exited.then(() => {
    // The leader is gone; anything it left in its group goes too.
    s.kill();
    live.delete(s);
  });
  return s;
}

/** Waits for a spawned process; past `ms` kills its group and fails with what it printed. */
export async function waitExit(p: Spawned, what: string, ms = 90_000): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.kill();
      reject(new Error(`${what} did not finish in ${ms} ms\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`));
    }, ms);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills every process group {@link spawnGroup} started that is still running, and waits for them. */
export async function killAll(): Promise<void> {
  const all = [...live];
  for (const s of all) s.kill();
  await Promise.all(all.map((s) => s.exited));
}

/**
 * The real Python interpreter (not a pyenv shim, which needs the user's HOME) and the `aws` CLI
 * installed beside it, or on PATH.
 */
export function pythonTools(): { python: string; aws: string } {
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 is not usable: ${r.stderr}`);
  const python = r.stdout.trim();
  const beside = join(dirname(python), 'aws');
  const aws = existsSync(beside) ? beside : spawnSync('sh', ['-c', 'command -v aws'], { encoding: 'utf8' }).stdout.trim();
  if (!aws) throw new Error('the aws CLI is not on PATH');
  return { python, aws };
}
