/**
 * `airlock agent`: the long-running form of a delivery session. It keeps the token files of one
 * workload fresh in a directory other processes read (a Kubernetes sidecar's shared volume, a VM's
 * /var/run/secrets/airlock), and says what they need:
 *
 *   <dir>/env     `export NAME='value'` lines (source it, or read it as the webhook's containers do)
 *   <dir>/ready   written once every token file holds a token (a startup probe waits for it)
 *
 * Optionally it answers on a unix socket (`--socket`), for processes that would rather ask than
 * read files; the socket gets the token files' readers and nobody else.
 *
 * `--once` writes everything a single time and exits (cron, CI, `eval "$(airlock agent --once --print-env)"`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeliveryError } from '../errors.ts';
import { writeFileAtomically, writePrivateFile } from './files.ts';
import type { HeldToken } from './keeper.ts';
import { openSession, type Session, type SessionOptions } from './session.ts';

export const ENV_FILE = 'env';
export const READY_FILE = 'ready';

export interface AgentOptions extends SessionOptions {
  /** Mint and write once, then return. */
  once?: boolean;
  /** Called with the env file's content once it is written (`--print-env`). */
  printEnv?: (content: string) => void;
  /** Serve tokens on this unix socket too. */
  socketPath?: string | undefined;
  /** Stops the agent (SIGTERM / SIGINT in the CLI). */
  signal: AbortSignal;
  /** How often the Deployment's environment (variables, connections) is checked for changes; default 30 s. */
  environmentRefreshMs?: number;
  /** Also keep this file of Prometheus metrics (node_exporter's textfile collector), rewritten every 15 s. */
  metricsFile?: string | undefined;
}

export const METRICS_FILE_EVERY_MS = 15_000;

export const ENVIRONMENT_REFRESH_MS = 30_000;

