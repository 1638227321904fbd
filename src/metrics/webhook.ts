/**
 * What `airlock webhook serve` counts, at `GET /metrics` on its own port. Counts only, with fixed
 * label values: no pod, namespace or service-account name, so it needs no token (like /healthz);
 * the API server's `apiserver_admission_webhook_*` metrics show the same calls from its side.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, prometheusContentType } from 'prom-client';

/** How an AdmissionReview was answered. */
export type AdmissionResult = 'mutated' | 'unchanged' | 'refused' | 'invalid' | 'error';
const RESULTS: readonly AdmissionResult[] = ['mutated', 'unchanged', 'refused', 'invalid', 'error'];

export interface WebhookMetrics {
  readonly contentType: string;
  scrape(): Promise<string>;
  admission(result: AdmissionResult, seconds: number): void;
}

/** The workload cache's running totals, read when scraped. */
export interface WorkloadLookupTotals {
  hits: number;
  staleHits: number;
  misses: number;
  lookupFailures: number;
}

export function createWebhookMetrics(o: { version: string; lookups?: () => WorkloadLookupTotals }): WebhookMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const reviews = new Counter({
    name: 'airlock_webhook_admission_reviews_total',
    help: 'AdmissionReviews answered: mutated (a patch), unchanged (allowed as it is), refused (allowed: false), invalid (400), error (500)',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of RESULTS) reviews.inc({ result }, 0);
  const latency = new Histogram({
    name: 'airlock_webhook_admission_duration_seconds',
    help: 'Time from receiving an AdmissionReview to answering it',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Counter({
    name: 'airlock_webhook_workload_lookups_total',
    help: "Workload profile lookups by the webhook's cache: hit, stale-hit (served while Airlock was unreachable), miss (asked Airlock), failure (Airlock could not answer)",
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const t = o.lookups?.();
      if (!t) return;
      this.reset();
      this.inc({ result: 'hit' }, t.hits);
      this.inc({ result: 'stale-hit' }, t.staleHits);
      this.inc({ result: 'miss' }, t.misses);
      this.inc({ result: 'failure' }, t.lookupFailures);
    },
  });
  new Gauge({ name: 'airlock_webhook_build_info', help: 'Always 1; the running version is its label', labelNames: ['version'], registers: [registry] }).set({ version: o.version }, 1);
  return {
    contentType: prometheusContentType,
    scrape: () => registry.metrics(),
    admission(result, seconds) {
      reviews.inc({ result });
      latency.observe(seconds);
    },
  };
}
