/**
 * A GCP setup plan as Terraform for the `hashicorp/google` provider, written through the shared
 * safe HCL emitter (src/cloud/hcl.ts):
 * - attach: `google_iam_workload_identity_pool`, `google_iam_workload_identity_pool_provider`
 *   (`oidc { issuer_uri }`, `attribute_mapping`, `attribute_condition`) and one
 *   `google_service_account_iam_member` per member, plus the audience and credential
 *   configuration as outputs;
 * - impersonation: a `google_service_account_iam_member` granting Token Creator on the target;
 * - direct grant: a `google_project_iam_member`.
 *
 * Values setup could not know become Terraform, not `${PLACEHOLDER}` text (which Terraform would
 * read as a reference): the project number comes from `data "google_project"`, a target service
 * account or project is a required variable, and strings that contain them are `format(…)` calls.
 *
 * For the default-identity routes the file holds only the customer's grant. Federating the
 * default identity is the platform operator's job, in the platform project, with the platform's
 * credentials; mixing both into one file would need credentials for both organisations.
 */
import {
  HCL_BLANK,
  hclAttribute,
  hclBlock,
  hclCall,
  hclComment,
  hclJsonencode,
  hclReference,
  renderHcl,
  type HclBody,
  type HclExpression,
  type HclInput,
} from '../hcl.ts';
import type { SetupInput } from '../types.ts';
import { GCP_PLACEHOLDERS, type GcpBinding, type GcpPlaceholderName, type GcpSetupPlan } from './plan.ts';

/** The Terraform expression standing for each placeholder that can reach a `.tf` file. */
export const TERRAFORM_PLACEHOLDERS: Partial<Record<GcpPlaceholderName, readonly string[]>> = {
  PROJECT_NUMBER: ['data', 'google_project', 'federation', 'number'],
  TARGET_SERVICE_ACCOUNT: ['var', 'target_service_account'],
  GOOGLE_CLOUD_PROJECT: ['var', 'google_cloud_project'],
};

const PLACEHOLDER_TEXT = new RegExp(`\\$\\{(${GCP_PLACEHOLDERS.join('|')})\\}`, 'g');

function ref(name: GcpPlaceholderName): HclExpression {
  const parts = TERRAFORM_PLACEHOLDERS[name];
  if (!parts) throw new Error(`gcp terraform: placeholder ${name} has no Terraform form`);
  return hclReference(...parts);
}

/**
 * A string that may hold `${PLACEHOLDER}` text: as is when it holds none, otherwise
 * `format("…%s…", <reference>, …)` with literal `%` doubled for format.
 */
function tf(text: string): HclInput {
  const refs: HclExpression[] = [];
  let fmt = '';
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER_TEXT)) {
    fmt += text.slice(last, m.index).replace(/%/g, '%%') + '%s';
    refs.push(ref(m[1] as GcpPlaceholderName));
    last = m.index! + m[0].length;
  }
  if (refs.length === 0) return text;
  fmt += text.slice(last).replace(/%/g, '%%');
  return hclCall('format', fmt, ...refs);
}

/** Deeply converts a JSON value, turning placeholder-bearing strings into `format(…)`. */
function tfJson(v: unknown): HclInput {
  if (typeof v === 'string') return tf(v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(tfJson);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, tfJson(x)]));
}

/**
 * A number variable that switches a shared resource on (1) or off (0). A `count` of a plain
 * reference keeps the file free of hand-written expressions; the validation keeps it to 0 or 1.
 */
function countVariable(name: string, description: string): HclBody {
  return [
    hclBlock('variable', [name], [
      hclAttribute('description', description),
      hclAttribute('type', hclReference('number')),
      hclAttribute('default', 1),
      hclBlock('validation', [], [
        hclAttribute('condition', hclCall('contains', [0, 1], hclReference('var', name))),
        hclAttribute('error_message', `${name} must be 0 or 1.`),
      ]),
    ]),
  ];
}

function stringVariable(name: string, description: string): HclBody {
  return [hclBlock('variable', [name], [hclAttribute('description', description), hclAttribute('type', hclReference('string'))])];
}

/** `projects/<project>/serviceAccounts/<email>`, with `-` (any project) when the project is unknown. */
function serviceAccountId(email: string): HclInput {
  const project = /@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/.exec(email)?.[1];
  return tf(`projects/${project ?? '-'}/serviceAccounts/${email}`);
}

function bindingResource(b: GcpBinding): HclBody {
  return b.resource === 'serviceAccount'
    ? [
        hclBlock('resource', ['google_service_account_iam_member', b.label], [
          hclAttribute('service_account_id', serviceAccountId(b.serviceAccountEmail)),
          hclAttribute('role', b.role),
          hclAttribute('member', tf(b.member)),
        ]),
      ]
    : [hclBlock('resource', ['google_project_iam_member', b.label], [hclAttribute('project', tf(b.projectId)), hclAttribute('role', b.role), hclAttribute('member', tf(b.member))])];
}

