/**
 * The GCP side of `airlock sandbox`: a local stand-in for the Google endpoints a workload uses to
 * turn an Airlock-issued OIDC token into Google credentials — STS token exchange, IAM
 * Credentials generateAccessToken, tokeninfo and the project lookup client libraries make — with
 * workload identity pools, providers, service accounts and allow policies configured from a JSON
 * document (a file, or the admin API under `/_sandbox/gcp/`).
 *
 * ```ts
 * const gcp = createGcpEmulator({ clock, config: JSON.parse(readFileSync('gcp.json', 'utf8')) });
 * gcp.state.onChange((c) => writeFileSync('gcp.json', JSON.stringify(c, null, 2)));
 * await server.register(gcp.plugin);
 * ```
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginCallback } from 'fastify';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { createOidcVerifier, type OidcVerifier } from '../shared/oidc-verifier.ts';
import type { RandomBytes } from './config.ts';
import { gcpRoutes } from './routes.ts';
import { createGcpState, type GcpState } from './state.ts';
import { createTokenStore } from './tokens.ts';

export type { GcpConfig, GcpConfigInput, PolicyConfig, PoolConfig, ProjectConfig, ProviderConfig, ServiceAccountConfig } from './config.ts';
export { gcpConfigSchema } from './config.ts';
export type { GcpState, PolicyResource } from './state.ts';
export type { WhoAmI } from './identity.ts';

/** Options for {@link createGcpEmulator}. */
export interface GcpEmulatorOptions {
  /** The source of "now" for token lifetimes and checks. */
  clock: Clock;
  /** Verifies subject tokens; default: the shared OIDC verifier on `clock`. */
  verifier?: OidcVerifier;
  /** Initial configuration (the parsed config file); default: empty. Invalid → ERR_CONFIG_INVALID. */
  config?: unknown;
  /** Source of randomness for tokens, project numbers and unique IDs; default crypto.randomBytes. */
  random?: RandomBytes;
  /** Where unexpected failures (answered as 500) are logged; without it, the host's fastify logger. */
  logger?: Logger;
}

/** The emulator: a fastify plugin and the in-memory state it serves. */
export interface GcpEmulator {
  /** Registers the GCP routes on any fastify instance, encapsulated (its parsers stay inside). */
  plugin: FastifyPluginCallback;
  /** Projects, pools, providers, service accounts and policies; `toJSON()` / `load()` for files. */
  state: GcpState;
}

/** Builds the GCP emulator. Issued access tokens live in memory only and die with it. */
export function createGcpEmulator(o: GcpEmulatorOptions): GcpEmulator {
  const random = o.random ?? randomBytes;
  const state = createGcpState({ random, initial: o.config });
  const tokens = createTokenStore({ clock: o.clock, random });
  const verifier = o.verifier ?? createOidcVerifier({ clock: o.clock });
  return { plugin: gcpRoutes({ state, tokens, verifier, clock: o.clock, logger: o.logger }), state };
}
