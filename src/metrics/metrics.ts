/**
 * What the server counts, for Prometheus (`GET /metrics`). Domain code reports events through the
 * narrow {@link Metrics} interface and never sees prom-client; this file alone knows it. Each app
 * has its own registry (tests run several apps in one process), and gauges that describe stored
 * state (signing keys, clusters) are computed when scraped, not kept in step by hand.
 *
 * Label values are bounded by construction: cluster ids only once a cluster was found, route
 * templates (never raw paths), error codes and fixed reason lists. Nothing a client sends can mint
 * a new series.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, prometheusContentType } from 'prom-client';
import type { TokenRefusal } from '../auth/api-tokens.ts';

/** Why a join credential that names a stored one was refused at the exchange. */
export type JoinRefusal = 'wrong-secret' | 'revoked' | 'expired' | 'other-cluster';

// Every reason, so each series exists at 0 from the start: `increase()` then sees the first refusal
// (a series that appears already at 1 shows no increase).
const JOIN_REFUSALS: Record<JoinRefusal, true> = { 'wrong-secret': true, revoked: true, expired: true, 'other-cluster': true };
const TOKEN_REFUSALS: Record<TokenRefusal, true> = { malformed: true, unknown: true, revoked: true, expired: true, 'wrong-secret': true, 'rotated-out': true };

/** How a workload attested at the token exchange (`none`: the form was refused before attesting). */
export type ExchangeAttestation = 'join-credential' | 'kubernetes' | 'none';

/** One cluster's state as the scrape-time gauges report it. */
export interface ClusterSample {
  id: string;
  name: string;
  cloud: string;
  issuerMode: string;
  /** Seconds since the signing key in force started signing; absent when none signs. */
  activeKeyAgeSeconds: number | undefined;
  /** How many keys are in each state (pending, active, retired, revoked…). */
  keysByState: Record<string, number>;
}

export interface Metrics {
  readonly contentType: string;
  /** The exposition text of every metric, scrape-time gauges freshly computed. */
  scrape(): Promise<string>;
  /** A token exchange answered: `issued`, or the RFC 6749 error it was refused with. */
  exchange(o: { cluster: string | undefined; attestation: ExchangeAttestation; result: string }): void;
  /** A join credential that names a stored one was refused, and why. */
  joinCredentialRefused(reason: JoinRefusal): void;
  /** A presented API token was refused (`unknown`, `revoked`, `expired`, `wrong-secret`…). */
  apiTokenRefused(reason: TokenRefusal): void;
  /** An HTTP request answered: its route template (`unmatched` when none), status and duration. */
  httpRequest(o: { method: string; route: string; status: number; seconds: number }): void;
  /** A batch of audit records committed (or failed: the actions it recorded were refused). */
  auditBatch(o: { records: number; ok: boolean }): void;
  /** One pass of the rotation schedule: the keys it created, or that it failed. */
  rotationCheck(o: { ok: boolean; created: number }): void;
  /** A snapshot of the embedded store was written, or failed. */
  backup(ok: boolean): void;
  /** Where the scrape-time cluster gauges come from (the composition root sets it). */
  sampleClustersWith(sample: () => Promise<ClusterSample[]>): void;
  /** When the newest snapshot in the backup directory was taken (ms), read when scraped; absent: none. */
  sampleBackupsWith(newest: () => number | undefined): void;
}

