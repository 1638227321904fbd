import type { Keyring } from '../issuer/keyring.ts';
import type { Store } from '../store/store.ts';
import type { ClusterSample } from './metrics.ts';

/**
 * Every cluster with its signing keys, as the scrape-time gauges report them. Key lists come
 * through the keyring (cached per replica for a few seconds), so a scrape costs one cluster query.
 * A cluster in `kubernetes` issuer mode still has keys: Airlock signs nothing for it, but keeps them.
 */
export async function sampleClusters(store: Store, keyring: Pick<Keyring, 'statuses'>, now: number): Promise<ClusterSample[]> {
  const out: ClusterSample[] = [];
  for (const c of await store.clusters.listAll()) {
    const keysByState: Record<string, number> = {};
    let activeKeyAgeSeconds: number | undefined;
    for (const k of await keyring.statuses(c.id)) {
      keysByState[k.state] = (keysByState[k.state] ?? 0) + 1;
      if (k.state === 'active') activeKeyAgeSeconds = Math.max(0, (now - k.activateAt.getTime()) / 1000);
    }
    out.push({ id: c.id, name: c.name, cloud: c.cloud, issuerMode: c.issuerMode, activeKeyAgeSeconds, keysByState });
  }
  return out;
}
