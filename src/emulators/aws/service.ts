import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { AwsError, INVALID_CLIENT_TOKEN_MESSAGE } from './errors.ts';
import { IAM_NAMESPACE, isIamAction, type IamService } from './iam.ts';
import { parseQueryForm } from './query.ts';
import type { SessionStore } from './sessions.ts';
import { checkSigV4Signature, checkSigV4Time, parseSigV4Authorization, type RawHttpRequest } from './sigv4.ts';
import { isStsAction, STS_NAMESPACE, type Caller, type StsService } from './sts.ts';
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
  /**
   * Access key ids accepted for any signature (the secret is not checked). They stand for the
   * account's root user and exist so the aws CLI and SDKs can administer the sandbox's IAM with
   * static credentials. Never use these names for anything real.
   */
  adminAccessKeyIds: ReadonlySet<string>;
  requestId?: () => string;
}

export type QueryApiHandler = (req: RawHttpRequest) => Promise<QueryApiResponse>;

export function createQueryApiHandler(o: QueryApiOptions): QueryApiHandler {
  const newRequestId = o.requestId ?? randomUUID;

  /**
   * SigV4 as AWS checks it: shape of the header → the access key → session expiry → the
   * 15-minute window → the signature. Admin keys skip only the last step.
   */
  function authenticate(req: RawHttpRequest, service: 'iam' | 'sts'): Caller {
    const auth = parseSigV4Authorization(req, service);
    const now = o.clock.now();
    if (o.adminAccessKeyIds.has(auth.accessKeyId)) {
      checkSigV4Time(auth, now);
      return { kind: 'admin', accessKeyId: auth.accessKeyId };
    }
    const session = o.sessions.find(auth.accessKeyId);
    if (!session || !o.sessions.tokenMatches(session, auth.securityToken)) {
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
        authenticate(req, 'iam');
        result = o.iam.handle(action, params);
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
