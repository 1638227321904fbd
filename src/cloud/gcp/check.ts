/**
 * Checks a workload identity pool provider, as Google holds it, and optionally the allow policy of
 * the service account the components become, against a Deployment. For each component's token it
 * runs what Google's STS does — provider enabled, issuer, audience, attribute mapping, attribute
 * condition, `google.subject` — with the sandbox's own mapping and CEL evaluator, and then looks for
 * a `roles/iam.workloadIdentityUser` binding naming the token's principal or a principal set it
 * belongs to.
 *
 * Who else gets in: a token of another namespace is put through the same provider (does its
 * condition pin the Deployment's namespace?) and through the policy as a member of the same pool
 * (a pool is per cluster: every Deployment of the cluster has identities in it, so a
 * `principalSet://…/*` binding lets all of them in, whatever this provider's condition says).
 */
import { applyMapping, compileMapping, MappingError, MAX_SUBJECT_BYTES, type CompiledMapping } from '../../emulators/gcp/attribute-mapping.ts';
import { CelSyntaxError, evaluateCondition, parseCel, type CelNode } from '../../emulators/gcp/cel.ts';
import { defaultAudiences, type PoolName } from '../../emulators/gcp/resource-names.ts';
import { principalOf, principalSetsOf, type FederatedIdentity } from '../../emulators/gcp/tokens.ts';
import { AppError } from '../../errors/index.ts';
import { jsonDocument } from '../document.ts';
import type { SetupInput, SetupResult, TrustCheck, TrustFinding } from '../types.ts';
import { planGcpSetup } from './plan.ts';

const PROVIDER_EXAMPLE = 'gcloud iam workload-identity-pools providers describe ns-etl-7f3k2q9x --project=data-lake-prod --location=global --workload-identity-pool=airlock-prod-gcp --format=json';
const POLICY_EXAMPLE = 'gcloud iam service-accounts get-iam-policy lake-loader@data-lake-prod.iam.gserviceaccount.com --format=json';
const PROVIDER_NAME = /^projects\/([1-9][0-9]{0,18})\/locations\/global\/workloadIdentityPools\/([a-z0-9-]{4,32})\/providers\/([a-z0-9-]{4,32})$/;
const WORKLOAD_IDENTITY_USER = 'roles/iam.workloadIdentityUser';
const OTHER_NAMESPACE = 'airlock-check-other';

interface Provider {
  name: string;
  pool: PoolName;
  providerId: string;
  enabled: boolean;
  issuerUri: string;
  audiences: string[];
  mapping: CompiledMapping;
  condition: CelNode | undefined;
}

const bad = (field: string, message: string, example: unknown = PROVIDER_EXAMPLE) => new AppError('ERR_VALIDATION', message, { field, example });

function parsed(doc: unknown, field: string, example: string): Record<string, unknown> {
  const v = jsonDocument(doc, field, example);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(field, `${field} must be a JSON object, as \`--format=json\` prints it`, example);
  return v as Record<string, unknown>;
}

