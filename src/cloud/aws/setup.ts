/**
 * AWS setup for a Deployment's workload identity: what the user runs in IAM so that the
 * Deployment's Kubernetes service-account tokens (issued by its cluster's Airlock issuer) can
 * become an IAM role, and the Airflow connection that uses it.
 *
 * Two routes, as in the product guide:
 *
 * - **customer-managed** ("Attach an IAM role to your Deployment"): the customer's own role
 *   trusts the cluster issuer through an IAM OIDC provider in the customer's account, for exactly
 *   the Deployment's six service-account subjects (`sts:AssumeRoleWithWebIdentity`).
 * - **default** ("Alternative setup: Authorize your Deployment with AWS IAM roles"): the platform's
 *   default role trusts the issuer in the platform account, and the customer's role trusts that
 *   default role (`sts:AssumeRole`, role chaining).
 *
 * One deliberate departure from the guide: its "Specify Kubernetes service accounts" example
 * repeats the `"<issuer>:sub"` key six times inside one `StringLike` object. That is not valid
 * JSON (or, read leniently, keeps only the last subject), and IAM rejects it. Airlock writes the
 * subjects as ONE key whose value is an array (IAM ORs the values), under `StringEquals` because
 * the subjects are exact; only the dedicated-cluster wildcard uses `StringLike`.
 *
 * Everything here is a pure function of {@link SetupInput}: no clock, no randomness, stable key
 * order, so the golden files under test/fixtures/setup/ can be compared byte for byte.
 */
import { WILDCARD_SUBJECT, type ComponentIdentity } from '../../deployments/components.ts';
import { AppError } from '../../errors/index.ts';
import {
  HCL_BLANK,
  hclAttribute,
  hclBlock,
  hclComment,
  hclIdentifier,
  hclJsonencode,
  hclReference,
  renderHcl,
  type HclBody,
  type HclExpression,
  type HclInput,
} from '../hcl.ts';
import { shellArg as sh } from '../shell.ts';
import { AUDIENCE, type CloudDelivery, type CloudProvider, type Placeholder, type SetupInput, type SetupResult, type SetupStep } from '../types.ts';

/** Where Airlock writes each component's AWS-audience token (the Airflow connection reads it). */
export const AWS_TOKEN_FILE = '/var/run/secrets/airlock/tokens/aws/token';

/** The Airflow connection id the generated commands create. AWS hooks use it when given no other. */
export const AWS_CONNECTION_ID = 'aws_default';

/** The partitions a role ARN may name. */
export const AWS_PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const;
/** An AWS partition Airlock generates ARNs for. */
export type AwsPartition = (typeof AWS_PARTITIONS)[number];

/** A role ARN taken apart. */
export interface ParsedRoleArn {
  arn: string;
  partition: AwsPartition;
  accountId: string;
  /** `/` or `/a/b/`, as IAM stores it. */
  path: string;
  /** The last segment: what `--role-name` and `aws_iam_role.name` take. */
  name: string;
}

// IAM: role names are 1-64 of [\w+=,.@-]; a path is `/` or `/…/` of printable ASCII (U+0021-U+007E).
const ROLE_ARN = /^arn:([a-z-]+):iam::(\d{12}):role\/(.+)$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const PATH_SEGMENT = /^[\x21-\x2e\x30-\x7e]+$/;
const ROLE_ARN_EXAMPLE = 'arn:aws:iam::123456789012:role/airflow-etl';

/**
 * Parses an IAM role ARN (`arn:<partition>:iam::<account>:role/[<path>/]<name>`).
 * Throws `AppError('ERR_VALIDATION')` naming `field` when it is not one.
 */
