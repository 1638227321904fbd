/**
 * Private files for delivered credentials: directories 0700, files 0600 (wider only when asked,
 * for a sidecar sharing them with containers of another user), every write atomic.
 *
 * A reader (an SDK re-reading its token file) must never see a half-written token: the content goes
 * to a temporary file in the same directory (so the rename cannot cross filesystems), is flushed,
 * and is renamed over the old file, which POSIX makes atomic. A reader holding the old file open
 * keeps reading the old, complete content.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode of every directory Airlock creates for credentials: only the owner may list or enter it. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of every credential file: only the owner may read it. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) with mode 0700 and makes sure `dir` itself has that mode
 * even when it existed (mkdir leaves an existing directory's mode alone, and the umask narrows new ones).
 */
export async function ensurePrivateDir(dir: string, mode: number = PRIVATE_DIR_MODE): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  await chmod(dir, mode);
}

/**
 * The directory mode that lets exactly the readers of a file mode in: every class that may read
 * the file may also enter the directory (0600 → 0700, 0640 → 0750, 0644 → 0755).
 */
export function dirModeFor(fileMode: number): number {
  let m = 0o700;
  if (fileMode & 0o040) m |= 0o050;
  if (fileMode & 0o004) m |= 0o005;
  return m;
}

/**
 * Writes `content` to `path` atomically with mode 0600, creating its directory (0700) first.
 * The temporary file is created with O_EXCL under a random name, so a planted file or symlink of
 * the same name cannot be written through.
 */
export async function writePrivateFile(path: string, content: string, mode: number = PRIVATE_FILE_MODE): Promise<void> {
  await ensurePrivateDir(dirname(path), dirModeFor(mode));
  await writeFileAtomically(path, content, mode);
}

/**
 * Writes `content` to `path` atomically (temp file beside it, renamed), in a directory that must
 * exist and whose mode is left alone: for a file in a directory others own, such as
 * node_exporter's textfile directory.
 */
export async function writeFileAtomically(path: string, content: string, mode: number): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.writeFile(content, 'utf8');
      // The umask may have narrowed the mode: set exactly the one asked for.
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
