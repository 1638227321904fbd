/**
 * Is this configuration ready for real clouds? The defaults are for one machine and the sandbox:
 * issuers on http://127.0.0.1, the embedded store, the master key beside the data it protects.
 * AWS, GCP and Entra ID fetch each issuer's discovery document and JWKS themselves, from the
 * internet, over https, so a configuration that works with the sandbox can still be one no cloud
 * will ever trust. This names each such setting, what goes wrong, and what to set instead.
 *
 * A pure function of the parsed configuration and the environment: nothing is fetched or opened.
 */
import { isIP } from 'node:net';
import { envName } from './load.ts';
import type { Config } from './schema.ts';

export interface ReadinessFinding {
  /** `error`: real clouds cannot work this way; `warning`: works, but weaker or not for more than one machine; `info`: worth knowing. */
  severity: 'error' | 'warning' | 'info';
  /** The setting at fault. */
  key: keyof Config | 'masterKey' | 'masterKeyPrevious';
  message: string;
  /** What to set instead. */
  fix: string;
}

const PUBLIC_URL_EXAMPLE = `${envName('publicUrl')}=https://airlock.example.com`;

/** Loopback, RFC 1918 / RFC 4193 private, link-local and CGNAT addresses: nothing a cloud reaches. */
function privateAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  const v = isIP(h);
  if (v === 4) {
    const [a, b] = h.split('.').map(Number) as [number, number];
    return a === 127 || a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  }
  if (v === 6) return h === '::1' || h === '::' || /^f[cd]/.test(h) || /^fe[89ab]/.test(h);
  return false;
}

/** Names that only resolve inside a network (or a machine). */
const INTERNAL_NAME = /(^|\.)(localhost|local|internal|lan|home|corp|intranet|localdomain)$/i;

export function productionReadiness(c: Config, env: NodeJS.ProcessEnv): ReadinessFinding[] {
  const out: ReadinessFinding[] = [];
  if (!c.publicUrl) {
    out.push({
      severity: 'error',
      key: 'publicUrl',
      message: `publicUrl is not set, so every cluster's issuer is http://127.0.0.1:${c.port}/clusters/…: AWS, GCP and Entra ID fetch the issuer's discovery document and JWKS from the internet and can never reach it`,
      fix: `${PUBLIC_URL_EXAMPLE} (the https URL the clouds reach, usually a TLS reverse proxy in front of ${c.host}:${c.port})`,
    });
  } else {
    const url = new URL(c.publicUrl);
    if (url.protocol !== 'https:') {
      out.push({
        severity: 'error',
        key: 'publicUrl',
        message: `publicUrl ${c.publicUrl} is http: AWS IAM refuses an OIDC provider URL that is not https, and GCP and Entra ID fetch issuers over https only`,
        fix: `${envName('publicUrl')}=https://${url.host}${url.pathname === '/' ? '' : url.pathname}`,
      });
    }
    if (privateAddress(url.hostname)) {
      out.push({ severity: 'error', key: 'publicUrl', message: `publicUrl ${c.publicUrl} names a private or loopback address: no cloud can fetch the issuer from it`, fix: PUBLIC_URL_EXAMPLE });
    } else if (INTERNAL_NAME.test(url.hostname) || !url.hostname.includes('.')) {
      out.push({
        severity: 'warning',
        key: 'publicUrl',
        message: `publicUrl host ${url.hostname} looks internal: the clouds resolve it in public DNS, from the internet`,
        fix: `a name in public DNS, e.g. ${PUBLIC_URL_EXAMPLE}`,
      });
    }
    if (url.search || url.hash) {
      out.push({ severity: 'error', key: 'publicUrl', message: `publicUrl ${c.publicUrl} carries a query or fragment, which an OIDC issuer URL may not`, fix: PUBLIC_URL_EXAMPLE });
    }
  }

  if (!c.databaseUrl) {
    out.push({
      severity: 'warning',
      key: 'databaseUrl',
      message: `the embedded store (${c.dataDir}/airlock.db) serves one server process: no second replica`,
      fix: `${envName('databaseUrl')}=postgres://airlock:…@db.internal:5432/airlock for more than one replica`,
    });
    if (c.backupInterval === 0) {
      out.push({
        severity: 'warning',
        key: 'backupInterval',
        message: 'automatic backups are off: a lost or damaged disk loses every signing key, credential and audit record',
        fix: `${envName('backupInterval')}=24h (and copy the snapshots off the machine)`,
      });
    } else if (!c.backupDir) {
      out.push({
        severity: 'info',
        key: 'backupDir',
        message: `snapshots go to ${c.dataDir}/backups, on the same disk as the store they back up`,
        fix: `${envName('backupDir')}=/mnt/other-disk/airlock, or copy them off the machine`,
      });
    }
  } else {
    let dbUrl: URL | undefined;
    try {
      dbUrl = new URL(c.databaseUrl);
    } catch {
      dbUrl = undefined;
    }
    const sslmode = dbUrl?.searchParams.get('sslmode') ?? undefined;
    if (dbUrl && !privateAddress(dbUrl.hostname) && dbUrl.hostname !== 'localhost' && !['require', 'verify-ca', 'verify-full'].includes(sslmode ?? '')) {
      out.push({
        severity: 'warning',
        key: 'databaseUrl',
        message: `the connection to PostgreSQL at ${dbUrl.hostname} is not required to use TLS${sslmode ? ` (sslmode=${sslmode})` : ''}: sealed keys and secret values cross the network`,
        fix: 'add ?sslmode=verify-full to databaseUrl',
      });
    }
  }

  if (!env.AIRLOCK_MASTER_KEY) {
    out.push({
      severity: 'warning',
      key: 'masterKey',
      message: `the master key is read from ${c.masterKeyFile ?? `${c.dataDir}/master.key`}${c.masterKeyFile ? '' : ', beside the data it protects: a copy of the data directory is a copy of every private key'}`,
      fix: 'AIRLOCK_MASTER_KEY from a secret manager (and back it up: without it the stored keys cannot be read)',
    });
  }
  if (env.AIRLOCK_MASTER_KEY_PREVIOUS) {
    out.push({
      severity: 'info',
      key: 'masterKeyPrevious',
      message: 'AIRLOCK_MASTER_KEY_PREVIOUS is set: a master-key rotation is under way, and the old key still opens what it sealed',
      fix: 'airlock master-key rewrap, then remove AIRLOCK_MASTER_KEY_PREVIOUS and restart',
    });
  }
  if (c.keyPrepublish < 86_400) {
    out.push({
      severity: 'warning',
      key: 'keyPrepublish',
      message: `keyPrepublish is shorter than 24h: Entra ID caches an issuer's JWKS for up to a day, so a key that starts signing sooner can be refused there until the cache turns over`,
      fix: `${envName('keyPrepublish')}=24h`,
    });
  }
  if (c.logLevel === 'debug' || c.logLevel === 'trace') {
    out.push({ severity: 'warning', key: 'logLevel', message: `logLevel ${c.logLevel} writes every request's detail to the log`, fix: `${envName('logLevel')}=info` });
  }
  if (c.auditRetention === 0) {
    out.push({ severity: 'info', key: 'auditRetention', message: 'audit records are kept forever', fix: `${envName('auditRetention')}=400d, or ship them (airlock audit export --follow) and keep less here` });
  }
  return out;
}
