/**
 * Keeps one token file per audience fresh: the refresher shared by `airlock exec` and `airlock agent`.
 *
 * - A token is refreshed at a random point between 50 % and 80 % of its lifetime, so a fleet that
 *   started together does not come back to the server together.
 * - A failed refresh is retried with capped exponential backoff (with jitter) until one succeeds;
 *   the file keeps the last good token meanwhile, which stays usable until it expires.
 * - Every caller asking for the same audience while a refresh is in flight shares that refresh
 *   (single flight), so N concurrent readers cost one mint.
 * - Files are written atomically (see files.ts); a reader never sees a partial token.
 *
 * Time comes from an injected clock and scheduler, so tests move through refresh windows without sleeping.
 */
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Cancel, Scheduler } from '../../lib/scheduler.ts';
import type { WorkloadClient } from '../client.ts';
import type { TokenFile } from '../environment.ts';
import { DeliveryError } from '../errors.ts';
import { PRIVATE_FILE_MODE, writePrivateFile } from './files.ts';

/** Refresh when this fraction of the lifetime has passed: uniformly in [MIN, MAX). */
export const REFRESH_AT_MIN = 0.5;
export const REFRESH_AT_MAX = 0.8;
/** First retry after a failure, and the cap of the doubling. */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;

export interface HeldToken {
  token: string;
  audience: string;
  /** Epoch ms. */
  issuedAt: number;
  expiresAt: number;
}

export interface KeeperOptions {
  client: WorkloadClient;
  tokenEndpoint: string;
  tokens: readonly TokenFile[];
  clock: Clock;
  scheduler: Scheduler;
  logger: Logger;
  /** [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
  /** Mode of the token files (0600 unless they are shared with another user's containers). */
  fileMode?: number;
  /** Called after every successful write (the agent's `ready` marker, metrics, tests). */
  onWrite?: (t: HeldToken, file: TokenFile) => void | Promise<void>;
}

export interface KeeperStats {
  /** Exchanges attempted, per audience. */
  mints: Record<string, number>;
  failures: Record<string, number>;
}

export interface TokenKeeper {
  /**
   * Mints and writes every token once; rejects with the first failure, but only once every
   * audience's first exchange has settled, so no write lands after the caller cleans up.
   */
  start(): Promise<void>;
  /**
   * Like start, but never rejects: a failing audience is retried with backoff until it works;
   * resolves when every file has been written once, or when stopped.
   */
  startPatiently(): Promise<void>;
  /** A token for `audience` that is not about to expire, minting (once, shared) when needed. */
  token(audience: string): Promise<HeldToken>;
  /** The tokens currently held (for health reports). */
  held(): HeldToken[];
  stats(): KeeperStats;
  /** Cancels every scheduled refresh; in-flight ones finish but write and schedule nothing. */
  stop(): void;
  /** Resolves once no refresh is in flight (after `stop`, nothing starts again). */
  settled(): Promise<void>;
}

interface Slot {
  file: TokenFile;
  current?: HeldToken;
  inflight?: Promise<HeldToken>;
  timer?: Cancel;
  /** Consecutive failures. */
  failures: number;
  /** Resolved by the first successful write (for startPatiently). */
  firstWrite: { promise: Promise<void>; resolve: () => void };
}

/** A token is no longer handed out this close to its expiry: at most 60 s, or a tenth of its lifetime. */
function staleMarginMs(t: HeldToken): number {
  return Math.min(60_000, (t.expiresAt - t.issuedAt) / 10);
}

/** Expiry from the JWT itself when readable; the server's expires_in otherwise (whichever is earlier). */
function expiryOf(token: string, now: number, expiresIn: number): number {
  const byServer = now + expiresIn * 1000;
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    if (typeof payload.exp === 'number') return Math.min(byServer, payload.exp * 1000);
  } catch {
    /* not a readable JWT: trust expires_in */
  }
  return byServer;
}

