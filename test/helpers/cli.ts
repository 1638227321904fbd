import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `airlock` binary in an empty directory (so no ./.airlock/admin-token is picked
 * up) with only PATH and `env`; never throws, returns the exit code.
 */
export async function airlock(args: string[], env: Record<string, string>): Promise<CliResult> {
  const cwd = mkdtempSync(join(tmpdir(), 'airlock-cli-'));
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
