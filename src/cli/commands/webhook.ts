/**
 * `airlock webhook serve` and `airlock webhook manifest`: the Kubernetes side of delivery. The work
 * is in src/delivery/webhook; this file turns flags into options.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { parseDuration } from '../../lib/duration.ts';
import { systemClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/logger.ts';
import { reloadTlsPeriodically } from '../../lib/tls-files.ts';
import { VERSION } from '../../version.ts';
import { CliError, resolveToken } from '../client.ts';
import { LOG_LEVEL_HELP, parseLogLevel } from '../options.ts';

/** The image the manifest runs and the sidecar uses unless --image / --agent-image say otherwise. */
export const DEFAULT_IMAGE = `ghcr.io/airlock-dev/airlock:${VERSION}`;

function seconds(v: string, flag: string, example: string): number {
  const s = parseDuration(v);
  if (s === undefined || s <= 0) throw new CliError(`${flag} must be a duration such as ${example}`, 'ERR_VALIDATION', flag, example, 2);
  return s;
}

function port(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${flag} must be a port number`, 'ERR_VALIDATION', flag, '8443', 2);
  return n;
}

export function registerWebhookCommands(program: Command): void {
  const webhook = program.command('webhook').description('The Kubernetes mutating admission webhook that gives pods of Deployments their identity');

  webhook
    .command('serve')
    .description('Serve the webhook over HTTPS: POST /mutate (AdmissionReview v1), GET /healthz')
    .requiredOption('--cluster <cluster>', 'the cluster (id or name) whose pods this webhook admits')
    .requiredOption('--tls-cert <file>', 'PEM certificate (re-read every minute and on SIGHUP)')
    .requiredOption('--tls-key <file>', 'PEM private key')
    .option('--port <port>', 'port to listen on', '8443')
    .option('--host <host>', 'address to bind', '0.0.0.0')
    .option('--server <url>', 'the Airlock server (default: AIRLOCK_URL, else http://127.0.0.1:8080); the token is AIRLOCK_TOKEN')
    .option('--agent-image <image>', 'image of the sidecar injected in issuer mode airlock', DEFAULT_IMAGE)
    .option('--agent-server-url <url>', 'the Airlock URL the sidecar uses (default: --server)')
    .option('--lookup-timeout <duration>', 'limit of one workload lookup on a cache miss (keep it under the configuration\'s timeoutSeconds)', '3s')
    .option('--cache-ttl <duration>', 'how long a looked-up workload is served before it is renewed in the background', '30s')
    .option('--log-level <level>', LOG_LEVEL_HELP, 'info')
    .action(async (o: { cluster: string; tlsCert: string; tlsKey: string; port: string; host: string; server?: string; agentImage: string; agentServerUrl?: string; lookupTimeout: string; cacheTtl: string; logLevel: string }) => {
      const logger = createLogger(parseLogLevel(o.logLevel));
      const serverUrl = (o.server ?? process.env.AIRLOCK_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
      const token = resolveToken({});
      if (!token) throw new CliError('no API token: set AIRLOCK_TOKEN to a token with workload.read (an organization-member token)', 'ERR_UNAUTHENTICATED', 'AIRLOCK_TOKEN', 'alk_…', 2);
      const lookupMs = seconds(o.lookupTimeout, '--lookup-timeout', '3s') * 1000;
      const freshMs = seconds(o.cacheTtl, '--cache-ttl', '30s') * 1000;
      const listenPort = port(o.port, '--port');
      const { apiWorkloadFetcher, createWorkloadCache } = await import('../../delivery/webhook/workload-cache.ts');
      const { startWebhookServer } = await import('../../delivery/webhook/server.ts');
      const settings = { agentImage: o.agentImage, serverUrl: (o.agentServerUrl ?? serverUrl).replace(/\/+$/, '') };
      const fetcher = apiWorkloadFetcher({ serverUrl, token, cluster: o.cluster, timeoutMs: lookupMs });
      // One lookup at start proves the token and the cluster: a typo fails here, not at the first pod.
      // An unreachable server is only a warning: Airlock may start after the webhook.
      try {
        await fetcher('airlock-startup-check', 'airlock-startup-check-worker-serviceaccount');
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (e.code !== 'ERR_UNREACHABLE' && e.code !== 'ERR_BAD_RESPONSE') throw new CliError(e.message ?? String(err), e.code ?? 'ERR_INTERNAL', e.code === 'ERR_NOT_FOUND' ? '--cluster' : 'AIRLOCK_TOKEN', undefined, 1);
        logger.warn('webhook: Airlock cannot be reached yet; pods of Deployments are refused until it can', { code: e.code, reason: e.message });
      }
      const source = createWorkloadCache({
        fetch: fetcher,
        settings,
        clock: systemClock,
        logger,
        freshMs,
      });
      const { createWebhookMetrics } = await import('../../metrics/webhook.ts');
      const metrics = createWebhookMetrics({ version: VERSION, lookups: () => source.stats() });
      const s = await startWebhookServer({ certFile: resolve(o.tlsCert), keyFile: resolve(o.tlsKey), host: o.host, port: listenPort, source, settings, logger, metrics });
      const stopTlsReload = reloadTlsPeriodically(() => s.reloadTls(), logger, 'webhook: ');
      logger.info('airlock webhook is serving', { url: `${s.url}/mutate`, cluster: o.cluster, server: serverUrl, agentImage: o.agentImage });
      process.stdout.write(`airlock webhook for cluster ${o.cluster} is serving on ${s.url} (POST /mutate, GET /healthz, GET /metrics)\n`);
      const stop = async () => {
        stopTlsReload();
        await s.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });

  webhook
    .command('manifest')
    .description('Print the Kubernetes manifest (MutatingWebhookConfiguration, Service, Deployment, TLS Secret, …) as multi-document YAML')
    .requiredOption('--cluster <cluster>', 'the cluster (id or name) the webhook serves')
    .option('--server <url>', 'the Airlock URL as reachable from inside the cluster (default: AIRLOCK_URL)')
    .option('--image <image>', 'the Airlock image of the webhook and of the sidecar', DEFAULT_IMAGE)
    .option('--namespace <namespace>', 'namespace of the webhook', 'airlock-system')
    .option('--name <name>', 'name of the webhook Deployment, Service and configuration', 'airlock-webhook')
    .option('--failure-policy <policy>', 'Fail or Ignore (see the comment in the output)', 'Fail')
    .option('--timeout <seconds>', "the API server's timeoutSeconds (1-30)", '5')
    .option('--replicas <n>', 'webhook replicas', '2')
    .option('--tls <mode>', 'who makes the serving certificate: generated (self-signed, in the output) or cert-manager (issued and renewed in the cluster)', 'generated')
    .option('--cert-manager-issuer <kind/name>', 'with --tls cert-manager: the Issuer or ClusterIssuer that signs it (default: a self-signed Issuer in --namespace)')
    .action(async (o: { cluster: string; server?: string; image: string; namespace: string; name: string; failurePolicy: string; timeout: string; replicas: string; tls: string; certManagerIssuer?: string }) => {
      const serverUrl = o.server ?? process.env.AIRLOCK_URL;
      if (!serverUrl) throw new CliError('--server (or AIRLOCK_URL) is needed: the URL pods and the webhook reach Airlock at', 'ERR_VALIDATION', '--server', 'https://airlock.internal.example.com', 2);
      if (o.failurePolicy !== 'Fail' && o.failurePolicy !== 'Ignore') throw new CliError('--failure-policy must be Fail or Ignore', 'ERR_VALIDATION', '--failure-policy', 'Fail', 2);
      const timeoutSeconds = Number(o.timeout);
      if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30) throw new CliError('--timeout must be a whole number of seconds from 1 to 30', 'ERR_VALIDATION', '--timeout', '5', 2);
      const replicas = Number(o.replicas);
      if (!Number.isInteger(replicas) || replicas < 1) throw new CliError('--replicas must be a positive whole number', 'ERR_VALIDATION', '--replicas', '2', 2);
      const dns = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
      for (const [flag, v] of [['--namespace', o.namespace], ['--name', o.name]] as const) {
        if (!dns.test(v)) throw new CliError(`${flag} must be a DNS label (lower-case letters, digits, '-'; at most 63)`, 'ERR_VALIDATION', flag, 'airlock-system', 2);
      }
      try {
        new URL(serverUrl);
      } catch {
        throw new CliError(`--server ${serverUrl} is not a URL`, 'ERR_VALIDATION', '--server', 'https://airlock.internal.example.com', 2);
      }
      if (o.tls !== 'generated' && o.tls !== 'cert-manager') throw new CliError('--tls must be generated or cert-manager', 'ERR_VALIDATION', '--tls', 'cert-manager', 2);
      let certManagerIssuer: { kind: 'Issuer' | 'ClusterIssuer'; name: string } | undefined;
      if (o.certManagerIssuer !== undefined) {
        if (o.tls !== 'cert-manager') throw new CliError('--cert-manager-issuer needs --tls cert-manager', 'ERR_VALIDATION', '--cert-manager-issuer', '--tls cert-manager --cert-manager-issuer ClusterIssuer/internal-ca', 2);
        const m = /^(Issuer|ClusterIssuer)\/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/.exec(o.certManagerIssuer);
        if (!m) throw new CliError('--cert-manager-issuer must be Issuer/<name> or ClusterIssuer/<name>', 'ERR_VALIDATION', '--cert-manager-issuer', 'ClusterIssuer/internal-ca', 2);
        certManagerIssuer = { kind: m[1] as 'Issuer' | 'ClusterIssuer', name: m[2]! };
      }
      const { webhookManifest } = await import('../../delivery/webhook/manifest.ts');
      const m = await webhookManifest({
        cluster: o.cluster,
        serverUrl: serverUrl.replace(/\/+$/, ''),
        image: o.image,
        namespace: o.namespace,
        name: o.name,
        failurePolicy: o.failurePolicy,
        timeoutSeconds,
        replicas,
        tls: o.tls,
        certManagerIssuer,
      });
      process.stdout.write(m.yaml);
    });
}
