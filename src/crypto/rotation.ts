/**
 * Master-key rotation: the server runs with a new AIRLOCK_MASTER_KEY and the old one in
 * AIRLOCK_MASTER_KEY_PREVIOUS, then `rewrap` moves every sealed value to the new key. Envelope
 * encryption makes that cheap and safe: only each value's data key is unwrapped and wrapped again;
 * the secret's own ciphertext is carried over unchanged. Each row is replaced only if it still
 * holds what was read, so a value written meanwhile (sealed under the new key already) is never
 * overwritten with an older one.
 */
import { linkPasswordAad, metastorePasswordAad, passwordAad } from '../connections/service.ts';
import { signingKeyAad } from '../issuer/keyring.ts';
import { SEALED_COLUMNS, type SealedTable } from '../store/repos.ts';
import type { Store } from '../store/store.ts';
import { variableAad } from '../variables/service.ts';
import type { Sealer } from './envelope.ts';
import { CANARY_SETTING } from './master-key.ts';

/** Each table's seal binding, from its row's key columns (in SEALED_COLUMNS order). */
const AAD: Record<SealedTable, (keys: string[]) => string> = {
  signing_keys: ([cluster, kid]) => signingKeyAad(cluster!, kid!),
  deployment_variables: ([deployment, key]) => variableAad(deployment!, key!),
  connections: ([id]) => passwordAad(id!),
  connection_links: ([connection, deployment]) => linkPasswordAad(connection!, deployment!),
  metastore_connections: ([id]) => metastorePasswordAad(id!),
};

/** Sealed values per master-key fingerprint, per place (the canary is the `settings` entry). */
export type SealedCensus = Record<SealedTable | 'settings', Record<string, number>>;

export interface MasterKeyStatus {
  fingerprint: string;
  previous: string[];
  /** How many values each key seals, by place. */
  sealed: SealedCensus;
  /** Values sealed under a previous key: 0 means AIRLOCK_MASTER_KEY_PREVIOUS can go. */
  underPrevious: number;
  /** Values under a key the server does not have at all: they cannot be opened. */
  underUnknown: number;
}

export interface RewrapResult {
  fingerprint: string;
  /** Values moved to the current key, by place. */
  rewrapped: Record<SealedTable | 'settings', number>;
  /** Values changed by someone else while this ran (already under the current key). */
  skipped: number;
  status: MasterKeyStatus;
}

const PLACES = [...(Object.keys(SEALED_COLUMNS) as SealedTable[]), 'settings'] as const;

export interface MasterKeyRotation {
  status(): Promise<MasterKeyStatus>;
  rewrap(): Promise<RewrapResult>;
}

export function createMasterKeyRotation(o: { store: Store; sealer: Sealer }): MasterKeyRotation {
  const known = (fp: string) => fp === o.sealer.fingerprint || o.sealer.previous.includes(fp);
  async function status(): Promise<MasterKeyStatus> {
    const sealed = Object.fromEntries(PLACES.map((p) => [p, {} as Record<string, number>])) as SealedCensus;
    const count = (place: SealedTable | 'settings', value: string) => {
      const fp = o.sealer.fingerprintOf(value);
      sealed[place][fp] = (sealed[place][fp] ?? 0) + 1;
    };
    for (const table of Object.keys(SEALED_COLUMNS) as SealedTable[]) for (const r of await o.store.sealed.list(table)) count(table, r.value);
    const canary = await o.store.settings.get<string>(CANARY_SETTING);
    if (canary) count('settings', canary);
    let underPrevious = 0;
    let underUnknown = 0;
    for (const byKey of Object.values(sealed)) {
      for (const [fp, n] of Object.entries(byKey)) {
        if (o.sealer.previous.includes(fp)) underPrevious += n;
        else if (fp !== o.sealer.fingerprint) underUnknown += n;
      }
    }
    return { fingerprint: o.sealer.fingerprint, previous: [...o.sealer.previous], sealed, underPrevious, underUnknown };
  }

  return {
    status,
    async rewrap() {
      const rewrapped = Object.fromEntries(PLACES.map((p) => [p, 0])) as Record<SealedTable | 'settings', number>;
      let skipped = 0;
      for (const table of Object.keys(SEALED_COLUMNS) as SealedTable[]) {
        for (const r of await o.store.sealed.list(table)) {
          // Under a key this server does not have: left as it is, and counted by status().
          if (!known(o.sealer.fingerprintOf(r.value))) continue;
          const next = o.sealer.rewrap(r.value, AAD[table](r.keys));
          if (next === r.value) continue;
          if (await o.store.sealed.replace(table, r.keys, r.value, next)) rewrapped[table]++;
          else skipped++;
        }
      }
      const canary = await o.store.settings.get<string>(CANARY_SETTING);
      if (canary && known(o.sealer.fingerprintOf(canary))) {
        const next = o.sealer.rewrap(canary, CANARY_SETTING);
        if (next !== canary) {
          await o.store.settings.put(CANARY_SETTING, next);
          rewrapped.settings++;
        }
      }
      return { fingerprint: o.sealer.fingerprint, rewrapped, skipped, status: await status() };
    },
  };
}
