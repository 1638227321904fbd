import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { createOidcVerifier, type OidcVerifier } from '../shared/oidc-verifier.ts';
import { createIamService } from './iam.ts';
import { awsEmulatorRoutes, type AwsEmulatorPlugin } from './routes.ts';
import { createQueryApiHandler, type QueryApiHandler } from './service.ts';
import { createSessionStore, type RandomBytes, type SessionStore } from './sessions.ts';
import { createAwsState, type AwsState } from './state.ts';
import { createStsService } from './sts.ts';

export { AwsError, AWS_ERRORS, type AwsErrorCode } from './errors.ts';
export type { AwsState, AwsStateJson, OidcProviderRecord, RoleRecord } from './state.ts';
export type { StsSession } from './sessions.ts';
export type { AwsEmulatorPlugin } from './routes.ts';
export type { QueryApiHandler, QueryApiResponse } from './service.ts';
export type { RawHttpRequest } from './sigv4.ts';

/** The static access key id the sandbox accepts, with any secret, for IAM administration. */
export const SANDBOX_ADMIN_ACCESS_KEY_ID = 'AKIASANDBOX';
export const DEFAULT_SANDBOX_ACCOUNT_ID = '000000000000';

export interface AwsEmulatorOptions {
  clock: Clock;
  /** 12 digits; `000000000000` by default. */
  accountId?: string;
  /**
   * Checks web-identity tokens. Default: the shared verifier with AWS's five minutes of leeway
   * past `exp`, and no JWKS caching, so a key rotation or revocation at the issuer shows on the very
   * next exchange (AWS caches keys for a while; the sandbox trades that realism for immediate
   * feedback).
   */
  verifier?: OidcVerifier;
  /** Access key ids accepted with any secret for IAM calls; default `["AKIASANDBOX"]`. */
  adminAccessKeyIds?: string[];
  /** Trust-policy size quota (non-white-space characters); AWS's default is 2048. */
  trustPolicyMaxChars?: number;
  randomBytes?: RandomBytes;
}

/** What `/_sandbox/aws/state` shows: entities and live sessions, never a secret or session token. */
export interface AwsDebugSnapshot {
  accountId: string;
  oidcProviders: { arn: string; issuer: string; clientIds: string[]; thumbprints: string[]; createDate: string }[];
  roles: { arn: string; roleName: string; roleId: string; maxSessionDuration: number; description: string | undefined; createDate: string; trustPolicy: unknown }[];
  sessions: { accessKeyId: string; arn: string; issuedBy: string; subject: string | undefined; sourceIdentity: string | undefined; expiration: string; expired: boolean }[];
}

export interface AwsEmulator {
  /** Register on any fastify instance (with or without a prefix). */
  plugin: AwsEmulatorPlugin;
  /** IAM entities; `toJSON()` / `load()` for persisting them. */
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
  const accountId = o.accountId ?? DEFAULT_SANDBOX_ACCOUNT_ID;
  if (!/^\d{12}$/.test(accountId)) throw new TypeError(`accountId must be 12 digits, got ${JSON.stringify(accountId)}`);
  const randomBytes = o.randomBytes ?? cryptoRandomBytes;
  const state = createAwsState(accountId);
  const sessions = createSessionStore({ clock: o.clock, randomBytes });
  const verifier = o.verifier ?? createOidcVerifier({ clock: o.clock, jwksCacheSeconds: 0, clockSkewSeconds: 300 });
  const iam = createIamService({ state, clock: o.clock, randomBytes, ...(o.trustPolicyMaxChars ? { trustPolicyMaxChars: o.trustPolicyMaxChars } : {}) });
  const sts = createStsService({ state, sessions, clock: o.clock, verifier });
  const handle = createQueryApiHandler({
    iam,
    sts,
    sessions,
    clock: o.clock,
    adminAccessKeyIds: new Set(o.adminAccessKeyIds ?? [SANDBOX_ADMIN_ACCESS_KEY_ID]),
  });

  function snapshot(): AwsDebugSnapshot {
    const now = o.clock.now();
    return {
      accountId,
      oidcProviders: state.providers().map((p) => ({ arn: p.arn, issuer: `${p.scheme}://${p.url}`, clientIds: p.clientIds, thumbprints: p.thumbprints, createDate: p.createDate })),
      roles: state.roles().map((r) => ({
        arn: r.arn,
        roleName: r.roleName,
        roleId: r.roleId,
        maxSessionDuration: r.maxSessionDuration,
        description: r.description,
        createDate: r.createDate,
        trustPolicy: safeParse(r.assumeRolePolicyDocument),
      })),
      sessions: sessions.list().map((s) => ({
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

  return { plugin: awsEmulatorRoutes({ handle, snapshot }), state, sessions, handle, snapshot };
}

/** The trust policy as JSON for reading; the text itself if it is somehow not JSON. */
function safeParse(doc: string): unknown {
  try {
    return JSON.parse(doc);
  } catch {
    return doc;
  }
}
