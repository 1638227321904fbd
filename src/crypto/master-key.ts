import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AppError } from '../errors/index.ts';

/**
 * The store setting that holds a value sealed under the master key: opening it proves, before any
 * private key is needed, that the key in hand is the one the store was sealed with.
 */
export const CANARY_SETTING = 'crypto.canary';

export interface MasterKeySource {
  key: Buffer;
  /** Where it came from, for the start-up log (never the key itself). */
  origin: 'env' | 'file' | 'created';
  path?: string;
}

/** Accepts 32 bytes as base64/base64url (44/43 chars) or hex (64 chars). */
export function decodeMasterKey(text: string, where: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) key = Buffer.from(t, 'base64');
  if (!key || key.length !== 32) {
    throw new AppError('ERR_MASTER_KEY', `${where} must hold 32 random bytes as base64 or hex (generate one: openssl rand -base64 32)`);
  }
  return key;
}

/**
 * Finds the master key: `AIRLOCK_MASTER_KEY` first, then the key file. When neither exists the
 * key file is created (mode 0600). Losing that file makes every stored private key unreadable, and
 * anyone who reads it can decrypt them: the caller logs a warning saying so.
 */
export function loadMasterKey(opts: { env: NodeJS.ProcessEnv; dataDir: string; file?: string | undefined; create?: boolean }): MasterKeySource {
  const fromEnv = opts.env.AIRLOCK_MASTER_KEY;
  if (fromEnv) return { key: decodeMasterKey(fromEnv, 'AIRLOCK_MASTER_KEY'), origin: 'env' };

  const path = resolve(opts.file ?? join(opts.dataDir, 'master.key'));
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      throw new AppError('ERR_MASTER_KEY', `master key file ${path} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${path}`);
    }
    return { key: decodeMasterKey(readFileSync(path, 'utf8'), path), origin: 'file', path };
  }
  if (opts.create === false) throw new AppError('ERR_MASTER_KEY', `no master key: AIRLOCK_MASTER_KEY is not set and ${path} does not exist`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { key, origin: 'created', path };
}

/**
 * `AIRLOCK_MASTER_KEY_PREVIOUS`: the master keys being rotated away from, comma-separated (each
 * in the form AIRLOCK_MASTER_KEY takes). Values sealed under them still open until
 * `airlock master-key rewrap` moves them to the current key. Unset: none.
 */
export function loadPreviousMasterKeys(env: NodeJS.ProcessEnv): Buffer[] {
  const raw = env.AIRLOCK_MASTER_KEY_PREVIOUS;
  if (!raw || raw.trim() === '') return [];
  return raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '')
    .map((k, i) => decodeMasterKey(k, `AIRLOCK_MASTER_KEY_PREVIOUS (key ${i + 1})`));
}
