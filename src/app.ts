import { mkdirSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { clusterRoutes } from './api/routes/clusters.ts';
import { deliveryRoutes } from './api/routes/delivery.ts';
import { deploymentRoutes } from './api/routes/deployments.ts';
import { createAuditLog, type AuditLog } from './audit/log.ts';
import { createKubernetesTokenVerifier } from './delivery/kubernetes-tokens.ts';
import { createDeliveryService, type DeliveryService } from './delivery/service.ts';
import { identityRoutes } from './api/routes/identities.ts';
import { issuerRoutes } from './api/routes/issuer.ts';
import { metaRoutes } from './api/routes/meta.ts';
import { workspaceRoutes } from './api/routes/workspaces.ts';
import { tokenRoutes } from './api/routes/tokens.ts';
import { auditRoutes } from './api/routes/audit.ts';
import { backupRoutes } from './api/routes/backups.ts';
import { masterKeyRoutes } from './api/routes/master-key.ts';
import { createMasterKeyRotation } from './crypto/rotation.ts';
import { createBackups, type Backups } from './backup/backups.ts';
import { ensureLineage } from './backup/lineage.ts';
import { variableRoutes } from './api/routes/variables.ts';
import { createWorkloadEnvironmentReader } from './delivery/environment-reads.ts';
import { resolveRoutes } from './api/routes/resolve.ts';
import { createConnectionResolver } from './connections/resolver.ts';
import { createVariableService, type VariableService } from './variables/service.ts';
import { connectionRoutes } from './api/routes/connections.ts';
import { createConnectionService, variableReferenceFinder, type ConnectionService } from './connections/service.ts';
import { createTokenAdmin } from './auth/token-admin.ts';
import { createAccessControl, type AccessControl } from './access/service.ts';
import type { RouteDef } from './api/route.ts';
import { createHttpServer } from './api/server.ts';
import { createApiTokenService, type ApiTokenService } from './auth/api-tokens.ts';
import { createClusterService, type ClusterService } from './clusters/service.ts';
import { CLOUD_PROVIDERS } from './cloud/index.ts';
import { createDeploymentService, type DeploymentService } from './deployments/service.ts';
import { createIdentityService, type IdentityService } from './identity/service.ts';
import type { Config } from './config/schema.ts';
import { createSealer, type Sealer } from './crypto/envelope.ts';
import { CANARY_SETTING, loadMasterKey, loadPreviousMasterKeys } from './crypto/master-key.ts';
import { AppError } from './errors/index.ts';
import { createKeyring, type Keyring } from './issuer/keyring.ts';
import { createMinter, type Minter } from './issuer/minter.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { readTlsPair, tlsReloader } from './lib/tls-files.ts';
import { sampleClusters } from './metrics/clusters.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { createStore, type Store } from './store/store.ts';
import { ensureDefaultTenancy, type Tenancy } from './tenancy/service.ts';
import { createWorkspaceService, type WorkspaceService } from './tenancy/workspaces.ts';
import { VERSION } from './version.ts';
import { loadWebAssets, type WebAssets } from './web/assets.ts';

export interface AppOptions {
  config: Config;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  logger?: Logger;
  /** Skip the background rotation timer (tests drive `keyring.tick()` themselves). */
  manualRotation?: boolean;
  /**
   * The web console's build directory (bin/ui.js); default AIRLOCK_UI_DIR, which `airlock serve`
   * sets after building it. `false`, or neither given: the API alone.
   */
  ui?: string | false;
}

/** Everything the server is made of, built once in dependency order. */
export interface App {
  config: Config;
  logger: Logger;
  clock: Clock;
  store: Store;
  sealer: Sealer;
  tenancy: Tenancy;
  workspaces: WorkspaceService;
  tokens: ApiTokenService;
  access: AccessControl;
  keyring: Keyring;
  minter: Minter;
  clusters: ClusterService;
  deployments: DeploymentService;
  identities: IdentityService;
  connections: ConnectionService;
  audit: AuditLog;
  delivery: DeliveryService;
  variables: VariableService;
  backups: Backups;
  metrics: Metrics;
  routes: RouteDef[];
  http: FastifyInstance;
  /**
   * Where start-up time went, in ms: opening the store, its migrations, first-start bootstrap
   * (master-key check, default tenancy, admin token) and assembling the services and routes.
   */
  startup: { storeOpenMs: number; migrateMs: number; bootstrapMs: number; assembleMs: number };
  /** Path of the admin token file when this start created it. */
  adminTokenFile: string | undefined;
  /**
   * Re-reads tlsCert and tlsKey: new connections get the new pair, open ones keep theirs. A pair
   * that cannot be read, or does not match, throws ERR_CONFIG_INVALID and the current one stays.
   * Without TLS configured, does nothing.
   */
  reloadTls(): void;
  /** The URL the server is reached at (known for sure after `listen`). */
  publicUrl(): string;
  issuerUrl(clusterId: string): string;
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function createApp(o: AppOptions): Promise<App> {
  const { config } = o;
  const env = o.env ?? process.env;
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? createLogger(config.logLevel);
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  // Read before anything is opened: a bad pair is a configuration error, named at start.
  const tlsFiles = config.tlsCert && config.tlsKey ? { cert: resolve(config.tlsCert), key: resolve(config.tlsKey) } : undefined;
  const readTls = () =>
    tlsFiles &&
    readTlsPair(tlsFiles.cert, tlsFiles.key, (message, which, cause) =>
      new AppError('ERR_CONFIG_INVALID', `tls${which === 'cert' ? 'Cert' : 'Key'}: ${message}`, { field: which === 'cert' ? 'tlsCert' : 'tlsKey', example: '/etc/letsencrypt/live/airlock.example.com/fullchain.pem', cause }),
    );
  const tls = readTls();
  const master = loadMasterKey({ env, dataDir, file: config.masterKeyFile });
  const sealer = createSealer(master.key, loadPreviousMasterKeys(env));
  if (master.origin === 'created') {
    logger.warn(
      'created a new master key; it encrypts every private key at rest. Protect it (mode 0600, never in version control) and back it up: without it the stored keys cannot be read. In production set AIRLOCK_MASTER_KEY from a secret manager instead.',
      { file: master.path, fingerprint: sealer.fingerprint },
    );
  } else {
    logger.info('master key loaded', { origin: master.origin, fingerprint: sealer.fingerprint, ...(sealer.previous.length > 0 && { previous: sealer.previous }) });
  }

  const storeStarted = performance.now();
  const store = await createStore({
    databaseUrl: config.databaseUrl,
    dataDir,
    // An idle pooled connection dropped by PostgreSQL (restart, failover) is replaced on next use.
    onConnectionError: (err) => logger.warn('a PostgreSQL connection was closed; it will be reopened', { err }),
  });
  try {
    // Fail at start, not at the first mint, when the master key is not the one the store was sealed with.
    const canary = await store.settings.get<string>(CANARY_SETTING);
    if (canary) sealer.open(canary, CANARY_SETTING);
    else await store.settings.put(CANARY_SETTING, sealer.seal(Buffer.from('airlock'), CANARY_SETTING));
  } catch (err) {
    await store.close();
    throw err instanceof AppError ? err : new AppError('ERR_MASTER_KEY', 'cannot check the master key against the store', { cause: err });
  }

  await ensureLineage(store);
  const tenancy = await ensureDefaultTenancy(store, clock);
  const workspaces = createWorkspaceService({ store, clock, tenancy });
  const tokens = createApiTokenService(store, clock);
  const access = createAccessControl({ tenancy, workspaces });
  const adminTokenFile = await tokens.ensureAdminToken(dataDir);
  const bootstrapped = performance.now();

  const scheme = tls ? 'https' : 'http';
  let publicUrl = (config.publicUrl ?? `${scheme}://127.0.0.1:${config.port}`).replace(/\/+$/, '');
  const issuerUrl = (clusterId: string) => `${publicUrl}/clusters/${clusterId}`;

  const schedule = {
    rotationPeriodSeconds: config.keyRotationPeriod,
    prepublishSeconds: config.keyPrepublish,
    clockSkewSeconds: config.clockSkew,
  };
  const keyring = createKeyring({ store, sealer, clock, maxTokenTtlSeconds: config.tokenTtlMax, ...schedule });
  const minter = createMinter({
    keyring,
    clock,
    issuerUrl,
    defaultTtlSeconds: config.tokenTtlDefault,
    maxTtlSeconds: config.tokenTtlMax,
  });
  const clusters = createClusterService({ store, keyring, clock, tenancy, issuerUrl });
  // The two services refer to each other (identity changes re-check Deployments; Deployments
  // resolve saved identities), so one is handed to the other lazily.
  const deployments: DeploymentService = createDeploymentService({ store, clock, clusters, identities: () => identities });
  const identities: IdentityService = createIdentityService({ store, clock, checkUsers: (tx, i) => deployments.checkIdentityUsers(tx, i) });

  const connections = createConnectionService({ store, clock, sealer, deployments, identities, providers: CLOUD_PROVIDERS });
  // Unlinking or deleting a connection warns where a Deployment's variables still name it.
  connections.addReferenceFinder(variableReferenceFinder);

  const metrics = createMetrics({ version: VERSION });
  const audit = createAuditLog({ store, clock, logger, metrics });
  const delivery = createDeliveryService({
    store,
    clock,
    logger,
    clusters,
    deployments,
    minter,
    audit,
    kubernetes: createKubernetesTokenVerifier({ clock }),
    providers: CLOUD_PROVIDERS,
    tokenTtlSeconds: config.tokenTtlDefault,
    metrics,
  });
  metrics.sampleClustersWith(async () => {
    // A store that does not answer leaves the gauges empty for this scrape; the counters still go out.
    try {
      return await sampleClusters(store, keyring, clock.now());
    } catch (err) {
      logger.warn('metrics: the clusters could not be read for this scrape', { err: err as Error });
      return [];
    }
  });

  const variables = createVariableService({
    store,
    clock,
    sealer,
    deployments,
    // The Environment Manager's connections, overrides applied; passwords only for workloads.
    linkedConnections: async (deploymentId, o) =>
      (await connections.connectionsForDeployment(deploymentId, { withPasswords: o.withSecrets })).map((c) =>
        c.passwordSet && !o.withSecrets ? { connId: c.connId, fields: c.fields, passwordWithheld: true } : { connId: c.connId, fields: c.fields },
      ),
  });

  const backups = createBackups({ store, dir: resolve(config.backupDir ?? join(dataDir, 'backups')), keep: config.backupKeep, clock, logger, onResult: (ok) => metrics.backup(ok) });
  metrics.sampleBackupsWith(() => {
    const newest = backups.newest();
    return newest && Date.parse(newest.createdAt);
  });

  const routes: RouteDef[] = [];
  routes.push(
    ...metaRoutes(store, VERSION, () => routes, metrics),
    ...issuerRoutes(clusters, keyring),
    ...workspaceRoutes(workspaces),
    ...tokenRoutes(createTokenAdmin({ store, clock, tenancy, tokens, workspaces, deployments }), () => clock.now()),
    ...clusterRoutes(clusters),
    ...deploymentRoutes(deployments, CLOUD_PROVIDERS),
    ...identityRoutes(identities, clusters),
    ...deliveryRoutes(delivery, () => clock.now()),
    ...auditRoutes(store, audit),
    ...masterKeyRoutes(createMasterKeyRotation({ store, sealer })),
    ...backupRoutes(backups, { intervalSeconds: config.backupInterval, keep: config.backupKeep, dataDir }),
    ...variableRoutes(
      variables,
      createWorkloadEnvironmentReader({
        authenticate: (bearer, cluster, ctx) => delivery.authenticateWorkload(bearer, cluster, ctx),
        environment: (deploymentId) => variables.workloadEnvironment(deploymentId),
        audit,
        clock,
      }),
    ),
    ...connectionRoutes(connections),
    ...resolveRoutes(createConnectionResolver({ deployments, variables, connections })),
  );
  const uiDir = o.ui === false ? undefined : (o.ui ?? env.AIRLOCK_UI_DIR);
  let web: WebAssets | undefined;
  if (uiDir) {
    try {
      web = loadWebAssets(uiDir);
    } catch (err) {
      logger.warn('the web console could not be read; serving the API alone', { dir: uiDir, err: err as Error });
    }
  }
  const http = createHttpServer({ routes, tokens, access, audit, logger, web, clock, metrics, tls });
  const startup = {
    storeOpenMs: store.startup.openMs,
    migrateMs: store.startup.migrateMs,
    bootstrapMs: bootstrapped - storeStarted - store.startup.openMs - store.startup.migrateMs,
    assembleMs: performance.now() - bootstrapped,
  };

  // Retention: hourly, and once at start; 0 keeps every record.
  const AUDIT_PRUNE_EVERY_MS = 3600_000;
  let pruneTimer: NodeJS.Timeout | undefined;
  const prune = async () => {
    if (config.auditRetention === 0) return;
    try {
      const n = await audit.prune(new Date(clock.now() - config.auditRetention * 1000));
      if (n > 0) logger.info('audit records past retention deleted', { count: n, retention: config.auditRetention });
    } catch (err) {
      logger.error('audit retention failed', { err: err as Error });
    }
  };
  // Automatic backups: checked hourly (or at the interval, if shorter), so a server restarted more
  // often than the interval still takes one per interval; the first check runs at start.
  let backupTimer: NodeJS.Timeout | undefined;
  let backingUp: Promise<unknown> | undefined;
  const backupIfDue = () => {
    backingUp ??= backups
      .createIfDue(config.backupInterval)
      .catch((err: unknown) => logger.error('backup failed', { err: err as Error, dir: backups.dir }))
      .finally(() => (backingUp = undefined));
  };
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;
  const tick = async () => {
    if (ticking) return;
    ticking = true;
    try {
      const created = await keyring.tick();
      metrics.rotationCheck({ ok: true, created: created.length });
      if (created.length) logger.info('scheduled signing keys created', { kids: created });
    } catch (err) {
      metrics.rotationCheck({ ok: false, created: 0 });
      logger.error('key rotation check failed', { err });
    } finally {
      ticking = false;
    }
  };

  return {
    config,
    logger,
    clock,
    store,
    sealer,
    tenancy,
    workspaces,
    tokens,
    access,
    keyring,
    minter,
    clusters,
    deployments,
    identities,
    connections,
    audit,
    delivery,
    variables,
    backups,
    metrics,
    routes,
    http,
    startup,
    adminTokenFile,
    reloadTls: tls ? tlsReloader(() => readTls()!, tls, (context) => (http.server as unknown as HttpsServer).setSecureContext(context)) : () => undefined,
    publicUrl: () => publicUrl,
    issuerUrl,
    async listen() {
      const address = await http.listen({ host: config.host, port: config.port });
      if (!config.publicUrl) {
        const port = (http.server.address() as { port: number }).port;
        publicUrl = `${scheme}://127.0.0.1:${port}`;
      }
      if (!o.manualRotation) {
        await tick();
        timer = setInterval(() => void tick(), config.rotationCheckInterval * 1000);
        timer.unref();
        await prune();
        pruneTimer = setInterval(() => void prune(), AUDIT_PRUNE_EVERY_MS);
        pruneTimer.unref();
        if (config.backupInterval > 0 && store.kind === 'embedded') {
          backupIfDue();
          backupTimer = setInterval(backupIfDue, Math.min(config.backupInterval, 3600) * 1000);
          backupTimer.unref();
        }
      }
      return address;
    },
    async close() {
      if (timer) clearInterval(timer);
      if (pruneTimer) clearInterval(pruneTimer);
      if (backupTimer) clearInterval(backupTimer);
      await http.close();
      await backingUp;
      await audit.flush();
      await store.close();
    },
  };
}
