import { evaluateTrustPolicy, parseTrustPolicy, type TrustRequest } from '../../aws-policy/trust-policy.ts';
import type { Clock } from '../../lib/clock.ts';
import { TokenCheckError, type OidcVerifier, type VerifiedToken } from '../shared/oidc-verifier.ts';
import { AwsError } from './errors.ts';
import { awsTimestamp } from './iam.ts';
import { checkString, intParam, type QueryParams } from './query.ts';
import type { SessionStore, StsSession } from './sessions.ts';
import type { AwsState, OidcProviderRecord, RoleRecord } from './state.ts';
import type { XmlElements } from './xml.ts';

/**
 * STS: exchanging a web-identity token for role credentials, chaining into further roles, and
 * telling a caller who it is. Every decision follows AWS's documented order and error codes, so a
 * workload that works here fails or succeeds the same way against AWS.
 */

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

export const STS_ACTIONS = ['AssumeRoleWithWebIdentity', 'AssumeRole', 'GetCallerIdentity'] as const;
export type StsAction = (typeof STS_ACTIONS)[number];

export function isStsAction(action: string): action is StsAction {
  return (STS_ACTIONS as readonly string[]).includes(action);
}

/** Algorithms the emulator accepts on web-identity tokens (what Airlock and Kubernetes issue). */
export const WEB_IDENTITY_ALGORITHMS = ['RS256', 'ES256'];

/**
 * Who signed a request: a session the emulator issued, or a static access key, which stands for
 * the root user of the account it names (a 12-digit key id is that account; `AKIASANDBOX` and any
 * other key id, the default account).
 */
export type Caller = { kind: 'session'; session: StsSession } | { kind: 'root'; accountId: string; accessKeyId: string };

/** The account a caller acts in. */
export function callerAccount(caller: Caller): string {
  return caller.kind === 'root' ? caller.accountId : caller.session.accountId;
}

export interface StsServiceOptions {
  state: AwsState;
  sessions: SessionStore;
  clock: Clock;
  verifier: OidcVerifier;
}

export interface StsService {
  assumeRoleWithWebIdentity(p: QueryParams): Promise<XmlElements>;
  assumeRole(caller: Caller, p: QueryParams): XmlElements;
  getCallerIdentity(caller: Caller): XmlElements;
}

