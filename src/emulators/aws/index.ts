import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { createOidcVerifier, type OidcVerifier } from '../shared/oidc-verifier.ts';
import { createIamService } from './iam.ts';
import { awsEmulatorRoutes, type AwsEmulatorPlugin } from './routes.ts';
import { createQueryApiHandler, type QueryApiHandler } from './service.ts';
import { createSessionStore, type RandomBytes, type SessionStore } from './sessions.ts';
import { createAwsState, type AwsState } from './state.ts';
import { createStsService } from './sts.ts';

export { AwsError, AWS_ERRORS, type AwsErrorCode } from './errors.ts';
export type { AwsAccountJson, AwsAccountState, AwsState, AwsStateJson, OidcProviderRecord, RoleRecord } from './state.ts';
export { accountForAccessKeyId } from './service.ts';
export type { StsSession } from './sessions.ts';
export type { AwsEmulatorPlugin } from './routes.ts';
export type { QueryApiHandler, QueryApiResponse } from './service.ts';
export type { RawHttpRequest } from './sigv4.ts';

/**
 * The static access key id the sandbox documents for IAM administration of the default account
 * (any secret). Any other static key id works too: a 12-digit one selects that account.
 */
export const SANDBOX_ADMIN_ACCESS_KEY_ID = 'AKIASANDBOX';
export const DEFAULT_SANDBOX_ACCOUNT_ID = '000000000000';

export interface AwsEmulatorOptions {
  clock: Clock;
  /** The account of static access key ids that are not 12 digits; `000000000000` by default. */
  defaultAccountId?: string;
  /**
   * Checks web-identity tokens. Default: the shared verifier with AWS's five minutes of leeway
   * past `exp`, and no JWKS caching, so a key rotation or revocation at the issuer shows on the very
   * next exchange (AWS caches keys for a while; the sandbox trades that realism for immediate
   * feedback).
   */
  verifier?: OidcVerifier;
  /** Where unexpected failures (answered as `InternalFailure`) are logged; without it, the request's fastify logger. */
  logger?: Logger;
  /** Trust-policy size quota (non-white-space characters); AWS's default is 2048. */
  trustPolicyMaxChars?: number;
  randomBytes?: RandomBytes;
}

/** What `/_sandbox/aws/state` shows: entities and live sessions, never a secret or session token. */
export interface AwsDebugSnapshot {
  defaultAccountId: string;
  accounts: {
    accountId: string;
    oidcProviders: { arn: string; issuer: string; clientIds: string[]; thumbprints: string[]; createDate: string }[];
    roles: { arn: string; roleName: string; roleId: string; maxSessionDuration: number; description: string | undefined; createDate: string; trustPolicy: unknown }[];
  }[];
  sessions: { accountId: string; accessKeyId: string; arn: string; issuedBy: string; subject: string | undefined; sourceIdentity: string | undefined; expiration: string; expired: boolean }[];
}

export interface AwsEmulator {
  /** Register on any fastify instance (with or without a prefix). */
  plugin: AwsEmulatorPlugin;
  /** IAM entities of every account; `toJSON()` / `load()` for persisting them. */
  state: AwsState;
  /** Credentials issued so far (memory only). */
  sessions: SessionStore;
  /** The framework-free request handler behind `POST /`. */
  handle: QueryApiHandler;
  snapshot(): AwsDebugSnapshot;
}

/**
 * An emulator of the AWS token paths a workload uses: IAM OIDC providers and roles (query API),
 * STS `AssumeRoleWithWebIdentity`, `AssumeRole` and `GetCallerIdentity`, with AWS's wire formats,
 * error codes and trust-policy semantics. See docs/sandbox-aws.md for what it does not do.
 */
export function createAwsEmulator(o: AwsEmulatorOptions): AwsEmulator {
  const defaultAccountId = o.defaultAccountId ?? DEFAULT_SANDBOX_ACCOUNT_ID;
  const randomBytes = o.randomBytes ?? cryptoRandomBytes;
  const state = createAwsState(defaultAccountId);
  const sessions = createSessionStore({ clock: o.clock, randomBytes });
  const verifier = o.verifier ?? createOidcVerifier({ clock: o.clock, jwksCacheSeconds: 0, clockSkewSeconds: 300 });
  const iam = createIamService({ state, clock: o.clock, randomBytes, ...(o.trustPolicyMaxChars ? { trustPolicyMaxChars: o.trustPolicyMaxChars } : {}) });
  const sts = createStsService({ state, sessions, clock: o.clock, verifier });
  const handle = createQueryApiHandler({
    iam,
    sts,
    sessions,
    clock: o.clock,
    defaultAccountId,
  });

  function snapshot(): AwsDebugSnapshot {
    const now = o.clock.now();
    return {
      defaultAccountId,
      accounts: state.accountIds().map((accountId) => {
        const a = state.account(accountId);
        return {
          accountId,
          oidcProviders: a.providers().map((p) => ({ arn: p.arn, issuer: `${p.scheme}://${p.url}`, clientIds: p.clientIds, thumbprints: p.thumbprints, createDate: p.createDate })),
          roles: a.roles().map((r) => ({
            arn: r.arn,
            roleName: r.roleName,
            roleId: r.roleId,
            maxSessionDuration: r.maxSessionDuration,
            description: r.description,
            createDate: r.createDate,
            trustPolicy: safeParse(r.assumeRolePolicyDocument),
          })),
        };
      }),
      sessions: sessions.list().map((s) => ({
        accountId: s.accountId,
        accessKeyId: s.accessKeyId,
        arn: s.assumedRoleArn,
        issuedBy: s.issuedBy,
        subject: s.webIdentitySubject,
        sourceIdentity: s.sourceIdentity,
        expiration: new Date(s.expiresAt).toISOString(),
        expired: now >= s.expiresAt,
      })),
    };
  }

  return { plugin: awsEmulatorRoutes({ handle, snapshot, logger: o.logger }), state, sessions, handle, snapshot };
}

/** The trust policy as JSON for reading; the text itself if it is somehow not JSON. */
function safeParse(doc: string): unknown {
  try {
    return JSON.parse(doc);
  } catch {
    return doc;
  }
}