/** A value quoted for POSIX shells: single quotes, with each embedded quote closed, escaped and reopened. */
export function shellQuote(v: string): string {
  return `'${v.replaceAll("'", `'\\''`)}'`;
}

/** The env file: one `export` line per variable, sorted, so a diff between two versions is readable. */
export function envFileContent(env: Record<string, string>): string {
  return Object.keys(env)
    .sort()
    .map((k) => `export ${k}=${shellQuote(env[k] as string)}\n`)
    .join('');
}

/**
 * A socket is connected to with write permission: give it read+write for exactly the classes that
 * may read the token files (0600 → 0600, 0640 → 0660, 0644 → 0666).
 */
export function socketModeFor(fileMode: number): number {
  let m = 0o600;
  if (fileMode & 0o040) m |= 0o060;
  if (fileMode & 0o004) m |= 0o006;
  return m;
}

export interface RunningAgent {
  session: Session;
  /** Resolves when the agent has stopped (signal aborted) and released everything. */
  done: Promise<void>;
}

/**
 * Starts the agent. Resolves once the files are written (and, unless `once`, keeps them fresh until
 * `signal` aborts). A workload whose tokens cannot be had yet is retried with backoff rather than
 * given up on, except with `once`, which fails on the first refusal.
 */
export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const session = await openSession(o);
  const { keeper, plan, profile } = session;
  const fileMode = o.fileMode ?? 0o600;
  const envContent = envFileContent(session.env());
  let server: Server | undefined;
  const stopped = new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    o.signal.addEventListener('abort', () => resolve(), { once: true });
  });

  // Counts and times only (no token): readable by the node_exporter user, written whole each time.
  const writeMetrics = async () => {
    if (o.metricsFile === undefined) return;
    try {
      const { agentMetricsText } = await import('../../metrics/agent.ts');
      const stats = keeper.stats();
      const text = await agentMetricsText({
        deployment: profile.deployment.name,
        component: profile.component,
        now: o.clock.now(),
        tokens: heldPerFile(session).map(({ file, held }) => ({ audience: file.audience, issuedAt: held?.issuedAt, expiresAt: held?.expiresAt })),
        exchanges: stats.mints,
        failures: stats.failures,
      });
      await writeFileAtomically(o.metricsFile, text, 0o644);
    } catch (err) {
      o.logger.warn('could not write the metrics file', { file: o.metricsFile, reason: (err as Error).message });
    }
  };

  // Written from the start, tokens or not: an agent that cannot get its first token shows its
  // failures (and its heartbeat) instead of no file at all.
  let cancelMetrics: (() => void) | undefined;
  const metricsTick = async () => {
    await writeMetrics();
    if (!o.signal.aborted) cancelMetrics = o.scheduler.schedule(METRICS_FILE_EVERY_MS, metricsTick);
  };
  if (o.metricsFile !== undefined && !o.once) await metricsTick();

  try {
    if (o.once) await keeper.start();
    else await Promise.race([keeper.startPatiently(), stopped]);
    await writePrivateFile(join(o.dir, ENV_FILE), envContent, fileMode);
    if (!o.signal.aborted) {
      const ready = { deployment: profile.deployment.name, component: profile.component, audiences: plan.tokens.map((t) => t.audience), at: new Date(o.clock.now()).toISOString() };
      await writePrivateFile(join(o.dir, READY_FILE), JSON.stringify(ready) + '\n', fileMode);
    }
    o.printEnv?.(envContent);
    await writeMetrics();
    if (!o.once && o.socketPath !== undefined && !o.signal.aborted) server = await listenOnSocket(o.socketPath, socketModeFor(fileMode), session, o);
  } catch (err) {
    cancelMetrics?.();
    session.stop();
    throw err;
  }
  o.logger.info(o.once ? 'token files written' : 'agent running', {
    deployment: profile.deployment.name,
    component: profile.component,
    dir: o.dir,
    audiences: plan.tokens.map((t) => t.audience),
    ...(server ? { socket: o.socketPath } : {}),
  });

  if (o.once) {
    session.stop();
    return { session, done: Promise.resolve() };
  }
  // The Deployment's variables and connections change without the workload's identity changing:
  // check them on a timer, and rewrite the env file (the connections file is rewritten by the
  // session) when they did. A failed check keeps what was delivered and tries again next time.
  let cancelRefresh: (() => void) | undefined;
  const every = o.environmentRefreshMs ?? ENVIRONMENT_REFRESH_MS;
  const refresh = async () => {
    try {
      if (await session.refreshEnvironment()) {
        await writePrivateFile(join(o.dir, ENV_FILE), envFileContent(session.env()), fileMode);
        o.logger.info('Deployment environment changed; files rewritten', { deployment: profile.deployment.name, digest: session.environment?.doc.digest });
      }
    } catch (err) {
      o.logger.warn('could not check the Deployment environment; keeping the delivered one', { reason: (err as Error).message });
    }
    if (!o.signal.aborted) cancelRefresh = o.scheduler.schedule(every, refresh);
  };
  cancelRefresh = o.scheduler.schedule(every, refresh);
  const done = stopped.then(async () => {
    cancelRefresh?.();
    cancelMetrics?.();
    session.stop();
    if (server) {
      await new Promise<void>((r) => server!.close(() => r()));
      await rm(o.socketPath!, { force: true });
    }
    o.logger.info('agent stopped', { deployment: profile.deployment.name, component: profile.component });
  });
  return { session, done };
}

/** Each token file the plan names, with the token held for its audience (if any yet). */
function heldPerFile(session: Session): { file: Session['plan']['tokens'][number]; held: HeldToken | undefined }[] {
  const held = session.keeper.held();
  return session.plan.tokens.map((file) => ({ file, held: held.find((t) => t.audience === file.audience) }));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function tokenBody(t: HeldToken): Record<string, unknown> {
  return { access_token: t.token, audience: t.audience, expires_at: new Date(t.expiresAt).toISOString() };
}

/**
 * The socket's API, all GET:
 *   /v1/token?audience=A   {access_token, audience, expires_at}: a token not about to expire (minted once for every caller waiting)
 *   /v1/env                the variables a process should set, as JSON
 *   /healthz               200 when every token is held and unexpired, 503 otherwise; never a token
 */
async function handle(req: IncomingMessage, res: ServerResponse, session: Session, now: () => number): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  if (req.method !== 'GET') return send(res, 405, { error: { code: 'ERR_METHOD_NOT_ALLOWED', message: 'the agent socket answers GET only' } });
  if (url.pathname === '/healthz') {
    const tokens = heldPerFile(session).map(({ file, held: h }) => ({ audience: file.audience, path: file.path, expiresAt: h ? new Date(h.expiresAt).toISOString() : null, fresh: h !== undefined && h.expiresAt > now() }));
    return send(res, tokens.every((t) => t.fresh) ? 200 : 503, { ok: tokens.every((t) => t.fresh), tokens, stats: session.keeper.stats() });
  }
  if (url.pathname === '/v1/env') return send(res, 200, session.env());
  if (url.pathname === '/v1/token') {
    const audience = url.searchParams.get('audience') ?? session.plan.tokens[0]?.audience;
    if (!audience) return send(res, 400, { error: { code: 'ERR_VALIDATION', message: 'audience is required', field: 'audience' } });
    try {
      return send(res, 200, tokenBody(await session.keeper.token(audience)));
    } catch (err) {
      const e = err as DeliveryError;
      const client = e.code === 'ERR_VALIDATION';
      return send(res, client ? 400 : 503, { error: { code: e.code ?? 'ERR_INTERNAL', message: e.message, ...(e.field ? { field: e.field, example: e.example } : {}) } });
    }
  }
  return send(res, 404, { error: { code: 'ERR_NOT_FOUND', message: `no route ${url.pathname}; the agent answers /v1/token?audience=, /v1/env and /healthz` } });
}

async function listenOnSocket(path: string, mode: number, session: Session, o: AgentOptions): Promise<Server> {
  // A socket left by an agent that was killed would make listen fail with EADDRINUSE.
  await rm(path, { force: true });
  const server = createServer((req, res) => {
    handle(req, res, session, () => o.clock.now()).catch((err: unknown) => {
      o.logger.error('agent socket request failed', { path: req.url?.split('?')[0], reason: (err as Error).message });
      if (!res.headersSent) send(res, 500, { error: { code: 'ERR_INTERNAL', message: 'the agent failed; see its log' } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new DeliveryError('ERR_VALIDATION', `cannot listen on ${path} (${err.code ?? err.message})`, { field: '--socket', example: '/var/run/secrets/airlock/agent.sock', cause: err })),
    );
    // Many processes may ask at once (the fan-in benchmark sends 1,000): a deep accept queue turns
    // a burst into a wait instead of EAGAIN. The kernel caps it at net.core.somaxconn.
    server.listen({ path, backlog: 4096 }, () => resolve());
  });
  await chmod(path, mode);
  return server;
}