const SESSION_NAME = { min: 2, max: 64, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' };
const SOURCE_IDENTITY = { min: 2, max: 64, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' };
const EXTERNAL_ID = { min: 2, max: 1224, pattern: /^[\w+=,.@:/-]*$/, patternText: '[\\w+=,.@:\\/-]*' };
/** A session that itself came from a role may only chain into a role for up to one hour. */
const CHAINED_MAX_SECONDS = 3600;
/** The claim AWS reads a web identity's source identity from. */
const SOURCE_IDENTITY_CLAIM = 'https://aws.amazon.com/source_identity';
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role(\/(?:[\u0021-\u007E]*\/)?)([\w+=,.@-]{1,64})$/;

/**
 * The condition keys AWS sets for an OIDC federated request (IAM User Guide, "Available keys for
 * AWS OIDC federation"): `<provider-url>:sub`, `<provider-url>:aud` (the `azp` claim when the
 * token has one, else `aud`), `<provider-url>:oaud` (the `aud` claim, when `azp` took `:aud`'s
 * place), and `aws:FederatedProvider` (the provider ARN).
 */
export function webIdentityContext(provider: OidcProviderRecord, claims: VerifiedToken['claims']): Record<string, string | string[]> {
  const ctx: Record<string, string | string[]> = {};
  const aud = audienceList(claims.aud);
  const azp = typeof claims.azp === 'string' ? claims.azp : undefined;
  if (typeof claims.sub === 'string') ctx[`${provider.url}:sub`] = claims.sub;
  if (azp !== undefined) {
    ctx[`${provider.url}:aud`] = azp;
    if (aud.length) ctx[`${provider.url}:oaud`] = aud.length === 1 ? aud[0]! : aud;
  } else if (aud.length) {
    ctx[`${provider.url}:aud`] = aud.length === 1 ? aud[0]! : aud;
  }
  ctx['aws:FederatedProvider'] = provider.arn;
  return ctx;
}

function audienceList(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

/** The identity fields every assumed-role session has, whichever STS action issued it. */
function assumedRoleFields(account: string, role: RoleRecord, sessionName: string) {
  return {
    accountId: account,
    roleArn: role.arn,
    roleName: role.roleName,
    roleId: role.roleId,
    sessionName,
    assumedRoleArn: `arn:aws:sts::${account}:assumed-role/${role.roleName}/${sessionName}`,
    assumedRoleId: `${role.roleId}:${sessionName}`,
  };
}

/** Keys every STS request carries (`aws:CurrentTime`, `aws:EpochTime`). */
function timeContext(nowMs: number): Record<string, string> {
  return { 'aws:CurrentTime': awsTimestamp(nowMs), 'aws:EpochTime': String(Math.floor(nowMs / 1000)) };
}

export function createStsService(o: StsServiceOptions): StsService {
  const { state, sessions } = o;

  /** The account a role ARN names; a malformed ARN is a ValidationError, as on AWS. */
  function roleAccount(roleArn: string): string {
    checkString('RoleArn', roleArn, { min: 20, max: 2048 });
    const m = ROLE_ARN.exec(roleArn);
    if (!m) throw new AwsError('ValidationError', `${roleArn} is invalid`);
    return m[1]!;
  }

  /**
   * Looks a role up by the ARN the caller sent, in the account the ARN names. One that names no
   * role is reported as the caller's own lack of permission, as AWS does, so role names cannot be
   * probed (in any account).
   */
  function roleFor(roleArn: string, denied: () => AwsError): { account: string; role: RoleRecord } {
    const account = roleAccount(roleArn);
    const role = state.account(account).roleByArn(roleArn);
    if (!role) throw denied();
    return { account, role };
  }

  function duration(p: QueryParams, role: RoleRecord, cap?: number): number {
    const requested = intParam(p, 'DurationSeconds', 900, 43200);
    if (requested === undefined) return Math.min(3600, role.maxSessionDuration, cap ?? Infinity);
    if (cap !== undefined && requested > cap) {
      throw new AwsError('ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
    }
    if (requested > role.maxSessionDuration) {
      throw new AwsError('ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    }
    return requested;
  }

  function trusts(role: RoleRecord, req: TrustRequest): boolean {
    // Stored documents were validated on the way in; parsing again keeps the stored form the
    // single source (a state file edited by hand is re-checked here too).
    return evaluateTrustPolicy(parseTrustPolicy(role.assumeRolePolicyDocument), req).decision === 'allow';
  }

  function credentialsXml(s: StsSession): XmlElements {
    return {
      AccessKeyId: s.accessKeyId,
      SecretAccessKey: s.secretAccessKey,
      SessionToken: s.sessionToken,
      Expiration: awsTimestamp(s.expiresAt),
    };
  }

  /** Maps the verifier's reasons onto the codes AWS STS answers with. */
  function tokenError(err: TokenCheckError, claims: { exp?: unknown }): AwsError {
    const hint = ` (sandbox: ${err.message})`;
    switch (err.reason) {
      case 'expired': {
        const now = Math.floor(o.clock.now() / 1000);
        return new AwsError('ExpiredTokenException', `Token expired: current date/time ${now} must be before the expiration date/time${typeof claims.exp === 'number' ? claims.exp : ''}`, { cause: err });
      }
      case 'issuer-unreachable':
        return new AwsError('IDPCommunicationError', `Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements${hint}`, {
          cause: err,
        });
      case 'unknown-key':
        return new AwsError('InvalidIdentityToken', `Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements${hint}`, {
          cause: err,
        });
      case 'bad-signature':
        return new AwsError('InvalidIdentityToken', `The web identity token signature could not be verified${hint}`, { cause: err });
      case 'bad-algorithm':
        return new AwsError('InvalidIdentityToken', `The web identity token's signing algorithm is not supported${hint}`, { cause: err });
      case 'not-yet-valid':
        return new AwsError('InvalidIdentityToken', `The web identity token is not valid yet${hint}`, { cause: err });
      case 'malformed':
        return new AwsError('InvalidIdentityToken', `The web identity token could not be validated${hint}`, { cause: err });
    }
  }

  return {
    async assumeRoleWithWebIdentity(p) {
      // Parameter validation first, as AWS does, so a malformed request never reaches the IdP.
      const roleArn = p.require('RoleArn');
      const sessionName = checkString('RoleSessionName', p.require('RoleSessionName'), SESSION_NAME);
      const token = checkString('WebIdentityToken', p.require('WebIdentityToken'), { min: 4, max: 20000 });
      intParam(p, 'DurationSeconds', 900, 43200);
      // Unsigned: the account is the role's, and the provider must be registered in it.
      const account = roleAccount(roleArn);

      let issuer: string;
      try {
        issuer = o.verifier.peekIssuer(token);
      } catch (err) {
        if (err instanceof TokenCheckError) throw tokenError(err, {});
        throw err;
      }
      // The provider is chosen by `iss` before anything is fetched: an issuer nobody registered
      // is never contacted.
      const provider = state.account(account).providerForIssuer(issuer);
      if (!provider) throw new AwsError('InvalidIdentityToken', `No OpenIDConnect provider found in your account for ${issuer}`);

      let verified: VerifiedToken;
      try {
        verified = await o.verifier.verify(token, issuer, { algorithms: WEB_IDENTITY_ALGORITHMS });
      } catch (err) {
        if (err instanceof TokenCheckError) throw tokenError(err, decodeExp(token));
        throw err;
      }
      const { claims } = verified;
      const aud = audienceList(claims.aud);
      const azp = typeof claims.azp === 'string' ? claims.azp : undefined;
      // With `azp` present AWS checks it against the provider's client ids; otherwise any of `aud`.
      const candidates = azp !== undefined ? [azp] : aud;
      const audience = candidates.find((a) => provider.clientIds.includes(a));
      if (audience === undefined) throw new AwsError('InvalidIdentityToken', 'Incorrect token audience');
      if (typeof claims.sub !== 'string' || claims.sub === '') {
        throw new AwsError('InvalidIdentityToken', 'The web identity token has no sub claim');
      }
      const sourceIdentity = claims[SOURCE_IDENTITY_CLAIM];
      if (sourceIdentity !== undefined && (typeof sourceIdentity !== 'string' || !SOURCE_IDENTITY.pattern.test(sourceIdentity) || sourceIdentity.length < 2 || sourceIdentity.length > 64)) {
        throw new AwsError('InvalidIdentityToken', `The ${SOURCE_IDENTITY_CLAIM} claim is not a valid source identity`);
      }

      const denied = () => new AwsError('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
      const { role } = roleFor(roleArn, denied);
      const now = o.clock.now();
      const context: Record<string, string | string[]> = {
        ...webIdentityContext(provider, claims),
        ...timeContext(now),
        'sts:RoleSessionName': sessionName,
      };
      if (typeof sourceIdentity === 'string') context['sts:SourceIdentity'] = sourceIdentity;
      if (!trusts(role, { action: 'sts:AssumeRoleWithWebIdentity', principal: { type: 'Federated', id: provider.arn }, context })) throw denied();
      const durationSeconds = duration(p, role);

      const s = sessions.issue({
        ...assumedRoleFields(account, role, sessionName),
        sourceIdentity: typeof sourceIdentity === 'string' ? sourceIdentity : undefined,
        issuedBy: 'AssumeRoleWithWebIdentity',
        federatedProvider: provider.arn,
        webIdentitySubject: claims.sub,
        durationSeconds,
      });
      return {
        Credentials: credentialsXml(s),
        SubjectFromWebIdentityToken: claims.sub,
        AssumedRoleUser: { AssumedRoleId: s.assumedRoleId, Arn: s.assumedRoleArn },
        Provider: provider.arn,
        Audience: audience,
        SourceIdentity: s.sourceIdentity,
      };
    },

    assumeRole(caller, p) {
      const roleArn = p.require('RoleArn');
      const sessionName = checkString('RoleSessionName', p.require('RoleSessionName'), SESSION_NAME);
      intParam(p, 'DurationSeconds', 900, 43200);
      const externalId = p.get('ExternalId');
      if (externalId !== undefined) checkString('ExternalId', externalId, EXTERNAL_ID);
      const requestedSource = p.get('SourceIdentity');
      if (requestedSource !== undefined) checkString('SourceIdentity', requestedSource, SOURCE_IDENTITY);

      if (caller.kind === 'root') {
        // AWS refuses AssumeRole from an account's root user; a static key stands for root.
        throw new AwsError('AccessDenied', 'Roles may not be assumed by root accounts.');
      }
      const from = caller.session;
      const denied = () => new AwsError('AccessDenied', `User: ${from.assumedRoleArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      // The target may be in another account: its trust policy alone decides (the sandbox has no
      // identity policies, which on AWS the caller's account must also grant sts:AssumeRole in).
      const { account, role } = roleFor(roleArn, denied);
      // A source identity, once set, sticks to every session chained from it.
      if (from.sourceIdentity !== undefined && requestedSource !== undefined && requestedSource !== from.sourceIdentity) throw denied();
      const sourceIdentity = from.sourceIdentity ?? requestedSource;

      const now = o.clock.now();
      const context: Record<string, string | string[]> = {
        ...timeContext(now),
        'aws:PrincipalArn': from.roleArn,
        'aws:PrincipalAccount': from.accountId,
        'aws:PrincipalType': 'AssumedRole',
        'aws:userid': from.assumedRoleId,
        'aws:TokenIssueTime': awsTimestamp(from.issuedAt),
        'sts:RoleSessionName': sessionName,
      };
      if (from.federatedProvider) context['aws:FederatedProvider'] = from.federatedProvider;
      if (from.sourceIdentity) context['aws:SourceIdentity'] = from.sourceIdentity;
      if (requestedSource !== undefined) context['sts:SourceIdentity'] = requestedSource;
      if (externalId !== undefined) context['sts:ExternalId'] = externalId;
      if (!trusts(role, { action: 'sts:AssumeRole', principal: { type: 'AWS', id: from.assumedRoleArn }, context })) throw denied();
      // Every caller here holds role credentials, so this is always role chaining.
      const durationSeconds = duration(p, role, CHAINED_MAX_SECONDS);

      const s = sessions.issue({
        ...assumedRoleFields(account, role, sessionName),
        sourceIdentity,
        issuedBy: 'AssumeRole',
        federatedProvider: from.federatedProvider,
        webIdentitySubject: from.webIdentitySubject,
        durationSeconds,
      });
      return {
        Credentials: credentialsXml(s),
        AssumedRoleUser: { AssumedRoleId: s.assumedRoleId, Arn: s.assumedRoleArn },
        SourceIdentity: s.sourceIdentity,
      };
    },

    getCallerIdentity(caller) {
      if (caller.kind === 'root') return { UserId: caller.accountId, Account: caller.accountId, Arn: `arn:aws:iam::${caller.accountId}:root` };
      const s = caller.session;
      return { UserId: s.assumedRoleId, Account: s.accountId, Arn: s.assumedRoleArn };
    },
  };
}

/** `exp` for the ExpiredTokenException message; the token was already checked to be a JWT. */
function decodeExp(token: string): { exp?: unknown } {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return { exp: payload.exp };
  } catch {
    return {};
  }
}