/** Renders a plan as a Terraform file. Deterministic. */
export function renderGcpTerraform(plan: GcpSetupPlan, input: SetupInput): string {
  const f = plan.federation;
  const body: HclBody = [
    hclComment(
      [
        `Airlock workload identity for Deployment ${input.deployment.name} (namespace ${input.deployment.namespace}) on cluster ${input.cluster.name}. GCP route: ${plan.route}.`,
        `Generated by Airlock (npx airlock deployment identity setup ${input.deployment.id} --format terraform). Regenerate rather than edit.`,
      ].join('\n'),
    ),
    HCL_BLANK,
    hclBlock('terraform', [], [hclBlock('required_providers', [], [hclAttribute('google', { source: 'hashicorp/google' })])]),
  ];

  for (const p of plan.placeholders) {
    if (p.name === 'TARGET_SERVICE_ACCOUNT') body.push(HCL_BLANK, ...stringVariable('target_service_account', p.description));
    if (p.name === 'GOOGLE_CLOUD_PROJECT') body.push(HCL_BLANK, ...stringVariable('google_cloud_project', p.description));
  }

  if (plan.route === 'attach') {
    body.push(
      HCL_BLANK,
      ...countVariable('pool_count', `1 to create pool ${f.poolId} here; 0 when another configuration already manages it (one pool serves every Deployment of cluster ${input.cluster.name} in ${f.projectId}).`),
    );
    if (f.sharedProvider) {
      body.push(HCL_BLANK, ...countVariable('provider_count', `1 to create the shared provider ${f.providerId} here; 0 when another wildcard Deployment's configuration already manages it.`));
    }
    if (f.projectNumberPlaceholder) {
      body.push(HCL_BLANK, hclComment('Workload identity names use the project number.'), hclBlock('data', ['google_project', 'federation'], [hclAttribute('project_id', f.projectId)]));
    }
    body.push(
      HCL_BLANK,
      hclBlock('resource', ['google_iam_workload_identity_pool', 'cluster'], [
        hclAttribute('count', hclReference('var', 'pool_count')),
        hclAttribute('project', f.projectId),
        hclAttribute('workload_identity_pool_id', f.poolId),
        hclAttribute('display_name', f.poolDisplayName),
      ]),
      HCL_BLANK,
      hclComment(
        f.sharedProvider
          ? `Admits every Kubernetes service account of cluster ${input.cluster.name}. No allowed_audiences: tokens must carry the provider's own resource name.`
          : `Admits only namespace ${input.deployment.namespace}. No allowed_audiences: tokens must carry the provider's own resource name.`,
      ),
      hclBlock('resource', ['google_iam_workload_identity_pool_provider', f.sharedProvider ? 'cluster_wide' : 'deployment'], [
        ...(f.sharedProvider ? [hclAttribute('count', hclReference('var', 'provider_count'))] : []),
        hclAttribute('project', f.projectId),
        hclAttribute('workload_identity_pool_id', f.poolId),
        hclAttribute('workload_identity_pool_provider_id', f.providerId),
        hclAttribute('display_name', f.providerDisplayName),
        hclAttribute('attribute_mapping', f.attributeMapping),
        hclAttribute('attribute_condition', f.attributeCondition),
        hclBlock('oidc', [], [hclAttribute('issuer_uri', f.issuerUri)]),
        hclAttribute('depends_on', [hclReference('google_iam_workload_identity_pool', 'cluster')]),
      ]),
    );
    for (const b of f.bindings) body.push(HCL_BLANK, ...bindingResource(b));
    body.push(
      HCL_BLANK,
      hclBlock('locals', [], [hclAttribute('credential_config', tfJson(plan.credentialConfig))]),
      HCL_BLANK,
      hclBlock('output', ['audience'], [hclAttribute('description', "The audience of this Deployment's GCP tokens."), hclAttribute('value', tf(f.audience))]),
      HCL_BLANK,
      hclBlock('output', ['members'], [hclAttribute('value', plan.members.map(tf))]),
      HCL_BLANK,
      hclBlock('output', ['credential_config'], [
        hclAttribute('description', 'The external_account credential configuration (Airlock also puts it in the Airflow connection).'),
        hclAttribute('value', hclJsonencode(hclReference('local', 'credential_config'))),
      ]),
    );
    return renderHcl(body);
  }

  body.push(
    HCL_BLANK,
    hclComment(
      [
        `The Deployment's default identity is ${f.serviceAccountEmail}. The platform operator federates it`,
        `(pool ${f.poolId}, provider ${f.providerId} in ${f.projectId}); this file only grants it access.`,
      ].join('\n'),
    ),
  );
  for (const b of plan.grants) body.push(HCL_BLANK, ...bindingResource(b));
  body.push(HCL_BLANK, hclBlock('output', ['members'], [hclAttribute('value', plan.members.map(tf))]));
  return renderHcl(body);
}
