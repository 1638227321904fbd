import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { AppError } from '../errors/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { SANDBOX_INFO_PATH, SandboxInfoSchema, type SandboxInfo } from '../delivery/sandbox-info.ts';
import type { Logger } from '../lib/logger.ts';
import { createAwsEmulator, SANDBOX_ADMIN_ACCESS_KEY_ID } from './aws/index.ts';
import { createAzureEmulator, createSandboxCertificate } from './azure/index.ts';
import { ENTRA_AUTHORITY_HOST, GOOGLE_API_HOSTS } from './azure/certificate.ts';
import { createGcpEmulator } from './gcp/index.ts';
import { attachConnectProxy } from './proxy.ts';

export interface SandboxOptions {
  /** Loopback only: the admin APIs have no authentication. */
  host?: string;
  /** AWS and GCP (http). 0 picks a free port. */
  port: number;
  /** Azure (https, self-signed). Default port + 1 (or a free port when port is 0). */
  azurePort?: number | undefined;
  /** Holds the certificate and, unless `inMemory`, the state file. */
  dataDir: string;
  /** Keep configuration only in memory. */
  inMemory?: boolean;
  /**
   * A configuration file to load at start: `{ "aws": …, "gcp": …, "azure": … }`, each part in its
   * emulator's config format (the same JSON the state file holds). It replaces saved state.
   */
  configFile?: string | undefined;
  clock?: Clock;
  /**
   * Where the emulators' unexpected failures, failed state saves and refused proxy requests are
   * logged. Without one they are only seen by fastify's logger, which the sandbox keeps off.
   */
  logger?: Logger;
}