/** The provider as `gcloud … providers describe --format=json` prints it (Google's REST resource). */
function providerOf(doc: unknown): Provider {
  const p = parsed(doc, 'provider', PROVIDER_EXAMPLE);
  const m = typeof p.name === 'string' ? PROVIDER_NAME.exec(p.name) : null;
  if (!m) throw bad('provider.name', 'provider.name must be the provider\'s resource name, projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>');
  const oidc = (p.oidc ?? {}) as Record<string, unknown>;
  if (typeof oidc.issuerUri !== 'string') throw bad('provider.oidc.issuerUri', 'provider.oidc.issuerUri is missing: only OIDC providers federate Airlock tokens');
  const allowed = oidc.allowedAudiences ?? [];
  if (!Array.isArray(allowed) || !allowed.every((a) => typeof a === 'string')) throw bad('provider.oidc.allowedAudiences', 'provider.oidc.allowedAudiences must be a list of strings');
  const rawMapping = p.attributeMapping;
  if (!rawMapping || typeof rawMapping !== 'object' || !Object.values(rawMapping).every((v) => typeof v === 'string')) {
    throw bad('provider.attributeMapping', 'provider.attributeMapping must map attribute names to CEL expressions');
  }
  const { mapping, problems } = compileMapping(rawMapping as Record<string, string>);
  if (!mapping || problems.length) {
    const first = problems[0];
    throw bad(first ? `provider.attributeMapping["${first.key}"]` : 'provider.attributeMapping', `provider.attributeMapping: ${first?.message ?? 'google.subject must be mapped'}`, { 'google.subject': 'assertion.sub' });
  }
  let condition: CelNode | undefined;
  if (typeof p.attributeCondition === 'string' && p.attributeCondition.trim() !== '') {
    try {
      condition = parseCel(p.attributeCondition);
    } catch (err) {
      if (!(err instanceof CelSyntaxError)) throw err;
      throw bad('provider.attributeCondition', `provider.attributeCondition: ${err.message}`, "attribute.namespace == 'etl-7f3k2q9x'");
    }
  }
  const [, projectNumber, poolId, providerId] = m as unknown as [string, string, string, string];
  const pool = { projectNumber, poolId };
  return {
    name: p.name as string,
    pool,
    providerId,
    enabled: p.disabled !== true && (p.state === undefined || p.state === 'ACTIVE'),
    issuerUri: oidc.issuerUri,
    audiences: allowed.length ? (allowed as string[]) : defaultAudiences({ ...pool, providerId }),
    mapping,
    condition,
  };
}

/** The bindings of `gcloud … get-iam-policy --format=json` (conditions are not evaluated: a conditional binding counts). */
function bindingsOf(doc: unknown, field: string): { role: string; members: string[] }[] {
  const p = parsed(doc, field, POLICY_EXAMPLE);
  const bindings = p.bindings ?? [];
  if (!Array.isArray(bindings)) throw bad(`${field}.bindings`, `${field}.bindings must be a list`, POLICY_EXAMPLE);
  return bindings.map((b: unknown, i) => {
    const { role, members } = (b ?? {}) as { role?: unknown; members?: unknown };
    if (typeof role !== 'string' || !Array.isArray(members) || !members.every((x) => typeof x === 'string')) {
      throw bad(`${field}.bindings[${i}]`, 'a binding needs a role and a list of members', POLICY_EXAMPLE);
    }
    return { role, members: members as string[] };
  });
}

/** The members of each `roles/iam.workloadIdentityUser` binding. */
function workloadIdentityUsers(doc: unknown): string[] {
  return bindingsOf(doc, 'serviceAccountPolicy').flatMap((b) => (b.role === WORKLOAD_IDENTITY_USER ? b.members : []));
}

interface Admission {
  admitted: boolean;
  reason: string;
  /** The token's principal and every principal set it belongs to, when admitted. */
  principals: string[];
}

/** What Google's STS does with one token, in its order. */
function admit(p: Provider, claims: Record<string, unknown>): Admission {
  const refuse = (reason: string): Admission => ({ admitted: false, reason, principals: [] });
  if (!p.enabled) return refuse(`provider ${p.providerId} is disabled or deleted (invalid_target)`);
  if (claims.iss !== p.issuerUri) {
    const hint = String(claims.iss).replace(/\/+$/, '') === p.issuerUri.replace(/\/+$/, '') ? '; they differ by a trailing slash, and Google compares exactly' : '';
    return refuse(`the provider's issuer is ${p.issuerUri}, the token's ${String(claims.iss)}${hint} (invalid_grant)`);
  }
  const aud = claims.aud as string[];
  if (!aud.some((a) => p.audiences.includes(a))) return refuse(`the token's audience ${aud.join(', ')} is not among the provider's allowed audiences ${p.audiences.join(', ')} (invalid_grant)`);
  let mapped;
  try {
    mapped = applyMapping(p.mapping, claims);
  } catch (err) {
    if (err instanceof MappingError) return refuse(`the attribute mapping fails: ${err.message} (invalid_request)`);
    throw err;
  }
  if (p.condition) {
    const r = evaluateCondition(p.condition, { assertion: claims, attribute: mapped.attributes, google: mapped.google });
    if (!r.pass) return refuse(`rejected by the attribute condition: ${r.reason} (unauthorized_client)`);
  }
  if (!mapped.subject) return refuse('the mapping gives an empty google.subject (invalid_request)');
  if (Buffer.byteLength(mapped.subject, 'utf8') > MAX_SUBJECT_BYTES) return refuse(`google.subject is longer than ${MAX_SUBJECT_BYTES} bytes (invalid_request)`);
  // The identity the sandbox's STS would issue a token for, and the members IAM matches it by.
  const { subject: _subject, ...google } = mapped.google;
  const identity: FederatedIdentity = { kind: 'federated', pool: p.pool, providerId: p.providerId, subject: mapped.subject, google, attributes: mapped.attributes };
  return { admitted: true, reason: `the provider admits it as ${principalOf(identity)}`, principals: [principalOf(identity), ...principalSetsOf(identity)] };
}

