import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importPKCS8, type JWK } from 'jose';
import type { webcrypto } from 'node:crypto';
import type { Sealer } from '../crypto/envelope.ts';

type CryptoKey = webcrypto.CryptoKey;
import { AppError } from '../errors/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { SigningKeyRecord } from '../domain/records.ts';
import type { Repos } from '../store/repos.ts';
import type { Store } from '../store/store.ts';
import {
  activeKey,
  jwksMaxAgeSeconds,
  keyStatuses,
  pendingKey,
  publishedKeys,
  scheduleDecision,
  type KeyStatus,
  type ScheduleSettings,
} from './key-schedule.ts';

export interface KeyringOptions extends ScheduleSettings {
  store: Store;
  sealer: Sealer;
  clock: Clock;
  /** Longest token lifetime currently allowed; recorded on each key. */
  maxTokenTtlSeconds: number;
  /** How long a replica trusts its cached key list before re-reading the store. */
  cacheSeconds?: number;
}

export interface Signer {
  kid: string;
  key: CryptoKey;
}

export interface PublicJwks {
  keys: JWK[];
  /** Seconds the JWKS may be cached for. */
  maxAge: number;
}

export interface RotateResult {
  kid: string;
  publishAt: Date;
  activateAt: Date;
  /** False when a scheduled key already existed and was returned instead of a new one. */
  created: boolean;
}

/** Public JWK members we publish; anything else (private members) is dropped on principle. */
const PUBLIC_RSA_MEMBERS = ['kty', 'n', 'e'] as const;

/**
 * Owns each cluster's signing keys: creates them (sealed under the master key), decides which
 * one signs, what the JWKS shows, and when to rotate. Key lists are cached per replica for a few
 * seconds; the schedule itself is recomputed from timestamps on every call.
 */
export interface Keyring {
  /** Creates the first key of a new cluster inside the caller's transaction. */
  createInitialKey(tx: Repos, clusterId: string): Promise<SigningKeyRecord>;
  /** The signer in force now; throws ERR_NO_SIGNING_KEY when there is none. */
  signer(clusterId: string): Promise<Signer>;
  jwks(clusterId: string): Promise<PublicJwks>;
  statuses(clusterId: string): Promise<KeyStatus[]>;
  /**
   * Starts a rotation. Default: publish a new key now, sign with it after the prepublication lead
   * (idempotent while one is pending). `immediate`: sign with a new key now (relying parties with a
   * cached JWKS reject tokens until they refetch). `revokePrevious`: also withdraw the key that was
   * signing, which invalidates every token it signed — for a compromised key.
   */
  rotate(clusterId: string, opts?: { immediate?: boolean; revokePrevious?: boolean }): Promise<RotateResult>;
  /** Applies the rotation schedule to every cluster; returns the kids created. */
  tick(): Promise<string[]>;
  forget(clusterId: string): void;
}

/** A private key's seal is bound to its cluster and kid: copied onto another row, it fails to open. */
export const signingKeyAad = (clusterId: string, kid: string) => `signing-key:${clusterId}:${kid}`;

