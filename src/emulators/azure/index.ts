import type { FastifyPluginCallback } from 'fastify';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { createOidcVerifier, type OidcVerifier } from '../shared/oidc-verifier.ts';
import { createAccessTokenService } from './access-tokens.ts';
import { azureRoutes } from './routes.ts';
import { createAzureState, type AzureState } from './state.ts';
import { createTokenExchange } from './token-exchange.ts';

/**
 * The Azure side of `airlock sandbox`: a local stand-in for Microsoft Entra ID's token endpoint
 * (workload identity federation into user-assigned managed identities) and for the ARM calls that
 * configure it. See docs/sandbox-azure.md.
 */

export interface AzureEmulatorOptions {
  clock: Clock;
  /** How federated assertions are checked; default a verifier on `clock` that fetches issuers' JWKS. */
  verifier?: OidcVerifier;
  logger?: Logger;
  /** Source of generated client and principal ids (tests pass a counter). */
  randomUUID?: () => string;
  /** Lifetime of issued access tokens in seconds; default 3599, as Entra's `expires_in` reads. */
  accessTokenLifetimeSeconds?: number;
}

export interface AzureEmulator {
  /**
   * Mount on an HTTPS fastify server (see {@link createSandboxCertificate}); MSAL refuses plain
   * http authorities. Register it directly, not through fastify-plugin, so its form parser and
   * error handler stay encapsulated.
   */
  plugin: FastifyPluginCallback;
  /** The in-memory configuration; `state.load(json)` takes a config file's content. */
  state: AzureState;
}

/** Builds the emulator. Nothing listens until the plugin is registered on a server. */
export function createAzureEmulator(o: AzureEmulatorOptions): AzureEmulator {
  const state = createAzureState(o.randomUUID ? { randomUUID: o.randomUUID } : {});
  const verifier = o.verifier ?? createOidcVerifier({ clock: o.clock });
  const tokens = createAccessTokenService({ clock: o.clock, ...(o.accessTokenLifetimeSeconds ? { lifetimeSeconds: o.accessTokenLifetimeSeconds } : {}) });
  const exchange = createTokenExchange({ state, verifier, tokens, clock: o.clock });
  return { plugin: azureRoutes({ state, exchange, tokens, clock: o.clock, logger: o.logger }), state };
}

export { createSandboxCertificate, type SandboxCertificate, type SandboxCertificateOptions } from './certificate.ts';
export type { AzureState, PutResult } from './state.ts';
export {
  DEFAULT_FIC_AUDIENCE,
  MAX_FICS_PER_IDENTITY,
  sandboxConfigSchema,
  type AzureSandboxConfig,
  type AzureSandboxConfigInput,
  type FederatedCredential,
  type IdentityRef,
  type ManagedIdentity,
  type Tenant,
} from './model.ts';
export { AzureAdminError, type AdminErrorCode } from './errors.ts';
export { EntraError } from './aadsts.ts';