export function createTokenKeeper(o: KeeperOptions): TokenKeeper {
  const random = o.random ?? Math.random;
  const fileMode = o.fileMode ?? PRIVATE_FILE_MODE;
  const slots = new Map<string, Slot>();
  const mints: Record<string, number> = {};
  const failures: Record<string, number> = {};
  let stopped = false;

  for (const file of o.tokens) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    slots.set(file.audience, { file, failures: 0, firstWrite: { promise, resolve } });
    mints[file.audience] = 0;
    failures[file.audience] = 0;
  }

  const slotOf = (audience: string): Slot => {
    const s = slots.get(audience);
    if (!s) {
      throw new DeliveryError('ERR_VALIDATION', `audience ${JSON.stringify(audience)} is not one this workload keeps a token for`, {
        field: 'audience',
        example: [...slots.keys()][0] ?? 'sts.amazonaws.com',
      });
    }
    return s;
  };

  const schedule = (s: Slot, delayMs: number) => {
    s.timer?.();
    if (stopped) return;
    s.timer = o.scheduler.schedule(delayMs, () => {
      s.timer = undefined;
      // Scheduled refreshes report failures through the log and their retry; nobody awaits them.
      return refresh(s).then(
        () => undefined,
        () => undefined,
      );
    });
  };

  const retryDelay = (s: Slot): number => {
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(s.failures - 1, 30));
    // "Equal jitter": at least half the ceiling, so retries neither stampede nor come back at once.
    return ceiling / 2 + random() * (ceiling / 2);
  };

  const refresh = (s: Slot): Promise<HeldToken> => {
    if (s.inflight) return s.inflight;
    const audience = s.file.audience;
    const run = async (): Promise<HeldToken> => {
      mints[audience] = (mints[audience] ?? 0) + 1;
      const started = o.clock.now();
      const r = await o.client.exchange(o.tokenEndpoint, [audience]);
      const held: HeldToken = { token: r.access_token, audience, issuedAt: started, expiresAt: expiryOf(r.access_token, started, r.expires_in) };
      // Stopped meanwhile: the files' directory may be on its way out; a write would bring it back.
      if (stopped) throw new DeliveryError('ERR_STOPPED', `stopped before the ${audience} token was written`);
      await writePrivateFile(s.file.path, r.access_token + '\n', fileMode);
      return held;
    };
    const p = run().then(
      async (held) => {
        s.current = held;
        s.failures = 0;
        const lifetime = held.expiresAt - held.issuedAt;
        schedule(s, held.issuedAt + lifetime * (REFRESH_AT_MIN + random() * (REFRESH_AT_MAX - REFRESH_AT_MIN)) - o.clock.now());
        s.firstWrite.resolve();
        await o.onWrite?.(held, s.file);
        o.logger.debug('token refreshed', { audience, path: s.file.path, expiresAt: new Date(held.expiresAt).toISOString() });
        return held;
      },
      (err: unknown) => {
        // Stopping: nothing to retry or report.
        if (stopped) throw err;
        s.failures++;
        failures[audience] = (failures[audience] ?? 0) + 1;
        const delay = retryDelay(s);
        schedule(s, delay);
        const expired = !s.current || s.current.expiresAt <= o.clock.now();
        const e = err as { code?: string; message?: string };
        o.logger[expired ? 'error' : 'warn']('token refresh failed', {
          audience,
          code: e.code ?? 'ERR_INTERNAL',
          reason: e.message ?? String(err),
          attempt: s.failures,
          retryInMs: Math.round(delay),
          currentTokenExpiresAt: s.current ? new Date(s.current.expiresAt).toISOString() : null,
        });
        throw err;
      },
    );
    s.inflight = p.finally(() => {
      s.inflight = undefined;
    });
    return s.inflight;
  };

  return {
    async start() {
      const results = await Promise.allSettled([...slots.values()].map((s) => refresh(s)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    async startPatiently() {
      for (const s of slots.values()) refresh(s).catch(() => undefined);
      // stop() resolves every slot's first write too, so this cannot hang past a stop.
      await Promise.all([...slots.values()].map((s) => s.firstWrite.promise));
    },
    async token(audience) {
      const s = slotOf(audience);
      const c = s.current;
      if (c && o.clock.now() < c.expiresAt - staleMarginMs(c)) return c;
      return refresh(s);
    },
    held: () => [...slots.values()].flatMap((s) => (s.current ? [s.current] : [])),
    stats: () => ({ mints: { ...mints }, failures: { ...failures } }),
    async settled() {
      await Promise.allSettled([...slots.values()].flatMap((s) => (s.inflight ? [s.inflight] : [])));
    },
    stop() {
      stopped = true;
      for (const s of slots.values()) {
        s.timer?.();
        s.timer = undefined;
        s.firstWrite.resolve();
      }
    },
  };
}
