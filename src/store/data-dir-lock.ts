import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors/index.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded store is a database file this process assumes it alone writes (it caches what it
 * reads, and serialises transactions on its one connection): a second server on the same files
 * would break both assumptions. This lock file (`<dataDir>/airlock.lock`, holding the owner's pid)
 * makes the second server refuse to start instead. A lock left by a process that no longer runs
 * is taken over.
 */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, 'airlock.lock');
  const mine = `${process.pid}\n`;
  // Only ever removes the lock while it is still this process's own.
  const release = () => {
    try {
      if (readFileSync(path, 'utf8') === mine) rmSync(path, { force: true });
    } catch {
      /* already gone */
    }
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, mine, { flag: 'wx', mode: 0o600 });
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      // Held by this process already (a restore opening the store it is restoring): re-entrant, and
      // the outer holder releases it.
      if (owner === process.pid) return () => undefined;
      if (Number.isInteger(owner) && alive(owner)) {
        throw new AppError(
          'ERR_CONFLICT',
          `another Airlock server (pid ${owner}) is using the embedded store in ${dir}; stop it, or start this one with another --data-dir (or DATABASE_URL for a shared PostgreSQL)`,
          { field: 'dataDir' },
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new AppError('ERR_CONFLICT', `could not lock ${path}`, { field: 'dataDir' });
}