function claimsOf(issuer: string, audience: string, namespace: string, serviceAccount: string): Record<string, unknown> {
  const now = Math.floor(Date.UTC(2026, 0, 1) / 1000);
  return {
    iss: issuer,
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    aud: [audience],
    iat: now,
    nbf: now,
    exp: now + 3600,
    'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: '00000000-0000-0000-0000-000000000000' } },
  };
}

export function checkGcpTrust(
  input: SetupInput,
  _setup: SetupResult,
  docs: { provider: unknown; serviceAccountPolicy?: unknown; targetPolicy?: unknown },
): { checked: string; checks: TrustCheck[]; findings: TrustFinding[] } {
  const full = planGcpSetup(input);
  const plan = full.federation;
  if (docs.targetPolicy !== undefined && full.grants.length === 0) {
    throw new AppError('ERR_VALIDATION', `targetPolicy is for a Deployment on the default identity (impersonation or a direct grant); ${input.deployment.name} becomes ${plan.serviceAccountEmail} itself, whose policy is serviceAccountPolicy`, {
      field: 'targetPolicy',
      example: 'leave it out',
    });
  }
  const granted = docs.targetPolicy === undefined ? undefined : bindingsOf(docs.targetPolicy, 'targetPolicy');
  const provider = providerOf(docs.provider);
  const users = docs.serviceAccountPolicy === undefined ? undefined : workloadIdentityUsers(docs.serviceAccountPolicy);
  const findings: TrustFinding[] = [];
  // The setup may not know the project number yet (a placeholder); the provider's name has it.
  const audience = plan.projectNumberPlaceholder ? plan.audience.replace(`\${${plan.projectNumberPlaceholder}}`, provider.pool.projectNumber) : plan.audience;
  if (plan.projectNumberPlaceholder) {
    const how =
      plan.side === 'customer'
        ? `airlock identity save --name <name> --gcp-service-account ${plan.serviceAccountEmail} --gcp-project-number ${provider.pool.projectNumber}, then use that saved identity`
        : `airlock cluster update ${input.cluster.name} --default-identity-project-number ${provider.pool.projectNumber}`;
    findings.push({
      severity: 'error',
      message: `Airlock does not know the project number of ${plan.projectId}, which the tokens' audience needs, so it gives the Deployment no GCP tokens yet (checked as if it were ${provider.pool.projectNumber}, the provider's). Set it: ${how}`,
    });
  } else if (plan.projectNumber !== provider.pool.projectNumber) {
    findings.push({ severity: 'warning', message: `the provider is in project number ${provider.pool.projectNumber}; Airlock knows ${plan.projectId} as ${plan.projectNumber}, so the tokens carry that number in their audience` });
  }
  if (plan.poolId !== provider.pool.poolId || plan.providerId !== provider.providerId) {
    findings.push({ severity: 'warning', message: `the setup names provider ${plan.providerId} in pool ${plan.poolId}; this is ${provider.providerId} in pool ${provider.pool.poolId}, which the Deployment's credential configuration does not use` });
  }
  const bound = (principals: string[]) => users?.find((u) => principals.includes(u));

  const checks: TrustCheck[] = input.components.map((c) => {
    const a = admit(provider, claimsOf(input.cluster.oidcIssuerUrl, audience, input.deployment.namespace, c.serviceAccount));
    if (!a.admitted) return { principal: c.subject, component: c.component, trusted: false, reason: a.reason };
    if (!users) return { principal: c.subject, component: c.component, trusted: true, reason: `${a.reason} (the grant on ${plan.serviceAccountEmail} was not checked: no serviceAccountPolicy)` };
    const by = bound(a.principals);
    return by
      ? { principal: c.subject, component: c.component, trusted: true, reason: `${a.reason}; ${by} holds ${WORKLOAD_IDENTITY_USER} on ${plan.serviceAccountEmail}` }
      : { principal: c.subject, component: c.component, trusted: false, reason: `${a.reason}, but no ${WORKLOAD_IDENTITY_USER} binding on ${plan.serviceAccountEmail} names it or a principal set it belongs to (generateAccessToken: PERMISSION_DENIED)` };
  });
  // The customer's side of a default route: what it grants the default identity.
  for (const g of granted ? full.grants : []) {
    const where = g.resource === 'serviceAccount' ? g.serviceAccountEmail : `project ${g.projectId}`;
    const ok = granted!.some((b) => b.role === g.role && b.members.includes(g.member));
    checks.push({
      principal: g.member,
      trusted: ok,
      reason: ok ? `holds ${g.role} on ${where}` : `no ${g.role} binding on ${where} names ${g.member} (${g.resource === 'serviceAccount' ? 'generateAccessToken' : 'the API call'}: PERMISSION_DENIED)`,
    });
  }
  if (!users) {
    findings.push({ severity: 'info', message: `only the provider was checked; add the service account's policy (${POLICY_EXAMPLE.replace('lake-loader@data-lake-prod.iam.gserviceaccount.com', plan.serviceAccountEmail)}) to check the grant` });
  }

  // Another namespace's token: through this provider, and as a member of the same pool.
  const otherSa = `${OTHER_NAMESPACE}-worker-serviceaccount`;
  const other = claimsOf(input.cluster.oidcIssuerUrl, audience, OTHER_NAMESPACE, otherSa);
  const throughProvider = admit(provider, other);
  const outsiderActs = throughProvider.admitted && bound(throughProvider.principals) !== undefined;
  if (throughProvider.admitted && !input.wildcard) {
    findings.push({
      severity: outsiderActs ? 'error' : 'warning',
      message: `provider ${provider.providerId} admits service accounts outside Deployment ${input.deployment.name} (for example ${String(other.sub)}): its attribute condition does not pin namespace ${input.deployment.namespace}${outsiderActs ? `, and the service account's policy lets it act as ${plan.serviceAccountEmail}` : ''}${input.cluster.type === 'dedicated' ? ' (if you chose the wildcard setup for this dedicated cluster, check with --wildcard)' : ''}`,
    });
  }
  if (users && !outsiderActs) {
    // Another provider of the pool (another Deployment's) admits its own namespace; what would the policy let in?
    const sameMapping = { ...provider, condition: undefined, enabled: true, issuerUri: input.cluster.oidcIssuerUrl, audiences: [audience] };
    const neighbour = admit(sameMapping, other);
    const by = neighbour.admitted ? bound(neighbour.principals.slice(1)) : undefined;
    if (by && !input.wildcard) {
      findings.push({
        severity: 'error',
        message: `${by} holds ${WORKLOAD_IDENTITY_USER} on ${plan.serviceAccountEmail}: it takes in identities of other Deployments in pool ${provider.pool.poolId} too (every Deployment of cluster ${input.cluster.name} shares the pool), whatever this provider's condition says. Bind the Deployment's principal://…/subject/… members instead`,
      });
    }
  }
  return { checked: plan.serviceAccountEmail, checks, findings };
}