export function parseRoleArn(arn: string, field = 'identity.roleArn'): ParsedRoleArn {
  const bad = (why: string): never => {
    throw new AppError('ERR_VALIDATION', `cloud(aws): ${JSON.stringify(arn)} is not an IAM role ARN: ${why}`, { field, example: ROLE_ARN_EXAMPLE });
  };
  const m = ROLE_ARN.exec(arn);
  if (!m) return bad('expected arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>');
  const [, partition, accountId, rest] = m as unknown as [string, string, string, string];
  if (!(AWS_PARTITIONS as readonly string[]).includes(partition)) return bad(`partition must be one of ${AWS_PARTITIONS.join(', ')}`);
  const segments = rest.split('/');
  const name = segments.pop()!;
  if (!ROLE_NAME.test(name)) return bad('the role name must be 1-64 of letters, digits and +=,.@_-');
  if (!segments.every((s) => PATH_SEGMENT.test(s))) return bad('the role path has an empty segment or a character outside printable ASCII');
  const path = segments.length === 0 ? '/' : `/${segments.join('/')}/`;
  if (path.length > 512) return bad('the role path is longer than 512 characters');
  return { arn, partition: partition as AwsPartition, accountId, path, name };
}

/**
 * The issuer as IAM names it: the URL without its scheme (`host[:port]/path`). This is both the
 * OIDC provider's resource name and the prefix of the `:aud` / `:sub` condition keys.
 */
export function issuerHostPath(issuerUrl: string): string {
  let url: URL;
  try {
    url = new URL(issuerUrl);
  } catch {
    throw new AppError('ERR_VALIDATION', `cloud(aws): the cluster issuer ${JSON.stringify(issuerUrl)} is not a URL`, { field: 'cluster.oidcIssuerUrl' });
  }
  const scheme = `${url.protocol}//`;
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !issuerUrl.startsWith(scheme)) {
    throw new AppError('ERR_VALIDATION', `cloud(aws): the cluster issuer ${JSON.stringify(issuerUrl)} must be an http(s) URL`, { field: 'cluster.oidcIssuerUrl' });
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new AppError('ERR_VALIDATION', `cloud(aws): the cluster issuer ${JSON.stringify(issuerUrl)} may not carry credentials, a query or a fragment`, { field: 'cluster.oidcIssuerUrl' });
  }
  return issuerUrl.slice(scheme.length);
}

/**
 * The role session name a component's workloads use (`AWS_ROLE_SESSION_NAME`): `<deployment>-<component>`,
 * what CloudTrail and the assumed-role ARN show. STS allows 2-64 of `[\w+=,.@-]`.
 */