export function createKeyring(o: KeyringOptions): Keyring {
  const cacheMs = (o.cacheSeconds ?? 5) * 1000;
  const lists = new Map<string, { keys: SigningKeyRecord[]; loadedAt: number }>();
  const privateKeys = new Map<string, Promise<CryptoKey>>();

  async function newKey(clusterId: string, publishAt: number, activateAt: number): Promise<SigningKeyRecord> {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    const full = await exportJWK(publicKey);
    const jwk: JWK = {};
    for (const m of PUBLIC_RSA_MEMBERS) jwk[m] = full[m];
    const kid = await calculateJwkThumbprint(jwk, 'sha256');
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const now = o.clock.now();
    return {
      clusterId,
      kid,
      alg: 'RS256',
      publicJwk: { ...jwk, kid, use: 'sig', alg: 'RS256' },
      privateKeyEnc: o.sealer.seal(pkcs8, signingKeyAad(clusterId, kid)),
      createdAt: new Date(now),
      publishAt: new Date(publishAt),
      activateAt: new Date(activateAt),
      maxTokenTtlSeconds: o.maxTokenTtlSeconds,
      revokedAt: null,
    };
  }

  async function load(clusterId: string, fresh = false): Promise<SigningKeyRecord[]> {
    const now = o.clock.now();
    const hit = lists.get(clusterId);
    if (!fresh && hit && now - hit.loadedAt < cacheMs && now >= hit.loadedAt) return hit.keys;
    const keys = await o.store.signingKeys.listForCluster(clusterId);
    lists.set(clusterId, { keys, loadedAt: now });
    return keys;
  }

  function decrypt(rec: SigningKeyRecord): Promise<CryptoKey> {
    const cacheKey = `${rec.clusterId}/${rec.kid}`;
    let p = privateKeys.get(cacheKey);
    if (!p) {
      p = (async () => {
        const der = o.sealer.open(rec.privateKeyEnc, signingKeyAad(rec.clusterId, rec.kid));
        const pem = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
        der.fill(0);
        return importPKCS8(pem, 'RS256', { extractable: false });
      })();
      p.catch(() => privateKeys.delete(cacheKey));
      privateKeys.set(cacheKey, p);
    }
    return p;
  }

  /** Serialises schedule changes for one cluster across replicas (row lock on PostgreSQL). */
  async function withClusterLock<T>(clusterId: string, fn: (tx: Repos, keys: SigningKeyRecord[]) => Promise<T>): Promise<T> {
    const result = await o.store.transaction(async (tx) => {
      const locked = await tx.clusters.lock(clusterId);
      if (!locked) throw new AppError('ERR_NOT_FOUND', `cluster ${clusterId} does not exist`, { field: 'cluster' });
      return fn(tx, await tx.signingKeys.listForCluster(clusterId));
    });
    lists.delete(clusterId);
    return result;
  }

  const keyring: Keyring = {
    async createInitialKey(tx, clusterId) {
      const now = o.clock.now();
      const k = await newKey(clusterId, now, now);
      await tx.signingKeys.insert(k);
      lists.delete(clusterId);
      return k;
    },

    async signer(clusterId) {
      const now = o.clock.now();
      let keys = await load(clusterId);
      let k = activeKey(keys, now);
      if (!k) {
        keys = await load(clusterId, true);
        k = activeKey(keys, now);
      }
      if (!k) throw new AppError('ERR_NO_SIGNING_KEY', `cluster ${clusterId} has no active signing key`);
      return { kid: k.kid, key: await decrypt(k) };
    },

    async jwks(clusterId) {
      const now = o.clock.now();
      const keys = await load(clusterId);
      return {
        keys: publishedKeys(keys, now, o).map((k) => ({ ...(k.publicJwk as JWK) })),
        maxAge: jwksMaxAgeSeconds(keys, now, o),
      };
    },

    async statuses(clusterId) {
      return keyStatuses(await load(clusterId, true), o.clock.now(), o);
    },

    async rotate(clusterId, opts = {}) {
      return withClusterLock(clusterId, async (tx, keys) => {
        const now = o.clock.now();
        const previous = activeKey(keys, now);
        if (!opts.immediate) {
          const pending = pendingKey(keys, now);
          if (pending) return { kid: pending.kid, publishAt: pending.publishAt, activateAt: pending.activateAt, created: false };
          const k = await newKey(clusterId, now, now + o.prepublishSeconds * 1000);
          await tx.signingKeys.insert(k);
          return { kid: k.kid, publishAt: k.publishAt, activateAt: k.activateAt, created: true };
        }
        const k = await newKey(clusterId, now, now);
        // Keys activating in the same millisecond (or under a frozen test clock) are ordered by
        // creation, so creation order must be strict: the newest key is the one that signs.
        const newest = Math.max(...keys.map((x) => x.createdAt.getTime()));
        if (k.createdAt.getTime() <= newest) k.createdAt = new Date(newest + 1);
        await tx.signingKeys.insert(k);
        // A pending key would otherwise take over from the new one later; it is superseded.
        const pending = pendingKey(keys, now);
        if (pending) await tx.signingKeys.revoke(clusterId, pending.kid, new Date(now));
        if (opts.revokePrevious && previous) {
          await tx.signingKeys.revoke(clusterId, previous.kid, new Date(now));
          privateKeys.delete(`${clusterId}/${previous.kid}`);
        }
        return { kid: k.kid, publishAt: k.publishAt, activateAt: k.activateAt, created: true };
      });
    },

    async tick() {
      const created: string[] = [];
      for (const c of await o.store.clusters.listAll()) {
        if (c.issuerMode !== 'airlock') continue;
        if (!scheduleDecision(await load(c.id, true), o.clock.now(), o)) continue;
        const kid = await withClusterLock(c.id, async (tx, keys) => {
          const d = scheduleDecision(keys, o.clock.now(), o);
          if (!d) return undefined;
          const k = await newKey(c.id, d.publishAt, d.activateAt);
          await tx.signingKeys.insert(k);
          return k.kid;
        });
        if (kid) created.push(kid);
      }
      return created;
    },

    forget(clusterId) {
      lists.delete(clusterId);
      for (const k of privateKeys.keys()) if (k.startsWith(`${clusterId}/`)) privateKeys.delete(k);
    },
  };
  return keyring;
}
