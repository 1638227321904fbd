import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors/index.ts';

/**
 * Envelope encryption for secrets at rest (signing keys now; connection secrets later).
 *
 * Each secret gets its own random 256-bit data key (DEK). The secret is sealed with the DEK, and
 * the DEK is sealed with the master key (KEK), both with AES-256-GCM. The caller's `aad` (e.g.
 * `signing-key:<cluster>:<kid>`) is bound into both seals, so a ciphertext copied onto another
 * row fails to open instead of silently decrypting as the wrong key.
 *
 * Stored form: `v1.<kek-fingerprint>.<base64url JSON>`. The fingerprint lets a wrong master key
 * fail with a clear message rather than an opaque authentication error.
 */
export interface Sealer {
  seal(plaintext: Buffer, aad: string): string;
  open(sealed: string, aad: string): Buffer;
  /** First 16 hex chars of SHA-256(master key): safe to log, identifies which key is in use. */
  readonly fingerprint: string;
}

interface SealedBlob {
  dek: string;
  dekIv: string;
  dekTag: string;
  iv: string;
  tag: string;
  ct: string;
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return { iv, ct, tag: c.getAuthTag() };
}

function gcmOpen(key: Buffer, iv: Buffer, ct: Buffer, tag: Buffer, aad: string): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

export function masterKeyFingerprint(masterKey: Buffer): string {
  return createHash('sha256').update(masterKey).digest('hex').slice(0, 16);
}

export function createSealer(masterKey: Buffer): Sealer {
  if (masterKey.length !== 32) throw new AppError('ERR_MASTER_KEY', 'master key must be exactly 32 bytes');
  const fingerprint = masterKeyFingerprint(masterKey);
  const b64 = (b: Buffer) => b.toString('base64url');
  const unb64 = (s: string) => Buffer.from(s, 'base64url');
  return {
    fingerprint,
    seal(plaintext, aad) {
      const dek = randomBytes(32);
      const inner = gcmSeal(dek, plaintext, aad);
      const outer = gcmSeal(masterKey, dek, `dek:${aad}`);
      dek.fill(0);
      const blob: SealedBlob = {
        dek: b64(outer.ct),
        dekIv: b64(outer.iv),
        dekTag: b64(outer.tag),
        iv: b64(inner.iv),
        tag: b64(inner.tag),
        ct: b64(inner.ct),
      };
      return `v1.${fingerprint}.${Buffer.from(JSON.stringify(blob)).toString('base64url')}`;
    },
    open(sealed, aad) {
      const [version, fp, body] = sealed.split('.');
      if (version !== 'v1' || !fp || !body) throw new AppError('ERR_MASTER_KEY', 'sealed value is not in a known format');
      if (fp !== fingerprint) {
        throw new AppError(
          'ERR_MASTER_KEY',
          `stored secrets were sealed under master key ${fp}, but the server has master key ${fingerprint}; start it with the original AIRLOCK_MASTER_KEY or key file`,
        );
      }
      try {
        const blob = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SealedBlob;
        const dek = gcmOpen(masterKey, unb64(blob.dekIv), unb64(blob.dek), unb64(blob.dekTag), `dek:${aad}`);
        const pt = gcmOpen(dek, unb64(blob.iv), unb64(blob.ct), unb64(blob.tag), aad);
        dek.fill(0);
        return pt;
      } catch (cause) {
        throw new AppError('ERR_MASTER_KEY', `sealed value failed authentication (tampered, or bound to another record: ${aad})`, { cause });
      }
    },
  };
}