export function roleSessionName(deployment: string, component: string): string {
  const clean = `${deployment}-${component}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return clean.length >= 2 ? clean : `airlock-${clean}`;
}

/** `arn:<partition>:iam::<account>:oidc-provider/<host+path>`. */
export function oidcProviderArn(partition: AwsPartition, accountId: string, hostPath: string): string {
  return `arn:${partition}:iam::${accountId}:oidc-provider/${hostPath}`;
}

/** A policy document as both outputs use it: JSON data, plus references when it is Terraform's. */
type PolicyJson = { [key: string]: HclInput };

/** A policy statement id: IAM allows only ASCII letters and digits. */
function sid(prefix: string, text: string): string {
  return `${prefix}${text.replace(/[^A-Za-z0-9]/g, '')}`;
}

/**
 * The web-identity trust policy: the issuer's OIDC provider may assume the role for the listed
 * subjects (or, `wildcard`, every service account of the cluster) with audience sts.amazonaws.com.
 *
 * `federated` is normally the provider ARN; the Terraform output passes a reference instead.
 */
function webIdentityTrustPolicy(o: { federated: string | HclExpression; hostPath: string; subjects: string[]; wildcard: boolean; sid: string }): PolicyJson {
  const aud = `${o.hostPath}:aud`;
  const sub = `${o.hostPath}:sub`;
  const Condition: PolicyJson = o.wildcard
    ? { StringEquals: { [aud]: AUDIENCE.aws }, StringLike: { [sub]: WILDCARD_SUBJECT } }
    : { StringEquals: { [aud]: AUDIENCE.aws, [sub]: [...o.subjects] } };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: o.sid,
        Effect: 'Allow',
        Principal: { Federated: o.federated },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition,
      },
    ],
  };
}

/** The customer's trust for the default route: the platform's default role may `sts:AssumeRole`. */
function roleChainingTrustPolicy(defaultRoleArn: string, statementId: string): PolicyJson {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: statementId, Effect: 'Allow', Principal: { AWS: defaultRoleArn }, Action: 'sts:AssumeRole' }],
  };
}

/** Everything both outputs (steps and Terraform) are built from. */
interface AwsPlan {
  input: SetupInput;
  hostPath: string;
  subjects: string[];
  wildcard: boolean;
  /** The account whose IAM holds the OIDC provider and the federated role. */
  federation: { partition: AwsPartition; accountId: string; providerArn: string; role: ParsedRoleArn; statementId: string };
  /** Default route only: the customer's role that trusts the default role. */
  chained?: { role: ParsedRoleArn | undefined; roleArn: string; statementId: string };
}

function plan(input: SetupInput): AwsPlan {
  const { identity } = input.identity;
  if (identity.cloud !== 'aws') throw new Error(`cloud(aws): setup called with a ${identity.cloud} identity`);
  if (input.components.length === 0) throw new Error('cloud(aws): a Deployment without components has nothing to trust');
  if (input.wildcard && input.cluster.type !== 'dedicated') {
    throw new AppError('ERR_RULE_VIOLATION', `cloud(aws): wildcard trust (${WILDCARD_SUBJECT}) is only allowed on dedicated clusters; cluster ${input.cluster.name} is ${input.cluster.type}`, { field: 'wildcard' });
  }
  const hostPath = issuerHostPath(input.cluster.oidcIssuerUrl);
  const subjects = input.components.map((c: ComponentIdentity) => c.subject);
  const statementId = input.wildcard ? sid('AirlockCluster', input.cluster.id) : sid('AirlockDeployment', input.deployment.namespace);

  if (input.identity.mode === 'customer-managed') {
    if (!('roleArn' in identity) || 'roleName' in identity) throw new Error('cloud(aws): customer-managed mode needs a customer identity');
    const role = parseRoleArn(identity.roleArn);
    return {
      input,
      hostPath,
      subjects,
      wildcard: input.wildcard,
      federation: { partition: role.partition, accountId: role.accountId, providerArn: oidcProviderArn(role.partition, role.accountId, hostPath), role, statementId },
    };
  }

  if (!('roleName' in identity)) throw new Error('cloud(aws): default mode needs a default identity');
  const defaultRole = parseRoleArn(identity.roleArn, 'identity.roleArn');
  if (defaultRole.accountId !== identity.accountId || defaultRole.name !== identity.roleName) {
    throw new Error(`cloud(aws): default identity ${identity.roleArn} does not match account ${identity.accountId} / role ${identity.roleName}`);
  }
  const target = input.target?.awsRoleArn;
  const customerRole = target === undefined ? undefined : parseRoleArn(target, 'target.awsRoleArn');
  if (customerRole && customerRole.partition !== defaultRole.partition) {
    throw new AppError('ERR_VALIDATION', `cloud(aws): ${customerRole.arn} is in partition ${customerRole.partition}; the default role ${defaultRole.arn} cannot assume a role outside ${defaultRole.partition}`, { field: 'target.awsRoleArn' });
  }
  return {
    input,
    hostPath,
    subjects,
    wildcard: input.wildcard,
    federation: {
      partition: defaultRole.partition,
      accountId: defaultRole.accountId,
      providerArn: oidcProviderArn(defaultRole.partition, defaultRole.accountId, hostPath),
      role: defaultRole,
      statementId,
    },
    chained: { role: customerRole, roleArn: customerRole?.arn ?? '${CUSTOMER_ROLE_ARN}', statementId: sid('AirlockDefaultIdentity', defaultRole.name) },
  };
}

const CUSTOMER_PLACEHOLDERS: Placeholder[] = [
  { name: 'CUSTOMER_ROLE_ARN', description: 'ARN of your IAM role that the Deployment should use; it trusts the default role (trust-policy.json). Replace it in the connection.' },
  { name: 'CUSTOMER_ROLE_NAME', description: 'Name of that role (the last part of its ARN). Export it (export CUSTOMER_ROLE_NAME=…) or replace it in the command.' },
];

function connection(roleArn: string, region: string, webIdentity: boolean): SetupResult['connection'] {
  // Extra keys as read by apache-airflow-providers-amazon (AwsConnectionWrapper and
  // BaseSessionFactory in hooks/base_aws.py): `assume_role_method` selects the STS call;
  // for web identity the token loader is chosen by `assume_role_with_web_identity_federation`
  // ("file" reads `assume_role_with_web_identity_token_file`, else AWS_WEB_IDENTITY_TOKEN_FILE).
  // Without the federation key the hook fails with "Unsupported federation: None".
  const extra: Record<string, unknown> = webIdentity
    ? {
        role_arn: roleArn,
        region_name: region,
        assume_role_method: 'assume_role_with_web_identity',
        assume_role_with_web_identity_federation: 'file',
        assume_role_with_web_identity_token_file: AWS_TOKEN_FILE,
      }
    : { role_arn: roleArn, region_name: region };
  return { conn_type: 'aws', extra };
}

function connectionStep(conn: SetupResult['connection']): SetupStep {
  const json = JSON.stringify(conn);
  return {
    title: 'Create the Airflow connection',
    description:
      `An "Amazon Web Services" connection with this Extra, created here with the Airflow CLI inside the Deployment. ` +
      `The same JSON works as the environment variable AIRFLOW_CONN_${AWS_CONNECTION_ID.toUpperCase()}, or paste the Extra in the Airflow UI. ` +
      `AWS operators use ${AWS_CONNECTION_ID} unless given another aws_conn_id.`,
    commands: [`airflow connections add ${AWS_CONNECTION_ID} --conn-json ${sh(json)}`],
  };
}

/** The SDK's own web-identity variables, so boto3's default chain (secrets backends, plain boto3) works too. */
function environment(p: AwsPlan): Record<string, string> {
  return {
    AWS_ROLE_ARN: p.federation.role.arn,
    AWS_WEB_IDENTITY_TOKEN_FILE: AWS_TOKEN_FILE,
    AWS_REGION: p.input.cluster.region,
    AWS_DEFAULT_REGION: p.input.cluster.region,
    AWS_STS_REGIONAL_ENDPOINTS: 'regional',
  };
}

function issuerNotes(p: AwsPlan): string[] {
  const issuer = p.input.cluster.oidcIssuerUrl;
  const url = new URL(issuer);
  const loopback = /^(127\.|localhost$|\[::1\]$)/.test(url.hostname);
  const reach =
    url.protocol !== 'https:' || loopback
      ? `Real AWS will not accept ${issuer}: IAM requires an OIDC provider URL that starts with https://, and STS fetches ${issuer}/.well-known/openid-configuration and the JWKS it names from the internet whenever it checks a token. ` +
        `This issuer works with Airlock's AWS emulator only; serve the cluster issuer at a public https URL for AWS.`
      : `STS fetches ${issuer}/.well-known/openid-configuration and the JWKS it names over https whenever it checks a token: the issuer must stay reachable from AWS.`;
  return [
    reach,
    'No --thumbprint-list: the thumbprint is optional in CreateOpenIDConnectProvider. AWS verifies the issuer\'s TLS certificate against its library of trusted root CAs and uses thumbprints only when the certificate is not signed by one of them (given none, IAM retrieves and stores the top intermediate CA\'s thumbprint itself). Pass --thumbprint-list only for an issuer behind a private CA.',
    `IAM holds one OIDC provider per issuer URL and account. If a Deployment on cluster ${p.input.cluster.name} already created it, create-open-id-connect-provider fails with EntityAlreadyExists: skip that step; the provider ARN is the same.`,
  ];
}

