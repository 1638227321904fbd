/**
 * The trust-policy evaluator's case table: requests and the decision AWS's documented semantics give
 * them. Two suites run it: trust-policy.test.ts against Airlock's evaluator, and
 * test/aws-policy/independent-evaluator.test.ts against an evaluator written by others
 * (@cloud-copilot/iam-simulate), so a misreading of the docs that both the evaluator and its own
 * tests share shows up as a disagreement. Test data only: nothing outside tests imports this file.
 */
import type { TrustDecision, TrustRequest } from './trust-policy.ts';

// ---- fixtures --------------------------------------------------------------------------------

export const ACCOUNT = '123456789012';
export const OTHER_ACCOUNT = '210987654321';
export const ISSUER = '127.0.0.1:8080/clusters/cl_abc';
export const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;
export const OTHER_ISSUER = '127.0.0.1:8080/clusters/cl_other';
export const OTHER_PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${OTHER_ISSUER}`;
export const AUD = `${ISSUER}:aud`;
export const SUB = `${ISSUER}:sub`;
export const NS = 'dep-7x2k';
/** The six service accounts of a Deployment, as the product guide lists them. */
export const SUBJECTS = [
  'kpo',
  'dag-processor-serviceaccount',
  'scheduler-serviceaccount',
  'triggerer-serviceaccount',
  'webserver-serviceaccount',
  'worker-serviceaccount',
].map((sa) => `system:serviceaccount:${NS}:${NS}-${sa}`);

export const ROLE = `arn:aws:iam::${ACCOUNT}:role/airlock/deployments/wi-role`;
export const ROLE_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/wi-role/botocore-session-1`;
export const OTHER_ROLE_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/other-role/botocore-session-1`;
export const USER = `arn:aws:iam::${ACCOUNT}:user/alice`;

/** The trust policy Airlock generates for a Deployment's customer-managed role. */
export const GENERATED = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Federated: PROVIDER },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: SUBJECTS } },
    },
  ],
};

export const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
export const allowWeb = (Condition?: object) => ({ Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity', ...(Condition ? { Condition } : {}) });
export const allowAws = (Principal: unknown, extra: object = {}) => ({ Effect: 'Allow', Principal, Action: 'sts:AssumeRole', ...extra });
/** A policy whose only question is the condition: any caller of the account may AssumeRole if it holds. */
export const when = (Condition: object) => doc(allowAws({ AWS: ACCOUNT }, { Condition }));

/** An AssumeRoleWithWebIdentity call carrying `claims` (sub, aud, ...) of the given issuer. */
export function web(claims: Record<string, string | string[]>, provider = PROVIDER, issuer = ISSUER): TrustRequest {
  return {
    action: 'sts:AssumeRoleWithWebIdentity',
    principal: { type: 'Federated', id: provider },
    context: Object.fromEntries(Object.entries(claims).map(([k, v]) => [`${issuer}:${k}`, v])),
  };
}
/** An AssumeRole call from `arn` with extra context keys. */
export function caller(arn: string, context: Record<string, string | string[]> = {}, action = 'sts:AssumeRole'): TrustRequest {
  return { action, principal: { type: 'AWS', id: arn }, context: { 'aws:PrincipalArn': arn, ...context } };
}
export const ctx = (context: Record<string, string | string[]>) => caller(ROLE_SESSION, context);

// ---- evaluation table --------------------------------------------------------------------------

export interface TrustCase {
  name: string;
  policy: object | string;
  req: TrustRequest;
  expect: TrustDecision['decision'];
  /** For allow / explicit-deny: the statement index that decided. */
  statement?: number;
  /** For denies: what the reason must say. */
  reason?: RegExp;
}

export const TRUST_CASES: readonly TrustCase[] = [
  // -- the policy Airlock generates ---------------------------------------------------------------
  ...SUBJECTS.map((sub): TrustCase => ({ name: `generated policy allows listed subject ${sub.split(':').pop()}`, policy: GENERATED, req: web({ sub, aud: 'sts.amazonaws.com' }), expect: 'allow', statement: 0 })),
  {
    name: 'generated policy denies a seventh service account of the same namespace, naming sub and the value',
    policy: GENERATED,
    req: web({ sub: `system:serviceaccount:${NS}:${NS}-api-server-serviceaccount`, aud: 'sts.amazonaws.com' }),
    expect: 'implicit-deny',
    reason: /Statement\[0\]\.Condition\.StringEquals\["127\.0\.0\.1:8080\/clusters\/cl_abc:sub"\] is not satisfied: the request has "system:serviceaccount:dep-7x2k:dep-7x2k-api-server-serviceaccount"/,
  },
  { name: 'generated policy denies the same service account name in another namespace', policy: GENERATED, req: web({ sub: `system:serviceaccount:other-ns:${NS}-worker-serviceaccount`, aud: 'sts.amazonaws.com' }), expect: 'implicit-deny' },
  { name: 'generated policy denies a listed subject with the wrong audience', policy: GENERATED, req: web({ sub: SUBJECTS[0] as string, aud: 'api://AzureADTokenExchange' }), expect: 'implicit-deny', reason: /:aud"\] is not satisfied/ },
  { name: 'generated policy denies a token without aud (missing key fails a positive operator)', policy: GENERATED, req: web({ sub: SUBJECTS[0] as string }), expect: 'implicit-deny', reason: /no value for it/ },
  {
    name: 'generated policy denies the same claims from another cluster\'s provider',
    policy: GENERATED,
    req: web({ sub: SUBJECTS[0] as string, aud: 'sts.amazonaws.com' }, OTHER_PROVIDER, OTHER_ISSUER),
    expect: 'implicit-deny',
    reason: /Principal does not include Federated/,
  },
  { name: 'generated policy denies sts:AssumeRole (only web identity is allowed)', policy: GENERATED, req: { ...web({ sub: SUBJECTS[0] as string, aud: 'sts.amazonaws.com' }), action: 'sts:AssumeRole' }, expect: 'implicit-deny', reason: /Action does not include sts:AssumeRole/ },
  { name: 'condition values compare case-sensitively (StringEquals)', policy: GENERATED, req: web({ sub: (SUBJECTS[0] as string).toUpperCase(), aud: 'sts.amazonaws.com' }), expect: 'implicit-deny' },
  {
    name: 'condition key names compare case-insensitively',
    policy: GENERATED,
    req: { ...web({}), context: { [SUB.toUpperCase()]: SUBJECTS[1] as string, [AUD.toUpperCase()]: 'sts.amazonaws.com' } },
    expect: 'allow',
  },
  { name: 'a multi-valued aud satisfies StringEquals when any audience matches (no set prefix = any)', policy: GENERATED, req: web({ sub: SUBJECTS[2] as string, aud: ['https://kubernetes.default.svc', 'sts.amazonaws.com'] }), expect: 'allow' },
  { name: 'a multi-valued aud with no matching audience is denied', policy: GENERATED, req: web({ sub: SUBJECTS[2] as string, aud: ['https://kubernetes.default.svc', 'vault'] }), expect: 'implicit-deny' },
  { name: 'the generated policy given as JSON text evaluates the same', policy: JSON.stringify(GENERATED, null, 2), req: web({ sub: SUBJECTS[5] as string, aud: 'sts.amazonaws.com' }), expect: 'allow' },

  // -- the wildcard form for dedicated clusters ----------------------------------------------------
  { name: 'StringLike system:serviceaccount:*:* allows any namespace and service account', policy: doc(allowWeb({ StringLike: { [AUD]: 'sts.amazonaws.com', [SUB]: 'system:serviceaccount:*:*' } })), req: web({ sub: 'system:serviceaccount:team-b:anything', aud: 'sts.amazonaws.com' }), expect: 'allow' },
  { name: 'StringLike system:serviceaccount:*:* does not match a non-service-account subject', policy: doc(allowWeb({ StringLike: { [SUB]: 'system:serviceaccount:*:*' } })), req: web({ sub: 'system:node:ip-10-0-0-1' }), expect: 'implicit-deny' },
  { name: 'StringLike * matches across colons in a sub', policy: doc(allowWeb({ StringLike: { [SUB]: 'system:serviceaccount:*' } })), req: web({ sub: 'system:serviceaccount:ns:sa' }), expect: 'allow' },
  { name: 'StringLike * matches across slashes', policy: when({ StringLike: { 'aws:PrincipalArn': 'arn:aws:sts::*' } }), req: ctx({}), expect: 'allow' },
  { name: 'StringLike * matches the empty string', policy: doc(allowWeb({ StringLike: { [SUB]: 'system:serviceaccount:ns:*' } })), req: web({ sub: 'system:serviceaccount:ns:' }), expect: 'allow' },
  { name: 'StringLike ? matches exactly one character', policy: when({ StringLike: { 'sts:RoleSessionName': 'job-?' } }), req: ctx({ 'sts:RoleSessionName': 'job-7' }), expect: 'allow' },
  { name: 'StringLike ? does not match two characters', policy: when({ StringLike: { 'sts:RoleSessionName': 'job-?' } }), req: ctx({ 'sts:RoleSessionName': 'job-17' }), expect: 'implicit-deny' },
  { name: 'StringLike ? does not match zero characters', policy: when({ StringLike: { 'sts:RoleSessionName': 'job-?' } }), req: ctx({ 'sts:RoleSessionName': 'job-' }), expect: 'implicit-deny' },
  { name: 'StringLike treats regex characters literally (. is not "any")', policy: when({ StringLike: { 'sts:RoleSessionName': 'a.c' } }), req: ctx({ 'sts:RoleSessionName': 'abc' }), expect: 'implicit-deny' },
  { name: 'StringLike matches regex metacharacters as themselves', policy: when({ StringLike: { 'sts:RoleSessionName': '(x)+[y]*' } }), req: ctx({ 'sts:RoleSessionName': '(x)+[y]{z}' }), expect: 'allow' },
  { name: 'StringLike is case-sensitive', policy: doc(allowWeb({ StringLike: { [SUB]: 'system:serviceaccount:*' } })), req: web({ sub: 'System:ServiceAccount:ns:sa' }), expect: 'implicit-deny' },
  { name: 'StringEquals does not treat * as a wildcard', policy: doc(allowWeb({ StringEquals: { [SUB]: 'system:serviceaccount:*:*' } })), req: web({ sub: 'system:serviceaccount:ns:sa' }), expect: 'implicit-deny' },
  { name: 'StringLike with many stars against a long value answers (no exponential backtracking)', policy: when({ StringLike: { 'sts:RoleSessionName': '*a*a*a*a*a*a*a*a*a*a*a*a*b' } }), req: ctx({ 'sts:RoleSessionName': 'a'.repeat(20000) }), expect: 'implicit-deny' },

  // -- combining values, keys and blocks -------------------------------------------------------------
  { name: 'several keys in one block are ANDed: right sub, wrong aud is denied', policy: doc(allowWeb({ StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: 'system:serviceaccount:ns:sa' } })), req: web({ sub: 'system:serviceaccount:ns:sa', aud: 'other' }), expect: 'implicit-deny' },
  { name: 'several operator blocks are ANDed: StringEquals aud holds, StringLike sub fails', policy: doc(allowWeb({ StringEquals: { [AUD]: 'sts.amazonaws.com' }, StringLike: { [SUB]: 'system:serviceaccount:ns:*' } })), req: web({ sub: 'system:serviceaccount:other:sa', aud: 'sts.amazonaws.com' }), expect: 'implicit-deny' },
  { name: 'several operator blocks are ANDed: both hold', policy: doc(allowWeb({ StringEquals: { [AUD]: 'sts.amazonaws.com' }, StringLike: { [SUB]: 'system:serviceaccount:ns:*' } })), req: web({ sub: 'system:serviceaccount:ns:sa', aud: 'sts.amazonaws.com' }), expect: 'allow' },
  { name: 'several values for one key are ORed', policy: when({ StringEquals: { 'sts:ExternalId': ['first', 'second'] } }), req: ctx({ 'sts:ExternalId': 'second' }), expect: 'allow' },

  // -- negated operators -------------------------------------------------------------------------------
  { name: 'StringNotEquals with several values means "none of them": a listed value is denied', policy: when({ StringNotEquals: { 'sts:RoleSessionName': ['root', 'admin'] } }), req: ctx({ 'sts:RoleSessionName': 'admin' }), expect: 'implicit-deny' },
  { name: 'StringNotEquals with several values means "none of them": an unlisted value is allowed', policy: when({ StringNotEquals: { 'sts:RoleSessionName': ['root', 'admin'] } }), req: ctx({ 'sts:RoleSessionName': 'etl' }), expect: 'allow' },
  { name: 'StringNotEquals is true when the key is missing', policy: when({ StringNotEquals: { 'sts:RoleSessionName': 'admin' } }), req: ctx({}), expect: 'allow' },
  { name: 'StringEquals is false when the key is missing', policy: when({ StringEquals: { 'sts:RoleSessionName': 'admin' } }), req: ctx({}), expect: 'implicit-deny' },
  { name: 'StringNotLike excludes matching values', policy: doc(allowWeb({ StringNotLike: { [SUB]: 'system:serviceaccount:kube-system:*' } })), req: web({ sub: 'system:serviceaccount:kube-system:admin' }), expect: 'implicit-deny' },
  { name: 'StringNotLike lets other values through', policy: doc(allowWeb({ StringNotLike: { [SUB]: 'system:serviceaccount:kube-system:*' } })), req: web({ sub: 'system:serviceaccount:ns:sa' }), expect: 'allow' },
  { name: 'StringNotLike is true when the key is missing', policy: doc(allowWeb({ StringNotLike: { [SUB]: 'system:serviceaccount:kube-system:*' } })), req: web({}), expect: 'allow' },
  { name: 'StringNotEquals without a set prefix fails if any request value is listed', policy: doc(allowWeb({ StringNotEquals: { [AUD]: 'forbidden' } })), req: web({ aud: ['sts.amazonaws.com', 'forbidden'] }), expect: 'implicit-deny' },

  // -- case-insensitive string operators ---------------------------------------------------------------
  { name: 'StringEqualsIgnoreCase ignores case', policy: when({ StringEqualsIgnoreCase: { 'sts:RoleSessionName': 'ETL-Job' } }), req: ctx({ 'sts:RoleSessionName': 'etl-job' }), expect: 'allow' },
  { name: 'StringEqualsIgnoreCase still compares the whole value', policy: when({ StringEqualsIgnoreCase: { 'sts:RoleSessionName': 'ETL-Job' } }), req: ctx({ 'sts:RoleSessionName': 'etl-job-2' }), expect: 'implicit-deny' },
  { name: 'StringNotEqualsIgnoreCase excludes a value differing only in case', policy: when({ StringNotEqualsIgnoreCase: { 'sts:RoleSessionName': 'ADMIN' } }), req: ctx({ 'sts:RoleSessionName': 'admin' }), expect: 'implicit-deny' },

  // -- IfExists, Null, Bool -------------------------------------------------------------------------------
  { name: 'StringEqualsIfExists is true when the key is missing', policy: when({ StringEqualsIfExists: { 'sts:SourceIdentity': 'etl' } }), req: ctx({}), expect: 'allow' },
  { name: 'StringEqualsIfExists still checks a present key', policy: when({ StringEqualsIfExists: { 'sts:SourceIdentity': 'etl' } }), req: ctx({ 'sts:SourceIdentity': 'other' }), expect: 'implicit-deny' },
  { name: 'StringLikeIfExists checks a present key with wildcards', policy: when({ StringLikeIfExists: { 'sts:SourceIdentity': 'etl-*' } }), req: ctx({ 'sts:SourceIdentity': 'etl-7' }), expect: 'allow' },
  { name: 'Null true holds when the key is absent', policy: when({ Null: { 'sts:ExternalId': 'true' } }), req: ctx({}), expect: 'allow' },
  { name: 'Null true fails when the key is present', policy: when({ Null: { 'sts:ExternalId': 'true' } }), req: ctx({ 'sts:ExternalId': 'x' }), expect: 'implicit-deny' },
  { name: 'Null false (boolean) requires the key', policy: when({ Null: { 'sts:ExternalId': false } }), req: ctx({}), expect: 'implicit-deny' },
  { name: 'Null treats an empty array as absent', policy: when({ Null: { 'aws:TagKeys': 'true' } }), req: ctx({ 'aws:TagKeys': [] }), expect: 'allow' },
  { name: 'Bool true matches "true"', policy: when({ Bool: { 'aws:MultiFactorAuthPresent': true } }), req: ctx({ 'aws:MultiFactorAuthPresent': 'true' }), expect: 'allow' },
  { name: 'Bool true does not match "false"', policy: when({ Bool: { 'aws:MultiFactorAuthPresent': 'true' } }), req: ctx({ 'aws:MultiFactorAuthPresent': 'false' }), expect: 'implicit-deny' },
  { name: 'Bool is false when the key is missing', policy: when({ Bool: { 'aws:MultiFactorAuthPresent': 'true' } }), req: ctx({}), expect: 'implicit-deny' },
  { name: 'BoolIfExists is true when the key is missing', policy: when({ BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' } }), req: ctx({}), expect: 'allow' },

  // -- set operators -----------------------------------------------------------------------------------------
  { name: 'ForAllValues holds when every request value is listed', policy: when({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env', 'cost'] } }), req: ctx({ 'aws:TagKeys': ['team', 'env'] }), expect: 'allow' },
  { name: 'ForAllValues fails when one request value is not listed', policy: when({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } }), req: ctx({ 'aws:TagKeys': ['team', 'owner'] }), expect: 'implicit-deny' },
  { name: 'ForAllValues is true over a missing key', policy: when({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } }), req: ctx({}), expect: 'allow' },
  { name: 'ForAllValues is true over an empty key', policy: when({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } }), req: ctx({ 'aws:TagKeys': [] }), expect: 'allow' },
  { name: 'ForAnyValue holds when one request value is listed', policy: when({ 'ForAnyValue:StringLike': { 'aws:TagKeys': 'team*' } }), req: ctx({ 'aws:TagKeys': ['env', 'team-name'] }), expect: 'allow' },
  { name: 'ForAnyValue is false over a missing key', policy: when({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'team' } }), req: ctx({}), expect: 'implicit-deny' },
  { name: 'ForAnyValue is false over an empty key', policy: when({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'team' } }), req: ctx({ 'aws:TagKeys': [] }), expect: 'implicit-deny' },
  { name: 'ForAnyValue:StringNotEquals holds when some request value is unlisted', policy: when({ 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': 'team' } }), req: ctx({ 'aws:TagKeys': ['team', 'env'] }), expect: 'allow' },
  { name: 'ForAllValues:StringNotEquals fails when some request value is listed', policy: when({ 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['secret', 'admin'] } }), req: ctx({ 'aws:TagKeys': ['team', 'admin'] }), expect: 'implicit-deny' },

  // -- ARN, numeric, date, IP operators -------------------------------------------------------------------
  { name: 'ArnLike matches a role ARN with a wildcard', policy: when({ ArnLike: { 'aws:PrincipalArn': `arn:aws:sts::${ACCOUNT}:assumed-role/wi-*` } }), req: ctx({}), expect: 'allow' },
  { name: 'ArnEquals also takes wildcards', policy: when({ ArnEquals: { 'aws:PrincipalArn': 'arn:aws:sts::*:assumed-role/wi-role/*' } }), req: ctx({}), expect: 'allow' },
  {
    name: 'ArnLike compares part by part: * in the account part cannot swallow colons',
    policy: when({ ArnLike: { 'aws:SourceArn': 'arn:aws:iam::*:role/x' } }),
    req: ctx({ 'aws:SourceArn': `arn:aws:iam::${ACCOUNT}:extra:role/x` }),
    expect: 'implicit-deny',
  },
  { name: 'ArnLike does not match a value that is not an ARN', policy: when({ ArnLike: { 'aws:SourceArn': 'arn:aws:iam::*:role/*' } }), req: ctx({ 'aws:SourceArn': 'role/x' }), expect: 'implicit-deny' },
  { name: 'ArnNotLike excludes matching ARNs', policy: when({ ArnNotLike: { 'aws:PrincipalArn': `arn:aws:sts::${ACCOUNT}:assumed-role/wi-role/*` } }), req: ctx({}), expect: 'implicit-deny' },
  { name: 'NumericLessThan with a number value allows a smaller request value', policy: when({ NumericLessThan: { 'aws:MultiFactorAuthAge': 3600 } }), req: ctx({ 'aws:MultiFactorAuthAge': '120' }), expect: 'allow' },
  { name: 'NumericLessThan denies a larger request value (compared as numbers, not text)', policy: when({ NumericLessThan: { 'aws:MultiFactorAuthAge': 3600 } }), req: ctx({ 'aws:MultiFactorAuthAge': '10000' }), expect: 'implicit-deny' },
  { name: 'a non-numeric request value matches no numeric operator', policy: when({ NumericGreaterThanEquals: { 'aws:MultiFactorAuthAge': 0 } }), req: ctx({ 'aws:MultiFactorAuthAge': 'soon' }), expect: 'implicit-deny' },
  { name: 'DateLessThan compares ISO dates', policy: when({ DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }), req: ctx({ 'aws:CurrentTime': '2029-12-31T23:59:59Z' }), expect: 'allow' },
  { name: 'DateGreaterThan accepts epoch seconds', policy: when({ DateGreaterThan: { 'aws:EpochTime': '1700000000' } }), req: ctx({ 'aws:EpochTime': '1600000000' }), expect: 'implicit-deny' },
  { name: 'IpAddress matches an address inside the range', policy: when({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } }), req: ctx({ 'aws:SourceIp': '10.20.30.40' }), expect: 'allow' },
  { name: 'IpAddress does not match an address outside the range', policy: when({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }), req: ctx({ 'aws:SourceIp': '192.168.1.1' }), expect: 'implicit-deny' },
  { name: 'NotIpAddress excludes an IPv6 address inside the range', policy: when({ NotIpAddress: { 'aws:SourceIp': '2001:db8::/32' } }), req: ctx({ 'aws:SourceIp': '2001:db8::1' }), expect: 'implicit-deny' },

  // -- values compared as text ----------------------------------------------------------------------------
  { name: 'a number condition value compares as its string form', policy: when({ StringEquals: { 'sts:ExternalId': 12345 } }), req: ctx({ 'sts:ExternalId': '12345' }), expect: 'allow' },
  { name: 'a boolean condition value compares as its string form', policy: when({ StringEquals: { 'sts:ExternalId': true } }), req: ctx({ 'sts:ExternalId': 'true' }), expect: 'allow' },

  // -- policy variables --------------------------------------------------------------------------------------
  { name: 'a policy variable is replaced by the request value', policy: when({ StringEquals: { 'sts:RoleSessionName': '${aws:username}' } }), req: ctx({ 'aws:username': 'alice', 'sts:RoleSessionName': 'alice' }), expect: 'allow' },
  { name: 'a substituted value is data: a * in it does not widen StringLike', policy: when({ StringLike: { 'sts:RoleSessionName': 'job-${aws:username}' } }), req: ctx({ 'aws:username': '*', 'sts:RoleSessionName': 'job-anything' }), expect: 'implicit-deny' },
  { name: '${*} is a literal star in StringLike', policy: when({ StringLike: { 'sts:RoleSessionName': 'a${*}b' } }), req: ctx({ 'sts:RoleSessionName': 'axb' }), expect: 'implicit-deny' },
  { name: 'a variable with no value and no default matches nothing', policy: when({ StringEquals: { 'sts:RoleSessionName': '${aws:username}' } }), req: ctx({ 'sts:RoleSessionName': '' }), expect: 'implicit-deny' },
  { name: 'a variable default is used when the key is absent', policy: when({ StringEquals: { 'sts:RoleSessionName': "${aws:username, 'batch'}" } }), req: ctx({ 'sts:RoleSessionName': 'batch' }), expect: 'allow' },
  { name: 'in a 2008-10-17 document ${...} is literal text', policy: { Version: '2008-10-17', Statement: [allowAws({ AWS: ACCOUNT }, { Condition: { StringEquals: { 'sts:RoleSessionName': '${aws:username}' } } })] }, req: ctx({ 'aws:username': 'alice', 'sts:RoleSessionName': '${aws:username}' }), expect: 'allow' },

  // -- principals ------------------------------------------------------------------------------------------
  { name: 'Principal "*" matches a federated caller', policy: doc({ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRoleWithWebIdentity' }), req: web({}), expect: 'allow' },
  { name: 'Principal AWS "*" matches any AWS caller', policy: doc(allowAws({ AWS: '*' })), req: caller(`arn:aws:iam::${OTHER_ACCOUNT}:user/bob`), expect: 'allow' },
  { name: 'Principal AWS "*" does not match a federated caller', policy: doc({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRoleWithWebIdentity' }), req: web({}), expect: 'implicit-deny' },
  { name: 'a 12-digit account id matches a role session of that account', policy: doc(allowAws({ AWS: ACCOUNT })), req: caller(ROLE_SESSION), expect: 'allow' },
  { name: 'a 12-digit account id does not match another account', policy: doc(allowAws({ AWS: ACCOUNT })), req: caller(`arn:aws:iam::${OTHER_ACCOUNT}:user/bob`), expect: 'implicit-deny' },
  { name: 'the account root ARN matches any principal in that account', policy: doc(allowAws({ AWS: `arn:aws:iam::${ACCOUNT}:root` })), req: caller(USER), expect: 'allow' },
  { name: 'the account root ARN does not match another partition', policy: doc(allowAws({ AWS: `arn:aws:iam::${ACCOUNT}:root` })), req: caller(`arn:aws-cn:iam::${ACCOUNT}:user/alice`), expect: 'implicit-deny' },
  { name: 'a role ARN (with path) matches its assumed-role session (role chaining)', policy: doc(allowAws({ AWS: [ROLE] })), req: caller(ROLE_SESSION), expect: 'allow' },
  { name: 'a role ARN matches the role itself', policy: doc(allowAws({ AWS: ROLE })), req: caller(ROLE), expect: 'allow' },
  { name: 'a role ARN does not match a session of another role', policy: doc(allowAws({ AWS: ROLE })), req: caller(OTHER_ROLE_SESSION), expect: 'implicit-deny' },
  { name: 'a role ARN does not match a same-named role session in another account', policy: doc(allowAws({ AWS: ROLE })), req: caller(`arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/wi-role/s`), expect: 'implicit-deny' },
  { name: 'a role ARN does not match a user of the same name', policy: doc(allowAws({ AWS: `arn:aws:iam::${ACCOUNT}:role/alice` })), req: caller(USER), expect: 'implicit-deny' },
  { name: 'a session ARN principal matches only that session', policy: doc(allowAws({ AWS: ROLE_SESSION })), req: caller(`arn:aws:sts::${ACCOUNT}:assumed-role/wi-role/another-session`), expect: 'implicit-deny' },
  { name: 'a Federated list allows each listed provider', policy: doc({ Effect: 'Allow', Principal: { Federated: [OTHER_PROVIDER, PROVIDER] }, Action: 'sts:AssumeRoleWithWebIdentity' }), req: web({}), expect: 'allow' },
  { name: 'a Service principal allows that service', policy: doc(allowAws({ Service: 'ec2.amazonaws.com' })), req: { action: 'sts:AssumeRole', principal: { type: 'Service', id: 'ec2.amazonaws.com' }, context: {} }, expect: 'allow' },
  { name: 'a Service principal does not allow another service', policy: doc(allowAws({ Service: 'ec2.amazonaws.com' })), req: { action: 'sts:AssumeRole', principal: { type: 'Service', id: 'lambda.amazonaws.com' }, context: {} }, expect: 'implicit-deny' },
  { name: 'a provider ARN presented as an AWS principal does not match Federated', policy: GENERATED, req: { ...web({ sub: SUBJECTS[0] as string, aud: 'sts.amazonaws.com' }), principal: { type: 'AWS', id: PROVIDER } }, expect: 'implicit-deny' },
  {
    name: 'Deny with NotPrincipal denies everyone not listed',
    policy: doc(allowAws({ AWS: ACCOUNT }), { Effect: 'Deny', NotPrincipal: { AWS: ROLE }, Action: 'sts:AssumeRole' }),
    req: caller(OTHER_ROLE_SESSION),
    expect: 'explicit-deny',
    statement: 1,
  },
  { name: 'Deny with NotPrincipal spares the listed role', policy: doc(allowAws({ AWS: ACCOUNT }), { Effect: 'Deny', NotPrincipal: { AWS: ROLE }, Action: 'sts:AssumeRole' }), req: caller(ROLE), expect: 'allow', statement: 0 },
  {
    name: 'in NotPrincipal a role ARN does not cover its sessions (AWS: list the session ARN too)',
    policy: doc(allowAws({ AWS: ACCOUNT }), { Effect: 'Deny', NotPrincipal: { AWS: ROLE }, Action: 'sts:AssumeRole' }),
    req: caller(ROLE_SESSION),
    expect: 'explicit-deny',
  },
  { name: 'Allow with NotPrincipal allows those not listed', policy: doc({ Effect: 'Allow', NotPrincipal: { AWS: USER }, Action: 'sts:AssumeRole' }), req: caller(ROLE_SESSION), expect: 'allow' },
  { name: 'Allow with NotPrincipal does not allow the listed principal', policy: doc({ Effect: 'Allow', NotPrincipal: { AWS: USER }, Action: 'sts:AssumeRole' }), req: caller(USER), expect: 'implicit-deny', reason: /NotPrincipal excludes/ },

  // -- actions ---------------------------------------------------------------------------------------------------
  { name: 'Action sts:* matches AssumeRoleWithWebIdentity', policy: doc({ ...allowWeb(), Action: 'sts:*' }), req: web({}), expect: 'allow' },
  { name: 'Action sts:AssumeRole* matches AssumeRoleWithWebIdentity', policy: doc({ ...allowWeb(), Action: 'sts:AssumeRole*' }), req: web({}), expect: 'allow' },
  { name: 'Action sts:AssumeRole* does not match TagSession', policy: doc({ ...allowWeb(), Action: 'sts:AssumeRole*' }), req: { ...web({}), action: 'sts:TagSession' }, expect: 'implicit-deny' },
  { name: 'Action matching is case-insensitive', policy: doc({ ...allowWeb(), Action: 'STS:assumerolewithwebidentity' }), req: web({}), expect: 'allow' },
  { name: 'Action ? matches one character', policy: doc(allowAws({ AWS: ACCOUNT }, { Action: 'sts:AssumeRol?' })), req: caller(ROLE_SESSION), expect: 'allow' },
  { name: 'Action ? does not match a longer action', policy: doc(allowAws({ AWS: ACCOUNT }, { Action: 'sts:AssumeRol?' })), req: caller(ROLE_SESSION, {}, 'sts:AssumeRoleWithSAML'), expect: 'implicit-deny' },
  { name: 'Action "*" matches every action', policy: doc(allowAws({ AWS: ACCOUNT }, { Action: '*' })), req: caller(ROLE_SESSION, {}, 'sts:SetSourceIdentity'), expect: 'allow' },
  { name: 'an Action list allows sts:TagSession alongside web identity', policy: doc({ ...allowWeb(), Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'] }), req: { ...web({}), action: 'sts:TagSession' }, expect: 'allow' },
  { name: 'NotAction allows actions not listed', policy: doc(allowAws({ AWS: ACCOUNT }, { Action: undefined, NotAction: 'sts:TagSession' })), req: caller(ROLE_SESSION), expect: 'allow' },
  { name: 'NotAction does not allow the listed action', policy: doc(allowAws({ AWS: ACCOUNT }, { Action: undefined, NotAction: 'sts:TagSession' })), req: caller(ROLE_SESSION, {}, 'sts:TagSession'), expect: 'implicit-deny', reason: /NotAction excludes sts:TagSession/ },

  // -- Allow / Deny --------------------------------------------------------------------------------------------------
  {
    name: 'an explicit Deny beats an Allow that matches',
    policy: doc(allowWeb(), { Sid: 'NoKubeSystem', Effect: 'Deny', Principal: '*', Action: 'sts:*', Condition: { StringLike: { [SUB]: 'system:serviceaccount:kube-system:*' } } }),
    req: web({ sub: 'system:serviceaccount:kube-system:default' }),
    expect: 'explicit-deny',
    statement: 1,
    reason: /Statement\[1\] \(Sid NoKubeSystem\) explicitly denies sts:AssumeRoleWithWebIdentity/,
  },
  { name: 'an explicit Deny listed first also wins', policy: doc({ Effect: 'Deny', Principal: { AWS: USER }, Action: 'sts:AssumeRole' }, allowAws({ AWS: ACCOUNT })), req: caller(USER), expect: 'explicit-deny', statement: 0 },
  {
    name: 'a Deny whose condition does not hold leaves the Allow standing',
    policy: doc(allowWeb(), { Effect: 'Deny', Principal: '*', Action: 'sts:*', Condition: { StringLike: { [SUB]: 'system:serviceaccount:kube-system:*' } } }),
    req: web({ sub: 'system:serviceaccount:ns:sa' }),
    expect: 'allow',
    statement: 0,
  },
  { name: 'the first matching Allow is reported', policy: doc(allowAws({ AWS: USER }), allowAws({ AWS: ACCOUNT }), allowAws({ AWS: ROLE })), req: caller(ROLE_SESSION), expect: 'allow', statement: 1 },
  { name: 'a policy with only Deny statements denies implicitly', policy: doc({ Effect: 'Deny', Principal: { AWS: USER }, Action: 'sts:AssumeRole' }), req: caller(ROLE_SESSION), expect: 'implicit-deny', reason: /no Allow statement/ },
  { name: 'a single statement object (not an array) is statement 0', policy: { Version: '2012-10-17', Statement: allowAws({ AWS: ACCOUNT }) }, req: caller(ROLE_SESSION), expect: 'allow', statement: 0 },
];
