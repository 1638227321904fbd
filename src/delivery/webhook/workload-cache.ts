/**
 * The webhook's knowledge of which service account is which Deployment component: asked of the
 * Airlock API (`GET /api/v1/clusters/:cluster/workloads?namespace=&serviceAccount=`), cached with
 * the precomputed injection.
 *
 * The EKS webhook's best-known bug was a pod admitted unchanged because its service account was
 * not yet in the webhook's cache (created a moment before the pod). Here a miss is never an answer:
 *
 * - a miss (or an entry too old to serve) is looked up at once, and concurrent pods of the same
 *   service account share that one lookup;
 * - "not a Deployment component" is never cached, so a Deployment created a moment before its
 *   pods is found on the first pod (the name check in review.ts keeps unrelated pods from
 *   reaching here at all);
 * - a lookup that fails is an error (the pod is refused and retried), never "no workload";
 * - a known workload older than `freshMs` is still served while one background lookup renews it,
 *   so the hot path never waits on the API; past `maxStaleMs` it is looked up before answering.
 */
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { DeliveryError } from '../errors.ts';
import { workloadListSchema, type WorkloadProfile } from '../profile.ts';
import type { InjectionSettings } from './injection.ts';
import { cachedWorkload, type CachedWorkload, type WorkloadSource } from './review.ts';

/** Fetches the profile of a service account, or undefined when it is no Deployment component's. */
export type WorkloadFetcher = (namespace: string, serviceAccount: string) => Promise<WorkloadProfile | undefined>;

export interface WorkloadCacheOptions {
  fetch: WorkloadFetcher;
  settings: InjectionSettings;
  clock: Clock;
  logger: Logger;
  /** Served without a lookup this long after it was fetched; default 30 s. */
  freshMs?: number;
  /** Served (while renewed in the background) until this old; default 10 min. */
  maxStaleMs?: number;
  /** Entries kept at most (least recently fetched dropped first); default 10,000. */
  maxEntries?: number;
}

export interface WorkloadCacheStats {
  hits: number;
  staleHits: number;
  misses: number;
  lookups: number;
  lookupFailures: number;
  entries: number;
}

export interface WorkloadCache extends WorkloadSource {
  stats(): WorkloadCacheStats;
}

interface Entry {
  value: CachedWorkload;
  fetchedAt: number;
}

export function createWorkloadCache(o: WorkloadCacheOptions): WorkloadCache {
  const freshMs = o.freshMs ?? 30_000;
  const maxStaleMs = o.maxStaleMs ?? 600_000;
  const maxEntries = o.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<CachedWorkload | undefined>>();
  const s = { hits: 0, staleHits: 0, misses: 0, lookups: 0, lookupFailures: 0 };

  const lookup = (key: string, namespace: string, serviceAccount: string): Promise<CachedWorkload | undefined> => {
    const running = inflight.get(key);
    if (running) return running;
    s.lookups++;
    const p = o
      .fetch(namespace, serviceAccount)
      .then((profile) => {
        if (!profile) {
          entries.delete(key);
          return undefined;
        }
        const value = cachedWorkload(profile, o.settings);
        entries.delete(key);
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
        entries.set(key, { value, fetchedAt: o.clock.now() });
        return value;
      })
      .catch((err: unknown) => {
        s.lookupFailures++;
        throw err;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };

  return {
    get(namespace, serviceAccount) {
      const key = `${namespace}/${serviceAccount}`;
      const e = entries.get(key);
      if (e) {
        const age = o.clock.now() - e.fetchedAt;
        if (age < freshMs) {
          s.hits++;
          return e.value;
        }
        if (age < maxStaleMs) {
          s.staleHits++;
          if (!inflight.has(key)) {
            lookup(key, namespace, serviceAccount).catch((err: unknown) => {
              o.logger.warn('webhook: renewing a cached workload failed; serving the cached one', {
                namespace,
                serviceAccount,
                code: (err as { code?: string }).code ?? 'ERR_INTERNAL',
                reason: (err as Error).message,
                ageMs: age,
              });
            });
          }
          return e.value;
        }
      }
      s.misses++;
      return lookup(key, namespace, serviceAccount);
    },
    stats: () => ({ ...s, entries: entries.size }),
  };
}

export interface ApiFetcherOptions {
  /** The Airlock server (AIRLOCK_URL). */
  serverUrl: string;
  /** An API token with `workload.read` on the cluster's workspace. Never logged. */
  token: string;
  /** The cluster (id or name). */
  cluster: string;
  /** Per-request limit: the API server gives the whole admission call `timeoutSeconds`. */
  timeoutMs?: number;
  /** `?workspace=` for a token that spans workspaces. */
  workspace?: string | undefined;
}

/** The Airlock API as a {@link WorkloadFetcher}. */
export function apiWorkloadFetcher(o: ApiFetcherOptions): WorkloadFetcher {
  const base = o.serverUrl.replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? 5_000;
  return async (namespace, serviceAccount) => {
    const url = new URL(`${base}/api/v1/clusters/${encodeURIComponent(o.cluster)}/workloads`);
    url.searchParams.set('namespace', namespace);
    url.searchParams.set('serviceAccount', serviceAccount);
    if (o.workspace) url.searchParams.set('workspace', o.workspace);
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'application/json', authorization: `Bearer ${o.token}` }, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string; errors?: { code?: string }[] }; message?: string };
      const why = e.name === 'TimeoutError' ? `no answer in ${timeoutMs / 1000}s` : (e.cause?.code ?? e.cause?.errors?.[0]?.code ?? e.message ?? 'failed');
      throw new DeliveryError('ERR_UNREACHABLE', `cannot reach the Airlock server at ${base} (${why})`, { cause: err });
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (res.status !== 200) {
      const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (e?.code && e.message) throw new DeliveryError(e.code, `the Airlock server refused the workload lookup: ${e.message}`, { status: res.status });
      throw new DeliveryError('ERR_BAD_RESPONSE', `the Airlock server answered ${res.status} to the workload lookup`, { status: res.status });
    }
    const parsed = workloadListSchema.safeParse(body);
    if (!parsed.success) throw new DeliveryError('ERR_BAD_RESPONSE', `the workload lookup answer from ${base} is not in the expected form; is the server older than this CLI?`);
    return parsed.data.items[0];
  };
}
