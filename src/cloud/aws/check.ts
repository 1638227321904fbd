/**
 * Checks a role's trust policy, as IAM holds it, against a Deployment: for each component's token,
 * would STS let it assume the role (`AssumeRoleWithWebIdentity`)? On the default identity route,
 * would the platform's default role be let in (`AssumeRole`)? The policy goes through the same
 * parser and evaluator as the sandbox's STS (src/aws-policy), so a policy IAM would reject (a
 * repeated key, a `Resource`, an unknown operator) is refused here with the place at fault.
 *
 * Then the reviewer's question: who else gets in? Tokens the Deployment must not be able to stand
 * in for are evaluated too: a service account of another namespace on the same issuer, the same
 * subjects from another OIDC provider, a token meant for another audience; on the default route,
 * another role of the platform account.
 */
import { evaluateTrustPolicy, parseTrustPolicy, type PolicyDocument, type TrustRequest } from '../../aws-policy/trust-policy.ts';
import { AppError } from '../../errors/index.ts';
import { AUDIENCE, type SetupInput, type SetupResult, type TrustCheck, type TrustFinding } from '../types.ts';
import { issuerHostPath, parseRoleArn, roleSessionName } from './setup.ts';

const EXAMPLE = 'aws iam get-role --role-name etl-reader --output json';
/** A namespace no Deployment has (Deployment namespaces end in a random suffix of 8). */
const OTHER_NAMESPACE = 'airlock-check-other';
const OTHER_PROVIDER_HOST = 'oidc.airlock-check.invalid/other-issuer';
/** The session name the default-route probe uses (Airflow names its sessions `Airflow_<conn_id>`). */
const PROBE_SESSION = 'Airflow_aws_default';

/**
 * The trust policy out of what the user has: the document itself (JSON text or parsed), or the
 * whole `aws iam get-role` answer. Text goes to the policy parser as text, so a key repeated in
 * the user's own file is caught (JSON.parse would keep the last one silently; IAM refuses it).
 */
function trustPolicyOf(doc: unknown, field = 'trustPolicy'): PolicyDocument {
  let value: unknown = doc;
  if (typeof doc === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(doc);
    } catch {
      parsed = undefined; // not JSON at all: the policy parser says where
    }
    if (!(parsed && typeof parsed === 'object' && 'Role' in parsed)) return asPolicy(urlDecoded(doc, field), field);
    value = parsed;
  }
  if (value && typeof value === 'object' && 'Role' in value) {
    const role = (value as { Role: unknown }).Role;
    const inner = role && typeof role === 'object' ? (role as { AssumeRolePolicyDocument?: unknown }).AssumeRolePolicyDocument : undefined;
    if (inner === undefined) {
      throw new AppError('ERR_VALIDATION', `${field} looks like \`aws iam get-role\` output but has no Role.AssumeRolePolicyDocument`, { field: `${field}.Role`, example: EXAMPLE });
    }
    // The IAM API answers it URL-encoded; the AWS CLI decodes it.
    value = typeof inner === 'string' ? urlDecoded(inner, field) : inner;
  }
  return asPolicy(value, field);
}

function asPolicy(value: unknown, field: string): PolicyDocument {
  if (typeof value !== 'string' && (typeof value !== 'object' || value === null)) {
    throw new AppError('ERR_VALIDATION', `${field} must be a trust policy document (JSON) or \`aws iam get-role\` output`, { field, example: EXAMPLE });
  }
  try {
    return parseTrustPolicy(value);
  } catch (err) {
    if (err instanceof AppError) {
      throw new AppError(err.code, err.message, { field: err.field ? `${field}.${err.field}` : field, example: err.example, cause: err });
    }
    throw err;
  }
}

/** The request STS evaluates for a token of `subject`, with the session name Airlock's env gives it. */
function webIdentity(providerArn: string, hostPath: string, subject: string, audience: string, sessionName: string): TrustRequest {
  return {
    action: 'sts:AssumeRoleWithWebIdentity',
    principal: { type: 'Federated', id: providerArn },
    context: { [`${hostPath}:sub`]: subject, [`${hostPath}:aud`]: audience, 'aws:FederatedProvider': providerArn, 'sts:RoleSessionName': sessionName },
  };
}

/** `%7B…`: the IAM API's URL-encoded form of a policy; anything else is left as it is. */
function urlDecoded(text: string, field: string): string {
  if (!text.trim().startsWith('%7B')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new AppError('ERR_VALIDATION', `${field} looks URL-encoded (as the IAM API answers it) but does not decode`, { field, example: EXAMPLE });
  }
}

function sessionOf(roleArn: string): TrustRequest {
  const role = parseRoleArn(roleArn, 'deployment');
  return {
    action: 'sts:AssumeRole',
    principal: { type: 'AWS', id: `arn:${role.partition}:sts::${role.accountId}:assumed-role/${role.name}/${PROBE_SESSION}` },
    context: { 'aws:PrincipalArn': roleArn, 'aws:PrincipalAccount': role.accountId, 'aws:PrincipalType': 'AssumedRole', 'sts:RoleSessionName': PROBE_SESSION },
  };
}

function outcome(policy: PolicyDocument, req: TrustRequest): { trusted: boolean; reason: string } {
  const d = evaluateTrustPolicy(policy, req);
  if (d.decision === 'allow') return { trusted: true, reason: `allowed by Statement[${d.statement}]` };
  return { trusted: false, reason: d.reason };
}

