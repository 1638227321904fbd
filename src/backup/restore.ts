/**
 * Restoring a snapshot into a stopped server's data directory. Everything that could make the
 * restored server unusable is checked before anything is replaced: the file is a sound Airlock
 * store, no newer than this version, sealed under the master key in hand. The store it replaces is
 * kept beside it, renamed, so a restore can itself be undone.
 */
import Database from 'better-sqlite3';
import { chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { createAuditLog } from '../audit/log.ts';
import { createSealer } from '../crypto/envelope.ts';
import { createMasterKeyRotation } from '../crypto/rotation.ts';
import { CANARY_SETTING, loadMasterKey, loadPreviousMasterKeys } from '../crypto/master-key.ts';
import { AppError } from '../errors/index.ts';
import type { Clock } from '../lib/clock.ts';
import { createLogger } from '../lib/logger.ts';
import { lockDataDir } from '../store/data-dir-lock.ts';
import { migrations } from '../store/migrations/index.ts';
import { createStore, embeddedPath } from '../store/store.ts';
import { createdAtOf } from './backups.ts';
import { GAPS_SETTING, inGap, LINEAGE_SETTING, parseGaps, type Gap } from './lineage.ts';
import { copyDatabase, readSnapshot, storedSetting, type SnapshotFacts } from './snapshot-file.ts';

export interface RestoreResult {
  /** The data directory's store file, now the snapshot's contents. */
  restored: string;
  /** Where the store it replaced was moved (absent when there was none). */
  replaced: string | undefined;
  /** The snapshot's schema versions, before this version brought it up to date. */
  migrations: string[];
  /** What the replaced store had revoked, rotated or deleted since the snapshot, applied to the restored one. */
  carried: CarriedRevocations;
}

/**
 * Ids a restore revoked (or, for API tokens, moved to their current secret) so that it undoes no
 * revocation, and the signing keys it kept from the replaced store.
 */
export interface CarriedRevocations {
  joinCredentials: string[];
  apiTokens: string[];
  rotatedApiTokens: string[];
  signingKeys: string[];
  /** Signing keys made since the snapshot (for clusters it has): kept, so tokens they signed still verify. */
  addedSigningKeys: string[];
  /** Set when the replaced store could not be read: nothing was carried, and the caller must say so. */
  unreadable?: string;
  /** Set when the replaced store is another installation's (another lineage): nothing to carry from it. */
  otherLineage?: string;
}

const NOTHING_CARRIED: CarriedRevocations = { joinCredentials: [], apiTokens: [], rotatedApiTokens: [], signingKeys: [], addedSigningKeys: [] };

/**
 * A snapshot predates revocations made since: restored as it is, it would bring back a join
 * credential or API token someone revoked (perhaps because it leaked), a deleted Deployment's
 * credentials, a rotated-out token secret, or a signing key withdrawn as compromised. This carries
 * each of those from the store being replaced into the restored one: a restore never re-enables a
 * credential. Signing keys made since come along too, so the issuer never goes back in time.
 *
 * A row the replaced store lacks was deleted there only if that store ever held it: not if it was
 * made in one of its gaps (src/backup/lineage.ts), as when undoing a restore.
 */
function carryRevocations(restored: string, replaced: string, now: string): CarriedRevocations {
  const db = new Database(restored, { fileMustExist: true });
  try {
    db.prepare('attach database ? as old').run(replaced);
    const gaps = parseGaps(storedSetting(db, GAPS_SETTING, 'old'));
    type Row = { id: string; created_at: string; old_id: string | null; old_revoked: string | null };
    const rows = (table: string) =>
      db.prepare(`select t.id, t.created_at, o.id as old_id, o.revoked_at as old_revoked from main.${table} t left join old.${table} o on o.id = t.id where t.revoked_at is null`).all() as Row[];
    // Revoked there, or deleted there (itself, or with its Deployment), and still live here.
    const withdrawn = (r: Row) => r.old_revoked !== null || (r.old_id === null && !inGap(gaps, r.created_at));
    return db.transaction(() => {
      // Revoked when it was revoked there; now, when it was deleted there.
      const revokeWithdrawn = (table: 'join_credentials' | 'api_tokens') => {
        const ids = rows(table).filter(withdrawn).map((r) => r.id);
        const revoke = db.prepare(`update main.${table} set revoked_at = coalesce((select revoked_at from old.${table} o where o.id = main.${table}.id), ?) where id = ?`);
        for (const id of ids) revoke.run(now, id);
        return ids;
      };
      const joinCredentials = revokeWithdrawn('join_credentials');
      const apiTokens = revokeWithdrawn('api_tokens');
      // Rotated since: the holder has the newer secret; the one in the snapshot must not work again.
      const rotatedApiTokens = (db.prepare(`select t.id from main.api_tokens t join old.api_tokens o on o.id = t.id where t.revoked_at is null and o.secret_hash <> t.secret_hash`).all() as { id: string }[]).map((r) => r.id);
      const rotate = db.prepare(
        `update main.api_tokens set (secret_hash, rotated_at, previous_secret_hash, previous_secret_expires_at) = (select secret_hash, rotated_at, previous_secret_hash, previous_secret_expires_at from old.api_tokens o where o.id = main.api_tokens.id) where id = ?`,
      );
      for (const id of rotatedApiTokens) rotate.run(id);
      // A key withdrawn since (compromised), or every key of a cluster deleted since (perhaps because
      // its key leaked): their tokens must not verify again. The cluster comes back without a key
      // that signs; the rotation schedule gives it a new one.
      const deletedClusters = new Set(
        (db.prepare('select c.id, c.created_at from main.clusters c left join old.clusters o on o.id = c.id where o.id is null').all() as { id: string; created_at: string }[])
          .filter((c) => !inGap(gaps, c.created_at))
          .map((c) => c.id),
      );
      const keys = db
        .prepare(
          `select t.cluster_id, t.kid, o.revoked_at as old_revoked from main.signing_keys t left join old.signing_keys o on o.cluster_id = t.cluster_id and o.kid = t.kid where t.revoked_at is null`,
        )
        .all() as { cluster_id: string; kid: string; old_revoked: string | null }[];
      const revokeKey = db.prepare('update main.signing_keys set revoked_at = ? where cluster_id = ? and kid = ?');
      const signingKeys: string[] = [];
      for (const k of keys) {
        if (k.old_revoked === null && !deletedClusters.has(k.cluster_id)) continue;
        revokeKey.run(k.old_revoked ?? now, k.cluster_id, k.kid);
        signingKeys.push(k.kid);
      }
      // Keys made since (a rotation, or the replacement of a withdrawn key): without them the
      // restored issuer would publish an older JWKS than the clouds have seen, and a cluster whose
      // signing key was withdrawn since would have none left.
      const newer = `from old.signing_keys o where o.cluster_id in (select id from main.clusters) and not exists (select 1 from main.signing_keys m where m.cluster_id = o.cluster_id and m.kid = o.kid)`;
      const addedSigningKeys = (db.prepare(`select o.kid as id ${newer} order by o.created_at`).all() as { id: string }[]).map((r) => r.id);
      const columns = (db.pragma('main.table_info(signing_keys)') as { name: string }[]).map((c) => c.name).join(', ');
      db.prepare(`insert into main.signing_keys (${columns}) select ${columns} ${newer}`).run();
      return { joinCredentials, apiTokens, rotatedApiTokens, signingKeys, addedSigningKeys };
    })();
  } finally {
    db.close();
  }
}

export async function restoreSnapshot(o: {
  snapshot: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  masterKeyFile?: string | undefined;
  clock: Clock;
  /** Go ahead when the replaced store cannot be read, so no revocation made since can be carried over. */
  acceptLostRevocations?: boolean;
}): Promise<RestoreResult> {
  const dir = resolve(o.dataDir);
  const snapshot = resolve(o.snapshot);
  const target = embeddedPath(dir);
  if (snapshot === target) throw new AppError('ERR_VALIDATION', `${snapshot} is the store itself; name a snapshot`, { field: 'snapshot', example: `${dir}/backups/airlock-2026-12-07T02-00-00-000Z.db` });
  // Never creates a key: a restore with no key, or another one, would leave every sealed private key unreadable.
  const sealer = createSealer(loadMasterKey({ env: o.env, dataDir: dir, file: o.masterKeyFile, create: false }).key, loadPreviousMasterKeys(o.env));
  const trust = (facts: SnapshotFacts, file: string) => {
    if (facts.check !== 'ok') throw new AppError('ERR_VALIDATION', `${file} is damaged (SQLite quick_check: ${facts.check}); pick another snapshot`, { field: 'snapshot' });
    const newer = facts.migrations.filter((m) => !Object.hasOwn(migrations, m));
    if (newer.length > 0) {
      throw new AppError('ERR_RULE_VIOLATION', `${file} was written by a newer Airlock (schema ${newer.join(', ')}); restore it with that version or a later one`, { field: 'snapshot' });
    }
    if (!facts.canary) return;
    try {
      sealer.open(facts.canary, CANARY_SETTING);
    } catch (err) {
      throw new AppError('ERR_MASTER_KEY', `${file} was sealed under another master key than this one (fingerprint ${sealer.fingerprint}); restore it with the key it was made under`, { cause: err });
    }
  };
  trust(readSnapshot(snapshot), snapshot);

  const unlock = lockDataDir(dir); // refuses while a server has the store open
  const now = new Date(o.clock.now()).toISOString();
  let replaced: string | undefined;
  let carried: CarriedRevocations = NOTHING_CARRIED;
  let facts: SnapshotFacts;
  let horizon: string | null;
  // Everything is prepared on copies beside the store; the store itself is swapped only at the end.
  const staging = join(dir, '.restoring');
  try {
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(join(staging, 'replaced'), { recursive: true, mode: 0o700 });
    const incoming = embeddedPath(staging);
    // The copy is checked itself: the snapshot's -wal file, if any, is in it.
    await copyDatabase(snapshot, incoming);
    facts = readSnapshot(incoming);
    trust(facts, snapshot);
    horizon = horizonOf(snapshot, facts, now);
    // Opening it brings it to this version's schema, so the revocations carried into it (by their
    // own connection) find every column they need.
    const staged = await createStore({ dataDir: staging });
    try {
      if (existsSync(target)) {
        const lineage = await staged.settings.get<string>(LINEAGE_SETTING);
        carried = await carryFrom(target, incoming, join(staging, 'replaced'), now, lineage, o.acceptLostRevocations === true);
      }
      // A snapshot taken mid-rotation, or keys carried from a store rotated since, may be sealed under
      // another master key than the canary: every sealed value must open with the keys in hand, or the
      // restored server would fail on it later instead of now.
      const { sealed } = await createMasterKeyRotation({ store: staged, sealer }).status();
      const missing = [...new Set(Object.values(sealed).flatMap((byKey) => Object.keys(byKey)))].filter((fp) => fp !== sealer.fingerprint && !sealer.previous.includes(fp));
      if (missing.length > 0) {
        throw new AppError('ERR_MASTER_KEY', `the restored store would hold values sealed under master key ${missing.join(', ')}, which was not given; add it to AIRLOCK_MASTER_KEY_PREVIOUS and restore again`);
      }
      // The restored store never held what was made between its snapshot and now: a later restore
      // over it must not count those rows as deleted here. No time known for the snapshot (no audit
      // record, not an Airlock snapshot name): no gap is claimed, and missing rows then count as
      // deleted (the safe side).
      const gaps: Gap[] = parseGaps(await staged.settings.get(GAPS_SETTING));
      if (horizon !== null && horizon < now) gaps.push([horizon, now]);
      await staged.settings.put(GAPS_SETTING, gaps);
    } finally {
      await staged.close();
    }
    swap(target, incoming, o.clock.now(), (name) => (replaced = name));
  } catch (err) {
    unlock();
    throw err;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }

  // Says in its own audit log what happened to it. The lock is held throughout (opening the store
  // here is re-entrant), so no server starts in between.
  try {
    const store = await createStore({ dataDir: dir });
    try {
      const audit = createAuditLog({ store, clock: o.clock, logger: createLogger('silent') });
      await audit.record({
        actor: { type: 'system', id: 'airlock backup restore', name: userInfo().username },
        action: 'store.restore',
        target: { type: 'store', id: 'embedded', name: target },
        result: 'success',
        details: { snapshot, snapshotAt: horizon, replaced: replaced ?? null, migrations: facts.migrations, carried },
      });
      await audit.flush();
    } finally {
      await store.close();
    }
  } finally {
    unlock();
  }
  return { restored: target, replaced, migrations: facts.migrations, carried };
}

/**
 * Carries the revocations of the store being replaced into `incoming`. The replaced store is read
 * from a copy brought up to this version's schema (it may be older), never changed itself. Another
 * installation's store (another lineage: a server started afresh before the restore) has nothing
 * to carry. One that cannot be read is refused unless `accept`.
 */
async function carryFrom(target: string, incoming: string, copyDir: string, now: string, ours: string | undefined, accept: boolean): Promise<CarriedRevocations> {
  try {
    const copy = embeddedPath(copyDir);
    await copyDatabase(target, copy);
    const replaced = await createStore({ dataDir: copyDir });
    let theirs: string | undefined;
    try {
      theirs = await replaced.settings.get<string>(LINEAGE_SETTING);
    } finally {
      await replaced.close();
    }
    if (theirs && ours && theirs !== ours) return { ...NOTHING_CARRIED, otherLineage: theirs };
    return carryRevocations(incoming, copy, now);
  } catch (err) {
    // The old store is unreadable (that may be why it is being replaced). Restoring anyway would
    // bring back whatever was revoked since the snapshot: only when asked to.
    if (!accept) {
      throw new AppError(
        'ERR_RULE_VIOLATION',
        `the store being replaced (${target}) cannot be read (${(err as Error).message}), so revocations made since the snapshot cannot be carried over; restore with --accept-lost-revocations, then revoke again whatever was revoked since`,
        { field: 'acceptLostRevocations', cause: err },
      );
    }
    return { ...NOTHING_CARRIED, unreadable: (err as Error).message };
  }
}

/**
 * About when a snapshot was taken: the later of its name's time (a snapshot Airlock wrote) and its
 * newest audit record, never later than now. The later one errs towards counting rows as held.
 */
function horizonOf(snapshot: string, facts: SnapshotFacts, now: string): string | null {
  const named = createdAtOf(basename(snapshot));
  const candidates = [named, facts.snapshotAt ?? undefined].filter((t): t is string => t !== undefined && t <= now);
  return candidates.length ? candidates.sort().at(-1)! : null;
}

/**
 * Puts `incoming` in place of `target`, keeping the old store (and a write-ahead log a crashed
 * server left, which belongs to it) under a dated name, owned as it was. If the swap fails midway,
 * the old store is put back: a data directory is never left without one.
 */
function swap(target: string, incoming: string, now: number, keptAs: (name: string) => void): void {
  const owner = statSync(existsSync(target) ? target : dirname(target));
  const replaced = `${target}.replaced-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  const moved: string[] = [];
  try {
    // A -wal or -shm file would be replayed into the restored store: it goes with the old one (or,
    // with no old store, aside under the same dated name).
    for (const suffix of ['-wal', '-shm', '']) {
      if (!existsSync(target + suffix)) continue;
      renameSync(target + suffix, replaced + suffix);
      moved.push(suffix);
    }
    if (moved.includes('')) keptAs(replaced);
    for (const suffix of ['-wal', '-shm', '']) if (existsSync(incoming + suffix)) renameSync(incoming + suffix, target + suffix);
  } catch (err) {
    for (const suffix of moved) if (!existsSync(target + suffix)) renameSync(replaced + suffix, target + suffix);
    throw err;
  }
  // Restored by root for a service account: the server must still be able to open it.
  if (process.getuid?.() === 0) {
    try {
      chownSync(target, owner.uid, owner.gid);
    } catch {
      /* best effort: the mode is 0600 either way */
    }
  }
}