/** The HTTP methods that get a label of their own; anything else is `other`. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Latency buckets for an API whose fast paths answer in about a millisecond. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(o: { version: string; processMetrics?: boolean }): Metrics {
  const registry = new Registry();
  if (o.processMetrics !== false) collectDefaultMetrics({ register: registry });

  new Gauge({ name: 'airlock_build_info', help: 'Always 1; the running version is its label', labelNames: ['version'], registers: [registry] }).set({ version: o.version }, 1);

  const exchanges = new Counter({
    name: 'airlock_token_exchanges_total',
    help: 'Token exchanges at a cluster issuer (POST <issuer>/token), by how the workload attested and the result: issued, or the OAuth error it was refused with',
    labelNames: ['cluster', 'attestation', 'result'],
    registers: [registry],
  });
  const joinRefusals = new Counter({
    name: 'airlock_join_credential_refusals_total',
    help: 'Exchanges refused for a join credential that names a stored one: wrong-secret, revoked, expired or other-cluster (a revoked one still in use is worth an alert)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const tokenRefusals = new Counter({
    name: 'airlock_api_token_refusals_total',
    help: 'API requests refused for the token they presented: malformed, unknown, revoked, expired, wrong-secret or rotated-out',
    labelNames: ['reason'],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'airlock_http_requests_total',
    help: 'HTTP requests answered, by method, route template (unmatched when no route took it) and status code',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'airlock_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response, by method and route template',
    labelNames: ['method', 'route'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const auditRecords = new Counter({ name: 'airlock_audit_records_total', help: 'Audit records committed', registers: [registry] });
  const auditFailures = new Counter({
    name: 'airlock_audit_write_failures_total',
    help: 'Audit records that could not be written; the actions they recorded were refused',
    registers: [registry],
  });
  const rotationChecks = new Counter({
    name: 'airlock_key_rotation_checks_total',
    help: 'Passes of the signing-key rotation schedule, by result (ok or error)',
    labelNames: ['result'],
    registers: [registry],
  });
  const keysCreated = new Counter({ name: 'airlock_signing_keys_created_total', help: 'Signing keys the rotation schedule created', registers: [registry] });
  const backups = new Counter({ name: 'airlock_backups_total', help: 'Snapshots of the embedded store, by result (ok or error)', labelNames: ['result'], registers: [registry] });
  for (const result of ['ok', 'error']) backups.inc({ result }, 0);
  let newestBackup: () => number | undefined = () => undefined;
  new Gauge({
    name: 'airlock_backup_last_timestamp_seconds',
    help: 'When the newest snapshot in the backup directory was taken (absent when there is none, and on PostgreSQL)',
    // A label, so that "none" has no sample at all: an unlabelled gauge always shows one (0).
    labelNames: ['store'],
    registers: [registry],
    collect() {
      this.reset();
      const ms = newestBackup();
      if (ms !== undefined) this.set({ store: 'embedded' }, ms / 1000);
    },
  });
  for (const reason of Object.keys(JOIN_REFUSALS)) joinRefusals.inc({ reason }, 0);
  for (const reason of Object.keys(TOKEN_REFUSALS)) tokenRefusals.inc({ reason }, 0);
  for (const result of ['ok', 'error']) rotationChecks.inc({ result }, 0);

  let sample: () => Promise<ClusterSample[]> = () => Promise.resolve([]);
  // Scrape-time gauges: reset and refilled from one sample per scrape, so a deleted cluster's
  // series disappear instead of holding their last value.
  let sampled: Promise<ClusterSample[]> | undefined;
  const current = () => (sampled ??= sample().finally(() => queueMicrotask(() => (sampled = undefined))));
  new Gauge({
    name: 'airlock_cluster_info',
    help: 'Always 1 per cluster; its name, cloud and issuer mode are labels (join on cluster)',
    labelNames: ['cluster', 'name', 'cloud', 'issuer_mode'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const c of await current()) this.set({ cluster: c.id, name: c.name, cloud: c.cloud, issuer_mode: c.issuerMode }, 1);
    },
  });
  new Gauge({
    name: 'airlock_signing_key_age_seconds',
    help: "Seconds since the signing key in force started signing, per cluster (absent when none signs; compare with the rotation period to catch a schedule that stopped)",
    labelNames: ['cluster'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const c of await current()) if (c.activeKeyAgeSeconds !== undefined) this.set({ cluster: c.id }, c.activeKeyAgeSeconds);
    },
  });
  new Gauge({
    name: 'airlock_signing_keys',
    help: "A cluster's signing keys by state (pending, active, retired, revoked); a cluster without an active key issues nothing",
    labelNames: ['cluster', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const c of await current()) for (const [state, n] of Object.entries(c.keysByState)) this.set({ cluster: c.id, state }, n);
    },
  });

  return {
    contentType: prometheusContentType,
    scrape: () => registry.metrics(),
    exchange: ({ cluster, attestation, result }) => exchanges.inc({ cluster: cluster ?? '', attestation, result }),
    joinCredentialRefused: (reason) => joinRefusals.inc({ reason }),
    apiTokenRefused: (reason) => tokenRefusals.inc({ reason }),
    httpRequest({ method, route, status, seconds }) {
      const m = METHODS.has(method) ? method : 'other';
      requests.inc({ method: m, route, status: String(status) });
      latency.observe({ method: m, route }, seconds);
    },
    auditBatch({ records, ok }) {
      (ok ? auditRecords : auditFailures).inc(records);
    },
    rotationCheck({ ok, created }) {
      rotationChecks.inc({ result: ok ? 'ok' : 'error' });
      if (created > 0) keysCreated.inc(created);
    },
    backup: (ok) => backups.inc({ result: ok ? 'ok' : 'error' }),
    sampleClustersWith(fn) {
      sample = fn;
    },
    sampleBackupsWith(fn) {
      newestBackup = fn;
    },
  };
}

/** For services built without a registry (unit tests): counts nothing. */
export const noMetrics: Metrics = {
  contentType: prometheusContentType,
  scrape: () => Promise.resolve(''),
  exchange: () => undefined,
  joinCredentialRefused: () => undefined,
  apiTokenRefused: () => undefined,
  httpRequest: () => undefined,
  auditBatch: () => undefined,
  rotationCheck: () => undefined,
  backup: () => undefined,
  sampleClustersWith: () => undefined,
  sampleBackupsWith: () => undefined,
};
