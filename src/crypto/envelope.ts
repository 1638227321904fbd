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
  /** Seals under the current master key. */
  seal(plaintext: Buffer, aad: string): string;
  /** Opens a value sealed under the current master key or one of the previous ones. */
  open(sealed: string, aad: string): Buffer;
  /**
   * The same value under the current master key: only its data key is unwrapped with the previous
   * key and wrapped again (the secret itself is not touched). Unchanged when already current.
   */
  rewrap(sealed: string, aad: string): string;
  /** The fingerprint of the master key a value is sealed under. */
  fingerprintOf(sealed: string): string;
  /** First 16 hex chars of SHA-256(master key): safe to log, identifies which key is in use. */
  readonly fingerprint: string;
  /** The previous master keys' fingerprints (AIRLOCK_MASTER_KEY_PREVIOUS), kept to open what they sealed. */
  readonly previous: readonly string[];
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

export function createSealer(masterKey: Buffer, previousKeys: readonly Buffer[] = []): Sealer {
  if (masterKey.length !== 32 || previousKeys.some((k) => k.length !== 32)) throw new AppError('ERR_MASTER_KEY', 'master key must be exactly 32 bytes');
  const fingerprint = masterKeyFingerprint(masterKey);
  const keys = new Map<string, Buffer>([[fingerprint, masterKey]]);
  for (const k of previousKeys) if (!keys.has(masterKeyFingerprint(k))) keys.set(masterKeyFingerprint(k), k);
  const previous = [...keys.keys()].filter((fp) => fp !== fingerprint);
  const b64 = (b: Buffer) => b.toString('base64url');
  const unb64 = (s: string) => Buffer.from(s, 'base64url');

  const parse = (sealed: string): { fp: string; blob: SealedBlob } => {
    const [version, fp, body] = sealed.split('.');
    if (version !== 'v1' || !fp || !body) throw new AppError('ERR_MASTER_KEY', 'sealed value is not in a known format');
    try {
      return { fp, blob: JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SealedBlob };
    } catch (cause) {
      throw new AppError('ERR_MASTER_KEY', 'sealed value is not in a known format', { cause });
    }
  };
  const format = (fp: string, blob: SealedBlob) => `v1.${fp}.${Buffer.from(JSON.stringify(blob)).toString('base64url')}`;
  const keyFor = (fp: string): Buffer => {
    const k = keys.get(fp);
    if (k) return k;
    throw new AppError(
      'ERR_MASTER_KEY',
      `stored secrets were sealed under master key ${fp}, but the server has master key ${fingerprint}${previous.length ? ` (and previous ${previous.join(', ')})` : ''}; start it with the original AIRLOCK_MASTER_KEY or key file, or, while rotating, that key in AIRLOCK_MASTER_KEY_PREVIOUS`,
    );
  };
  const unwrapDek = (fp: string, blob: SealedBlob, aad: string): Buffer => {
    const kek = keyFor(fp);
    try {
      return gcmOpen(kek, unb64(blob.dekIv), unb64(blob.dek), unb64(blob.dekTag), `dek:${aad}`);
    } catch (cause) {
      throw new AppError('ERR_MASTER_KEY', `sealed value failed authentication (tampered, or bound to another record: ${aad})`, { cause });
    }
  };
  const wrapDek = (dek: Buffer, aad: string) => {
    const outer = gcmSeal(masterKey, dek, `dek:${aad}`);
    return { dek: b64(outer.ct), dekIv: b64(outer.iv), dekTag: b64(outer.tag) };
  };

  return {
    fingerprint,
    previous,
    seal(plaintext, aad) {
      const dek = randomBytes(32);
      const inner = gcmSeal(dek, plaintext, aad);
      const blob: SealedBlob = { ...wrapDek(dek, aad), iv: b64(inner.iv), tag: b64(inner.tag), ct: b64(inner.ct) };
      dek.fill(0);
      return format(fingerprint, blob);
    },
    open(sealed, aad) {
      const { fp, blob } = parse(sealed);
      const dek = unwrapDek(fp, blob, aad);
      try {
        return gcmOpen(dek, unb64(blob.iv), unb64(blob.ct), unb64(blob.tag), aad);
      } catch (cause) {
        throw new AppError('ERR_MASTER_KEY', `sealed value failed authentication (tampered, or bound to another record: ${aad})`, { cause });
      } finally {
        dek.fill(0);
      }
    },
    rewrap(sealed, aad) {
      const { fp, blob } = parse(sealed);
      if (fp === fingerprint) return sealed;
      const dek = unwrapDek(fp, blob, aad);
      try {
        // The secret's own ciphertext is checked before it is carried over unchanged.
        gcmOpen(dek, unb64(blob.iv), unb64(blob.ct), unb64(blob.tag), aad).fill(0);
        return format(fingerprint, { ...blob, ...wrapDek(dek, aad) });
      } catch (cause) {
        if (cause instanceof AppError) throw cause;
        throw new AppError('ERR_MASTER_KEY', `sealed value failed authentication (tampered, or bound to another record: ${aad})`, { cause });
      } finally {
        dek.fill(0);
      }
    },
    fingerprintOf: (sealed) => parse(sealed).fp,
  };
}
