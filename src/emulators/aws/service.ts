import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { AwsError, INVALID_CLIENT_TOKEN_MESSAGE } from './errors.ts';
import { IAM_NAMESPACE, isIamAction, type IamService } from './iam.ts';
import { parseQueryForm } from './query.ts';
import type { SessionStore } from './sessions.ts';
import { checkSigV4Signature, checkSigV4Time, parseSigV4Authorization, type RawHttpRequest } from './sigv4.ts';
import { ACCOUNT_ID } from './state.ts';
import { callerAccount, isStsAction, STS_NAMESPACE, type Caller, type StsService } from './sts.ts';
import { renderQueryError, renderQueryResponse, type XmlElements } from './xml.ts';

/**
 * The one entry point for `POST /`: decodes the form, dispatches on `Action` (IAM and STS share
 * the path; their action names do not overlap), authenticates signed actions, and renders AWS's
 * XML. Knows nothing of the HTTP framework, so it is tested with plain objects.
 */

/** What the HTTP edge sends back. */
export interface QueryApiResponse {
  status: number;
  body: string;
  requestId: string;
  /** Set for unexpected failures, so the edge can log the cause; the client only sees InternalFailure. */
  internalError?: unknown;
}

export interface QueryApiOptions {
  iam: IamService;
  sts: StsService;
  sessions: SessionStore;
  clock: Clock;
  /** The account of a static access key id that is not 12 digits. */
  defaultAccountId: string;
  requestId?: () => string;
}

/** The prefix of temporary (STS-issued) access key ids: these must be sessions the emulator issued. */
const TEMPORARY_KEY_PREFIX = 'ASIA';

/**
 * The account a static access key id stands for, as LocalStack reads it: a 12-digit key id is
 * that account, anything else (`AKIASANDBOX`, `test`) the default account.
 */
export function accountForAccessKeyId(accessKeyId: string, defaultAccountId: string): string {
  return ACCOUNT_ID.test(accessKeyId) ? accessKeyId : defaultAccountId;
}

export type QueryApiHandler = (req: RawHttpRequest) => Promise<QueryApiResponse>;

export function createQueryApiHandler(o: QueryApiOptions): QueryApiHandler {
  const newRequestId = o.requestId ?? randomUUID;

  /**
   * SigV4 as AWS checks it: shape of the header → the access key → session expiry → the
   * 15-minute window → the signature.
   *
   * Temporary credentials (an `ASIA…` key id, or any key sent with a session token) must be a
   * session the emulator issued, fully verified. Any other key id is a static key standing for
   * an account's root user, accepted with any secret (LocalStack's convention): only the
   * signature itself is not checked, so the aws CLI and SDKs can administer IAM with
   * `AWS_ACCESS_KEY_ID=123456789012` and any secret. Never use these for anything real.
   */
  function authenticate(req: RawHttpRequest, service: 'iam' | 'sts'): Caller {
    const auth = parseSigV4Authorization(req, service);
    const now = o.clock.now();
    const session = o.sessions.find(auth.accessKeyId);
    if (!session) {
      if (auth.securityToken !== undefined || auth.accessKeyId.startsWith(TEMPORARY_KEY_PREFIX)) {
        throw new AwsError('InvalidClientTokenId', INVALID_CLIENT_TOKEN_MESSAGE);
      }
      checkSigV4Time(auth, now);
      return { kind: 'root', accountId: accountForAccessKeyId(auth.accessKeyId, o.defaultAccountId), accessKeyId: auth.accessKeyId };
    }
    if (!o.sessions.tokenMatches(session, auth.securityToken)) {
      throw new AwsError('InvalidClientTokenId', INVALID_CLIENT_TOKEN_MESSAGE);
    }
    if (now >= session.expiresAt) throw new AwsError('ExpiredToken', 'The security token included in the request is expired');
    checkSigV4Signature(req, auth, session.secretAccessKey, now);
    return { kind: 'session', session };
  }

  return async (req) => {
    const requestId = newRequestId();
    let namespace = STS_NAMESPACE;
    try {
      const params = parseQueryForm(Buffer.from(req.body).toString('utf8'));
      const action = params.get('Action');
      if (action === undefined || action === '') throw new AwsError('MissingAction', 'Missing Action');
      let result: XmlElements | undefined;
      if (isIamAction(action)) {
        namespace = IAM_NAMESPACE;
        result = o.iam.handle(action, params, callerAccount(authenticate(req, 'iam')));
      } else if (action === 'AssumeRoleWithWebIdentity') {
        // Unsigned by design: the web-identity token is the credential.
        result = await o.sts.assumeRoleWithWebIdentity(params);
      } else if (isStsAction(action)) {
        const caller = authenticate(req, 'sts');
        result = action === 'AssumeRole' ? o.sts.assumeRole(caller, params) : o.sts.getCallerIdentity(caller);
      } else {
        throw new AwsError('InvalidAction', `Could not find operation ${action} for version ${params.get('Version') ?? 'NO_VERSION_SPECIFIED'}`);
      }
      return { status: 200, body: renderQueryResponse(action, namespace, result, requestId), requestId };
    } catch (err) {
      if (err instanceof AwsError) {
        return { status: err.status, body: renderQueryError(namespace, err, requestId), requestId };
      }
      const e = new AwsError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.');
      return { status: e.status, body: renderQueryError(namespace, e, requestId), requestId, internalError: err };
    }
  };
}