export interface Sandbox {
  awsUrl: string;
  gcpUrl: string;
  azureUrl: string;
  /** The HTTPS (CONNECT) proxy, on the http port: for `HTTPS_PROXY`. */
  proxyUrl: string;
  /** `GET` it for {@link SandboxInfo}: what `airlock exec --sandbox <url>` configures a child with. */
  infoUrl: string;
  certFile: string;
  stateFile: string | undefined;
  /** The document served at {@link infoUrl}. */
  info(): SandboxInfo;
  /** Environment a client sets to use the sandbox (printed by `airlock sandbox`). */
  clientEnv: Record<string, string>;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

/**
 * `airlock sandbox`: the AWS, GCP and Azure token-path emulators on loopback. AWS (query API at
 * `POST /`) and GCP (`/v1/…`) share one http port with `GET /_sandbox/info` and an HTTPS proxy
 * (CONNECT) that tunnels login.microsoftonline.com and the Google API hosts SDKs call at fixed
 * URLs to the https port; Azure is https on its own port because MSAL refuses plain-http
 * authorities, and the GCP emulator answers there as well. Configuration survives restarts in
 * `<dataDir>/sandbox-state.json`.
 */
export async function startSandbox(o: SandboxOptions): Promise<Sandbox> {
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK.test(host)) {
    throw new AppError('ERR_VALIDATION', `the sandbox binds to loopback only (its admin APIs have no authentication); got ${host}`, {
      field: 'host',
      example: '127.0.0.1',
    });
  }
  const clock = o.clock ?? systemClock;
  const dataDir = resolve(o.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const cert = await createSandboxCertificate(dataDir);

  const logger = o.logger;
  const withLogger = logger ? { logger } : {};
  const aws = createAwsEmulator({ clock, ...withLogger });
  const gcp = createGcpEmulator({ clock, ...withLogger });
  const azure = createAzureEmulator({ clock, ...withLogger });

  const stateFile = o.inMemory ? undefined : join(dataDir, 'sandbox-state.json');
  if (stateFile && existsSync(stateFile)) {
    let saved: { aws?: unknown; gcp?: unknown; azure?: unknown };
    try {
      saved = JSON.parse(readFileSync(stateFile, 'utf8')) as typeof saved;
    } catch (cause) {
      throw new AppError('ERR_VALIDATION', `sandbox state file ${stateFile} is not valid JSON; fix or remove it`, { field: 'stateFile', cause });
    }
    if (saved.aws) aws.state.load(saved.aws);
    if (saved.gcp) gcp.state.load(saved.gcp);
    if (saved.azure) azure.state.load(saved.azure);
  }
  if (o.configFile) {
    let config: { aws?: unknown; gcp?: unknown; azure?: unknown };
    try {
      config = JSON.parse(readFileSync(o.configFile, 'utf8')) as typeof config;
    } catch (cause) {
      throw new AppError('ERR_VALIDATION', `cannot read sandbox config ${o.configFile}: ${(cause as Error).message}`, { field: 'configFile', cause });
    }
    const unknown = Object.keys(config ?? {}).filter((k) => !['aws', 'gcp', 'azure'].includes(k));
    if (typeof config !== 'object' || config === null || unknown.length) {
      throw new AppError('ERR_VALIDATION', `sandbox config must be an object with keys aws, gcp and/or azure${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`, {
        field: 'configFile',
        example: { gcp: { projects: [] }, azure: { tenants: [], identities: [] } },
      });
    }
    if (config.aws) aws.state.load(config.aws);
    if (config.gcp) gcp.state.load(config.gcp);
    if (config.azure) azure.state.load(config.azure);
  }
  const save = () => {
    if (!stateFile) return;
    const tmp = `${stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ aws: aws.state.toJSON(), gcp: gcp.state.toJSON(), azure: azure.state.toJSON() }, null, 2), { mode: 0o600 });
    renameSync(tmp, stateFile);
  };
  // Any write through any admin API may change state; saving after each is cheap at sandbox scale.
  // A failed save (disk full, directory removed) leaves the sandbox running on what it holds.
  const persistOnWrite = (app: FastifyInstance) =>
    app.addHook('onResponse', (req, _reply, done) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        try {
          save();
        } catch (err) {
          logger?.error('sandbox: could not save state; changes since the last save are lost at restart', { stateFile, err });
        }
      }
      done();
    });

  // Shutting the sandbox down drops open connections rather than waiting on clients.
  const http = Fastify({ logger: false, forceCloseConnections: true });
  persistOnWrite(http);
  // A request in absolute form (`GET http://host/…`) is plain-http proxying, which the sandbox
  // does not do: only CONNECT to the hosts it emulates (see proxy.ts).
  http.addHook('onRequest', async (req, reply) => {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(req.raw.url ?? '')) return;
    logger?.warn('sandbox proxy: refused a plain-http proxy request', { method: req.method, target: (req.raw.url ?? '').slice(0, 300) });
    return reply.code(403).type('text/plain; charset=utf-8').send('airlock sandbox proxy: only CONNECT to the hosts the sandbox emulates is proxied\n');
  });
  // Built per request (the account list changes with IAM state); `currentInfo` is assigned once
  // both ports are known, before anything can connect.
  let currentInfo: () => SandboxInfo = () => {
    throw new Error('sandbox info asked for before the sandbox listened');
  };
  http.get(SANDBOX_INFO_PATH, async (_req, reply) => reply.header('cache-control', 'no-store').send(currentInfo()));
  await http.register(aws.plugin);
  await http.register(gcp.plugin);
  const https = Fastify({ logger: false, forceCloseConnections: true, https: { key: cert.key, cert: cert.cert } });
  persistOnWrite(https);
  await https.register(azure.plugin);
  // The GCP emulator answers on https too, for the Google hosts the proxy tunnels here.
  await https.register(gcp.plugin);

  // Azure first: the proxy on the http port needs its port before the first CONNECT can arrive.
  const azurePort = o.azurePort ?? (o.port === 0 ? 0 : o.port + 1);
  await https.listen({ host, port: azurePort });
  const httpsPort = (https.server.address() as { port: number }).port;
  const routes = [ENTRA_AUTHORITY_HOST, ...GOOGLE_API_HOSTS].map((h) => ({ authority: `${h}:443`, port: httpsPort }));
  const proxy = attachConnectProxy(http.server, { loopbackHost: host, routes, logger });
  try {
    await http.listen({ host, port: o.port });
  } catch (err) {
    await https.close();
    throw err;
  }
  const httpPort = (http.server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const awsUrl = `http://${hostPart}:${httpPort}`;
  const azureUrl = `https://${hostPart}:${httpsPort}`;
  const base = { awsUrl, gcpUrl: awsUrl, azureUrl, caCertPem: cert.cert, proxyUrl: awsUrl, defaultAccountId: aws.state.defaultAccountId };
  // Parsed on the way out, as the API's responses are: what is sent is what clients parse.
  currentInfo = () => SandboxInfoSchema.parse({ ...base, accounts: aws.state.accountIds() });
  currentInfo();
  return {
    awsUrl,
    gcpUrl: awsUrl,
    azureUrl,
    proxyUrl: awsUrl,
    infoUrl: `${awsUrl}${SANDBOX_INFO_PATH}`,
    certFile: cert.certPath,
    stateFile,
    info: () => currentInfo(),
    clientEnv: {
      AWS_ENDPOINT_URL_STS: awsUrl,
      AWS_ENDPOINT_URL_IAM: awsUrl,
      AWS_ACCESS_KEY_ID: SANDBOX_ADMIN_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: 'sandbox',
      AWS_REGION: 'us-east-1',
      AZURE_AUTHORITY_HOST: azureUrl,
      NODE_EXTRA_CA_CERTS: cert.certPath,
      REQUESTS_CA_BUNDLE: cert.certPath,
    },
    close() {
      // Idempotent: a second fastify close() never settles, and shutdown paths may overlap.
      closing ??= (async () => {
        proxy.close();
        await Promise.all([http.close(), https.close()]);
      })();
      return closing;
    },
  };
}
