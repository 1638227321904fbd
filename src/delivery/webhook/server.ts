/**
 * `airlock webhook serve`'s HTTPS edge: the API server POSTs AdmissionReviews to /mutate; the
 * kubelet probes /healthz. Plain node:https rather than the API's framework: one route on the hot
 * path of every pod creation, where each microsecond is paid by the cluster.
 *
 * Answers:
 *   POST /mutate   200 AdmissionReview (allowed, with or without a patch, or refused with a status);
 *                  400 {error:{code,message,field,example}} for a body that is not an AdmissionReview
 *                  (ERR_VALIDATION) or not JSON (ERR_MALFORMED_JSON); 413 ERR_BODY_TOO_LARGE; 415
 *                  ERR_UNSUPPORTED_MEDIA_TYPE; 404 ERR_ROUTE_NOT_FOUND; 405 ERR_METHOD_NOT_ALLOWED
 *                  (the codes of the API's catalogue, docs/errors.md)
 *   GET  /healthz  200 {"ok":true,"workloads":{hits,…}} (no profile, no token)
 *   GET  /metrics  200 Prometheus text: reviews by result, latency, workload lookups (counts only, no token)
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/logger.ts';
import { MIN_TLS_VERSION, readTlsPair, tlsReloader } from '../../lib/tls-files.ts';
import type { AdmissionResult, WebhookMetrics } from '../../metrics/webhook.ts';
import { DeliveryError } from '../errors.ts';
import type { InjectionSettings } from './injection.ts';
import { review, type WorkloadSource } from './review.ts';
import type { WorkloadCacheStats } from './workload-cache.ts';

/** The API server's own limit on an admission request is 3 MiB (etcd's object limit is 1.5 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
export const MUTATE_PATH = '/mutate';
export const HEALTH_PATH = '/healthz';
export const METRICS_PATH = '/metrics';

export interface WebhookServerOptions {
  certFile: string;
  keyFile: string;
  host?: string;
  port: number;
  source: WorkloadSource & { stats?: () => WorkloadCacheStats };
  settings: InjectionSettings;
  logger: Logger;
  /** Counts reviews for GET /metrics; absent, the route is not there. */
  metrics?: WebhookMetrics | undefined;
}

export interface WebhookServer {
  server: Server;
  url: string;
  /** Re-reads the certificate and key (a renewed Secret); new connections use them, open ones keep theirs. */
  reloadTls(): void;
  close(): Promise<void>;
}

function readTls(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  return readTlsPair(certFile, keyFile, (message, which, cause) =>
    new DeliveryError('ERR_VALIDATION', `--tls-${which}: ${message}`, { field: `--tls-${which}`, example: `/etc/airlock-webhook/tls/tls.${which === 'cert' ? 'crt' : 'key'}`, cause }),
  );
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
  res.end(bytes);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, field?: string, example?: unknown): void {
  sendJson(res, status, { error: { code, message, ...(field ? { field } : {}), ...(example !== undefined ? { example } : {}) } });
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, o: WebhookServerOptions): Promise<void> {
  const q = req.url?.indexOf('?') ?? -1;
  const path = q === -1 ? req.url : req.url!.slice(0, q);
  if (path === HEALTH_PATH) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'ERR_METHOD_NOT_ALLOWED', `${HEALTH_PATH} answers GET`);
    return sendJson(res, 200, { ok: true, ...(o.source.stats ? { workloads: o.source.stats() } : {}) });
  }
  if (path === METRICS_PATH && o.metrics) {
    if (req.method !== 'GET') return sendError(res, 405, 'ERR_METHOD_NOT_ALLOWED', `${METRICS_PATH} answers GET`);
    const text = Buffer.from(await o.metrics.scrape());
    res.writeHead(200, { 'content-type': o.metrics.contentType, 'content-length': text.length });
    return void res.end(text);
  }
  if (path !== MUTATE_PATH) return sendError(res, 404, 'ERR_ROUTE_NOT_FOUND', `no route ${path ?? ''}; the webhook answers POST ${MUTATE_PATH} and GET ${HEALTH_PATH}`);
  if (req.method !== 'POST') return sendError(res, 405, 'ERR_METHOD_NOT_ALLOWED', `${MUTATE_PATH} answers POST (an AdmissionReview from the API server)`);
  const started = performance.now();
  const count = (result: AdmissionResult) => o.metrics?.admission(result, (performance.now() - started) / 1000);
  const type = req.headers['content-type'];
  if (type !== undefined && !type.startsWith('application/json')) {
    req.resume();
    count('invalid');
    return sendError(res, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE', `content-type must be application/json, not ${type}`, 'content-type', 'application/json');
  }
  const raw = await readBody(req);
  if (!raw) {
    count('invalid');
    return sendError(res, 413, 'ERR_BODY_TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`, 'body');
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    count('invalid');
    return sendError(res, 400, 'ERR_MALFORMED_JSON', 'the body is not JSON', 'body', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '…' } });
  }
  try {
    const out = await review(body, o.source, o.settings);
    if (!out.response.allowed) o.logger.warn('webhook: pod refused', { uid: out.response.uid, status: out.response.status });
    count(!out.response.allowed ? 'refused' : out.response.patch ? 'mutated' : 'unchanged');
    return sendJson(res, 200, out);
  } catch (err) {
    if (err instanceof DeliveryError && err.code === 'ERR_VALIDATION') {
      count('invalid');
      return sendError(res, 400, err.code, err.message, err.field, err.example);
    }
    count('error');
    throw err;
  }
}

/** Starts the HTTPS server; resolves once it listens. */
export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const tls = readTls(o.certFile, o.keyFile);
  const server = createServer({ ...tls, minVersion: MIN_TLS_VERSION }, (req, res) => {
    handle(req, res, o).catch((err: unknown) => {
      o.logger.error('webhook: request failed', { path: req.url?.split('?')[0], reason: (err as Error)?.message ?? String(err) });
      if (!res.headersSent) sendError(res, 500, 'ERR_INTERNAL', 'the webhook failed; see its log');
      else res.destroy();
    });
  });
  // The API server keeps connections to webhooks open; a short idle timeout would only add handshakes.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new DeliveryError('ERR_VALIDATION', `cannot listen on ${o.host ?? '0.0.0.0'}:${o.port} (${err.code ?? err.message})`, { field: '--port', example: '8443', cause: err })),
    );
    server.listen(o.port, o.host ?? '0.0.0.0', () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `https://${host}:${addr.port}`,
    reloadTls: tlsReloader(() => readTls(o.certFile, o.keyFile), tls, (context) => server.setSecureContext(context)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