/** update-assume-role-policy replaces the whole document; say how to merge and how much room there is. */
function replaceNote(roleName: string, policy: PolicyJson): string {
  const statement = (policy.Statement as PolicyJson[])[0]!;
  // IAM does not count white space towards the limit; JSON.stringify writes none.
  const size = JSON.stringify(statement).length;
  return (
    `update-assume-role-policy replaces the whole trust policy of ${roleName}. If the role already trusts something else (another Deployment, an AWS service), add the statement with Sid ${statement.Sid as string} to its Statement list instead. ` +
    `A trust policy may hold 2,048 characters by default (4,096 after a Service Quotas increase); this statement uses ${size}.`
  );
}

function wildcardNote(p: AwsPlan): string[] {
  if (!p.wildcard) return [];
  return [
    `Wildcard trust: ${p.federation.role.name} trusts every service account on cluster ${p.input.cluster.name} (${WILDCARD_SUBJECT}), so every Deployment on this dedicated cluster, including future ones, can become it. ` +
      "subjects still lists this Deployment's exact subjects.",
  ];
}

function setup(input: SetupInput): SetupResult {
  const p = plan(input);
  const { federation: f } = p;
  const federatedPolicy = webIdentityTrustPolicy({ federated: f.providerArn, hostPath: p.hostPath, subjects: p.subjects, wildcard: p.wildcard, sid: f.statementId });
  const region = input.cluster.region;
  const createProvider = `aws iam create-open-id-connect-provider --url ${sh(input.cluster.oidcIssuerUrl)} --client-id-list ${AUDIENCE.aws}`;
  const base = {
    cloud: 'aws' as const,
    issuerUrl: input.cluster.oidcIssuerUrl,
    audience: AUDIENCE.aws,
    subjects: [...p.subjects],
  };

  if (!p.chained) {
    const conn = connection(f.role.arn, region, true);
    return {
      ...base,
      mode: 'customer-managed',
      steps: [
        {
          title: 'Create the IAM OIDC identity provider for the cluster issuer',
          description: `Lets account ${f.accountId} trust tokens from ${input.cluster.oidcIssuerUrl} with audience ${AUDIENCE.aws}. Once per account and cluster.`,
          commands: [createProvider],
        },
        {
          title: `Trust the Deployment's service accounts in role ${f.role.name}`,
          description: `Save the document as trust-policy.json, then replace the trust policy of ${f.role.arn}.`,
          commands: [`aws iam update-assume-role-policy --role-name ${sh(f.role.name)} --policy-document file://trust-policy.json`],
          document: { filename: 'trust-policy.json', content: federatedPolicy },
        },
        connectionStep(conn),
      ],
      aws: { trustPolicy: federatedPolicy, oidcProviderArn: f.providerArn, roleArn: f.role.arn },
      connection: conn,
      environment: environment(p),
      placeholders: [],
      notes: [...issuerNotes(p), replaceNote(f.role.name, federatedPolicy), ...wildcardNote(p)],
    };
  }

  const c = p.chained;
  const customerPolicy = roleChainingTrustPolicy(f.role.arn, c.statementId);
  const conn = connection(c.roleArn, region, false);
  const customerRoleName = c.role?.name ?? '${CUSTOMER_ROLE_NAME}';
  return {
    ...base,
    mode: 'default',
    steps: [
      {
        title: `Platform operator: create the IAM OIDC identity provider in the platform account ${f.accountId}`,
        description: `Lets the platform account trust tokens from ${input.cluster.oidcIssuerUrl} with audience ${AUDIENCE.aws}. Once per cluster.`,
        commands: [createProvider],
      },
      {
        title: `Platform operator: let the Deployment become its default role ${f.role.name}`,
        description: `Save the document as platform-trust-policy.json, then replace the trust policy of ${f.role.arn} (create-role with the same document if the role does not exist yet).`,
        commands: [`aws iam update-assume-role-policy --role-name ${sh(f.role.name)} --policy-document file://platform-trust-policy.json`],
        document: { filename: 'platform-trust-policy.json', content: federatedPolicy },
      },
      {
        title: "In your AWS account: trust the Deployment's default role in your role",
        description: `Save the document as trust-policy.json, then replace the trust policy of ${c.roleArn}. The Deployment first becomes ${f.role.arn}, then assumes your role with sts:AssumeRole.`,
        commands: [`aws iam update-assume-role-policy --role-name ${sh(customerRoleName)} --policy-document file://trust-policy.json`],
        document: { filename: 'trust-policy.json', content: customerPolicy },
      },
      connectionStep(conn),
    ],
    aws: { trustPolicy: customerPolicy, roleArn: c.roleArn, oidcProviderArn: f.providerArn, platform: { roleArn: f.role.arn, trustPolicy: federatedPolicy } },
    connection: conn,
    environment: environment(p),
    placeholders: c.role ? [] : CUSTOMER_PLACEHOLDERS.map((x) => ({ ...x })),
    notes: [
      ...issuerNotes(p),
      `Cross-account AssumeRole needs both sides: your role's trust policy (trust-policy.json) and an identity policy on ${f.role.name} that allows sts:AssumeRole on your role. The second is the platform operator's.`,
      `Your trust policy names the default role as a whole: whatever can become ${f.role.name} can assume your role. Its own trust (platform-trust-policy.json) admits ${p.wildcard ? `every service account of cluster ${input.cluster.name}` : "only this Deployment's service accounts"}.`,
      `If ${f.role.name} is ever deleted and recreated, IAM shows its old unique id (AROA…) in your trust policy instead of the ARN and the trust no longer matches: apply trust-policy.json again.`,
      replaceNote(customerRoleName, customerPolicy),
      ...wildcardNote(p),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Terraform
// ---------------------------------------------------------------------------------------------

function providerResource(p: AwsPlan, label: string, providerAlias?: string): HclBody {
  return [
    hclComment(
      `One IAM OIDC provider per issuer and account. If a Deployment on cluster ${p.input.cluster.name} already created it, import it instead:\n` +
        `  terraform import aws_iam_openid_connect_provider.${label} ${p.federation.providerArn}\n` +
        'thumbprint_list is left out: AWS checks the issuer certificate against its trusted root CAs (optional in current hashicorp/aws releases; older ones require it).' +
        (p.input.cluster.oidcIssuerUrl.startsWith('https://') ? '' : '\nThe provider rejects a url that is not https:// at plan time: this issuer works with the Airlock AWS emulator only.'),
    ),
    hclBlock('resource', ['aws_iam_openid_connect_provider', label], [
      ...(providerAlias ? [hclAttribute('provider', hclReference('aws', providerAlias))] : []),
      hclAttribute('url', p.input.cluster.oidcIssuerUrl),
      hclAttribute('client_id_list', [AUDIENCE.aws]),
    ]),
  ];
}

function roleResource(o: { label: string; name: HclInput; path: string; policy: HclInput; providerAlias?: string }): HclBody {
  return [
    hclBlock('resource', ['aws_iam_role', o.label], [
      ...(o.providerAlias ? [hclAttribute('provider', hclReference('aws', o.providerAlias))] : []),
      hclAttribute('name', o.name),
      hclAttribute('path', o.path),
      hclAttribute('assume_role_policy', hclJsonencode(o.policy)),
    ]),
  ];
}

function terraform(input: SetupInput): string {
  const p = plan(input);
  const f = p.federation;
  const providerLabel = hclIdentifier(`airlock_${input.cluster.id}`);
  const header = hclComment(
    `Airlock workload identity for Deployment ${input.deployment.name} (namespace ${input.deployment.namespace}) on cluster ${input.cluster.name}.\n` +
      `Generated by Airlock (npx airlock deployment identity setup ${input.deployment.name} --format terraform). Regenerate rather than edit.`,
  );
  // The provider ARN as a reference, so Terraform creates the provider before the role.
  const federatedPolicy = (): HclInput =>
    webIdentityTrustPolicy({
      federated: hclReference('aws_iam_openid_connect_provider', providerLabel, 'arn'),
      hostPath: p.hostPath,
      subjects: p.subjects,
      wildcard: p.wildcard,
      sid: f.statementId,
    });

  if (!p.chained) {
    const roleLabel = hclIdentifier(f.role.name);
    return renderHcl([
      header,
      HCL_BLANK,
      ...providerResource(p, providerLabel),
      HCL_BLANK,
      hclComment(
        `Role ${f.role.arn} exists already: import it first so Terraform manages it instead of creating it:\n` +
          `  terraform import aws_iam_role.${roleLabel} ${f.role.name}\n` +
          'Terraform then owns the whole trust policy; add other trusted principals to the jsonencode below, not in the console.',
      ),
      ...roleResource({ label: roleLabel, name: f.role.name, path: f.role.path, policy: federatedPolicy() }),
    ]);
  }

  const c = p.chained;
  const body: HclBody = [
    header,
    HCL_BLANK,
    hclComment(`Two AWS accounts: the platform account ${f.accountId} (default identity) and yours. Give each alias its credentials (profile, assume_role, ...).`),
    hclBlock('provider', ['aws'], [hclAttribute('alias', 'platform')]),
    HCL_BLANK,
    hclBlock('provider', ['aws'], [hclAttribute('alias', 'customer')]),
    HCL_BLANK,
  ];
  if (!c.role) {
    body.push(
      hclBlock('variable', ['customer_role_name'], [
        hclAttribute('type', hclReference('string')),
        hclAttribute('description', `Name of your IAM role that the Deployment reaches through its default identity ${f.role.name} (sts:AssumeRole).`),
      ]),
      HCL_BLANK,
    );
  }
  body.push(
    hclComment('Platform operator: the cluster issuer and the default role that trusts this Deployment.'),
    ...providerResource(p, providerLabel, 'platform'),
    HCL_BLANK,
    ...roleResource({ label: hclIdentifier(`default_${f.role.name}`), name: f.role.name, path: f.role.path, policy: federatedPolicy(), providerAlias: 'platform' }),
    HCL_BLANK,
    hclComment(
      `Your account: the role the Deployment assumes from ${f.role.arn}. If it exists already, import it first:\n` +
        `  terraform import aws_iam_role.customer ${c.role?.name ?? '<role name>'}`,
    ),
    ...roleResource({
      label: 'customer',
      name: c.role ? c.role.name : hclReference('var', 'customer_role_name'),
      path: c.role?.path ?? '/',
      policy: roleChainingTrustPolicy(f.role.arn, c.statementId),
      providerAlias: 'customer',
    }),
  );
  return renderHcl(body);
}

/** The AWS implementation of {@link CloudProvider}. */
/** The web-identity role and region an AWS SDK needs in a workload (the env `setup` lists). */
function delivery(input: SetupInput): CloudDelivery {
  const p = plan({ ...input, wildcard: false });
  const region = input.cluster.cloud === 'aws' ? input.cluster.region : undefined;
  return { cloud: 'aws', audience: AUDIENCE.aws, acceptedAudiences: [AUDIENCE.aws], roleArn: p.federation.role.arn, region };
}

export const awsProvider: CloudProvider = { cloud: 'aws', setup, terraform, delivery };
