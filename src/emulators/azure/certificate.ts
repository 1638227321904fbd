import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** The sandbox's TLS certificate and where it was written. */
export interface SandboxCertificate {
  /** `<dir>/cert.pem`: give this to clients (`NODE_EXTRA_CA_CERTS`, `REQUESTS_CA_BUNDLE`, `ca:`). */
  certPath: string;
  /** `<dir>/key.pem`, mode 0600: only the server reads it. */
  keyPath: string;
  cert: string;
  key: string;
  /** SHA-256 fingerprint, `AB:CD:…`, to compare with what a client reports. */
  fingerprint256: string;
  notAfter: Date;
  /** False when a still-valid certificate already in `dir` was reused. */
  created: boolean;
}

export interface SandboxCertificateOptions {
  /** Days the certificate is valid; default 365. */
  days?: number;
  /** Reuse a certificate already in `dir` while it has at least a day left; default true. */
  reuse?: boolean;
  /** Source of "now" (the certificate's validity is checked by clients against their real clocks). */
  now?: () => Date;
}

/**
 * Entra's public authority host. The sandbox's CONNECT proxy tunnels it to the Azure emulator, so
 * MSAL's instance discovery (always sent there) is answered locally; the certificate must name it.
 */
export const ENTRA_AUTHORITY_HOST = 'login.microsoftonline.com';

/**
 * Google API hosts the proxy tunnels to the GCP emulator (served on the same https port): their
 * clients reach them at fixed URLs whatever the credential configuration says — IAM Credentials
 * for `impersonation_chain` (Airflow's Google hook, google-auth's `impersonated_credentials`),
 * Cloud Resource Manager when Application Default Credentials look for a project — and STS, so a
 * configuration whose URLs were not rewritten works too.
 */
export const GOOGLE_API_HOSTS = ['sts.googleapis.com', 'iamcredentials.googleapis.com', 'cloudresourcemanager.googleapis.com'] as const;

/** The names the certificate is valid for; an existing certificate lacking one is replaced. */
export const SANDBOX_CERTIFICATE_NAMES = { dns: ['localhost', ENTRA_AUTHORITY_HOST, ...GOOGLE_API_HOSTS], ips: ['127.0.0.1', '::1'] } as const;

/** The entries of the subject alternative name extension, as Node prints them (`DNS:x`, `IP Address:y`). */
export function subjectAltNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter(Boolean);
}

function covers(cert: X509Certificate): boolean {
  const san = new Set(subjectAltNames(cert));
  return SANDBOX_CERTIFICATE_NAMES.dns.every((n) => san.has(`DNS:${n}`)) && san.has('IP Address:127.0.0.1');
}

function writePrivate(path: string, data: string, mode: number): void {
  // Written beside the target and renamed, so a reader never sees half a key; chmod again because
  // `mode` only applies when the file is created.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/**
 * Makes (or reuses) the self-signed certificate the sandbox's https port is served with: RSA 2048,
 * SHA-256, valid for `localhost`, `127.0.0.1`, `::1`, `login.microsoftonline.com` and the
 * {@link GOOGLE_API_HOSTS}, server
 * authentication only. It is its own trust anchor: clients trust exactly this certificate, never a
 * CA that could sign others, which is why it is not a CA certificate. Writes `cert.pem` (0644) and
 * `key.pem` (0600) into `dir`.
 *
 * Unsafe on purpose, and why it is tolerable: a process that trusts this certificate trusts
 * whoever holds `key.pem` to be login.microsoftonline.com and those Google hosts. Only processes
 * pointed at the sandbox (`airlock exec --sandbox`, tests) are given it, the key never leaves `dir`
 * (mode 0600), and the sandbox's proxy sends those names nowhere but to the local emulators.
 *
 * Reusing the files across restarts keeps `NODE_EXTRA_CA_CERTS=<dir>/cert.pem` valid for shells
 * and IDEs that were set up once; a certificate from an older sandbox that lacks a name is
 * replaced.
 */
export async function createSandboxCertificate(dir: string, o: SandboxCertificateOptions = {}): Promise<SandboxCertificate> {
  const now = o.now?.() ?? new Date();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');

  if ((o.reuse ?? true) && existsSync(certPath) && existsSync(keyPath)) {
    try {
      const cert = readFileSync(certPath, 'utf8');
      const key = readFileSync(keyPath, 'utf8');
      const x509 = new X509Certificate(cert);
      const notAfter = new Date(x509.validTo);
      if (notAfter.getTime() - now.getTime() > 86_400_000 && covers(x509) && x509.checkPrivateKey(createPrivateKey(key))) {
        chmodSync(keyPath, 0o600);
        return { certPath, keyPath, cert, key, fingerprint256: x509.fingerprint256, notAfter, created: false };
      }
    } catch {
      // Unreadable or mismatched files are replaced below.
    }
  }

  const notBefore = new Date(now.getTime() - 5 * 60_000); // tolerate a client clock a little behind
  const notAfter = new Date(now.getTime() + (o.days ?? 365) * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: 'Airlock sandbox (localhost)' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...SANDBOX_CERTIFICATE_NAMES.dns.map((value) => ({ type: 2 as const, value })), ...SANDBOX_CERTIFICATE_NAMES.ips.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  writePrivate(keyPath, pems.private, 0o600);
  writePrivate(certPath, pems.cert, 0o644);
  const x509 = new X509Certificate(pems.cert);
  return { certPath, keyPath, cert: pems.cert, key: pems.private, fingerprint256: x509.fingerprint256, notAfter: new Date(x509.validTo), created: true };
}