export function checkAwsTrust(input: SetupInput, setup: SetupResult, doc: unknown, platformDoc?: unknown): { checked: string; checks: TrustCheck[]; findings: TrustFinding[] } {
  const aws = setup.aws!;
  const hostPath = issuerHostPath(setup.issuerUrl);
  const providerArn = aws.oidcProviderArn!;
  if (platformDoc !== undefined && !aws.platform) {
    throw new AppError('ERR_VALIDATION', `platformTrustPolicy is for a Deployment on the default identity; ${input.deployment.name} uses its own role, whose trust policy is trustPolicy`, {
      field: 'platformTrustPolicy',
      example: 'leave it out',
    });
  }
  const policy = trustPolicyOf(doc);
  const findings: TrustFinding[] = [];

  if (aws.platform) {
    // Default identity: the customer's role is assumed by the platform's default role.
    const check = outcome(policy, sessionOf(aws.platform.roleArn));
    const checks: TrustCheck[] = [{ principal: aws.platform.roleArn, ...check }];
    if (platformDoc !== undefined) {
      // The operator's side: the default role trusts the Deployment's tokens, and nobody else's.
      const operator = webIdentityChecks(input, trustPolicyOf(platformDoc, 'platformTrustPolicy'), providerArn, hostPath, aws.platform.roleArn);
      checks.unshift(...operator.checks);
      findings.push(...operator.findings.map((f) => ({ ...f, message: `default role ${aws.platform!.roleArn}: ${f.message}` })));
    }
    const platform = parseRoleArn(aws.platform.roleArn, 'deployment');
    const otherRole = `arn:${platform.partition}:iam::${platform.accountId}:role/airlock-check-other-role`;
    if (check.trusted && outcome(policy, sessionOf(otherRole)).trusted) {
      findings.push({
        severity: 'warning',
        message: `the policy lets any role of account ${platform.accountId} assume ${aws.roleArn}, not only the default role ${aws.platform.roleArn}: name the role in Principal.AWS instead of the account`,
      });
    }
    if (outcome(policy, webIdentity(providerArn, hostPath, input.components[0]!.subject, AUDIENCE.aws, roleSessionName(input.deployment.name, input.components[0]!.component))).trusted) {
      findings.push({ severity: 'info', message: `the policy also trusts the cluster's tokens directly (web identity); the default route does not need that` });
    }
    return { checked: aws.roleArn, checks, findings };
  }

  const r = webIdentityChecks(input, policy, providerArn, hostPath, aws.roleArn);
  return { checked: aws.roleArn, checks: r.checks, findings: r.findings };
}

/** Each component's token against a web-identity trust policy, then the tokens that must not get in. */
function webIdentityChecks(input: SetupInput, policy: PolicyDocument, providerArn: string, hostPath: string, roleArn: string): { checks: TrustCheck[]; findings: TrustFinding[] } {
  const findings: TrustFinding[] = [];
  const checks: TrustCheck[] = input.components.map((c) => ({ principal: c.subject, component: c.component, ...outcome(policy, webIdentity(providerArn, hostPath, c.subject, AUDIENCE.aws, roleSessionName(input.deployment.name, c.component))) }));
  // Who else gets in is asked with a token the policy does let in, changed in one respect.
  const trusted = checks.find((c) => c.trusted);
  if (!trusted) return { checks, findings };
  const session = roleSessionName(input.deployment.name, trusted.component!);

  const otherSubject = `system:serviceaccount:${OTHER_NAMESPACE}:${OTHER_NAMESPACE}-worker-serviceaccount`;
  if (outcome(policy, webIdentity(providerArn, hostPath, otherSubject, AUDIENCE.aws, session)).trusted) {
    findings.push(
      input.wildcard
        ? { severity: 'info', message: `the policy trusts every service account of cluster ${input.cluster.name} (the wildcard setup you asked for): any workload on it can assume ${roleArn}` }
        : {
            severity: 'error',
            message: `the policy trusts service accounts outside Deployment ${input.deployment.name} (for example ${otherSubject}): any workload on cluster ${input.cluster.name} could assume ${roleArn}. List the Deployment's subjects with StringEquals on ${hostPath}:sub${input.cluster.type === 'dedicated' ? ' (or, if you chose the wildcard setup for this dedicated cluster, check with --wildcard)' : ''}`,
          },
    );
  }
  const otherProvider = providerArn.replace(/oidc-provider\/.*$/, `oidc-provider/${OTHER_PROVIDER_HOST}`);
  if (outcome(policy, webIdentity(otherProvider, OTHER_PROVIDER_HOST, trusted.principal, AUDIENCE.aws, session)).trusted) {
    findings.push({
      severity: 'error',
      message: `the policy trusts tokens from OIDC providers other than ${providerArn}: a token from any issuer with the same subject could assume ${roleArn}. Name the provider in Principal.Federated`,
    });
  }
  if (outcome(policy, webIdentity(providerArn, hostPath, trusted.principal, AUDIENCE.azure, session)).trusted) {
    findings.push({
      severity: 'warning',
      message: `the policy does not check the audience: add StringEquals ${hostPath}:aud = ${AUDIENCE.aws}. STS also refuses an audience the OIDC provider does not list, so this is a second lock, not the only one`,
    });
  }
  return { checks, findings };
}