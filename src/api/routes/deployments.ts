import { z } from 'zod';
import { checkTrust } from '../../cloud/check.ts';
import type { CloudProvider, CustomerIdentity, EffectiveIdentity } from '../../cloud/types.ts';
import { deploymentCreateSchema, deploymentUpdateSchema, type DeploymentService, type DeploymentView } from '../../deployments/service.ts';
import { COMPONENTS } from '../../deployments/components.ts';
import { identityDisplay } from '../../identity/service.ts';
import { CLOUDS, type Cloud } from '../../domain/terms.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate, listOf, pageQuery } from './common.ts';

export const identityJson = z.object({
  cloud: z.enum(CLOUDS),
  /** ARN, email, or the managed identity's resource id. */
  value: z.string(),
  roleArn: z.string().optional(),
  serviceAccountEmail: z.string().optional(),
  projectNumber: z.string().optional(),
  managedIdentityName: z.string().optional(),
  resourceGroup: z.string().optional(),
  subscriptionId: z.string().optional(),
  clientId: z.string().optional(),
  tenantId: z.string().optional(),
});
type IdentityJson = z.infer<typeof identityJson>;

export function customerIdentityJson(i: CustomerIdentity): IdentityJson {
  return { value: identityDisplay(i), ...i };
}

const configuredJson = z
  .object({ type: z.enum(['aws-iam-role', 'gcp-service-account', 'saved']), savedIdentityId: z.string().optional(), savedIdentityName: z.string().optional() })
  .extend(identityJson.shape);

const effectiveJson = z.object({ mode: z.enum(['default', 'customer-managed']), savedIdentityName: z.string().optional() }).extend(identityJson.shape);

function effectiveToJson(e: EffectiveIdentity): z.infer<typeof effectiveJson> {
  if (e.mode === 'customer-managed') {
    const out: z.infer<typeof effectiveJson> = { mode: e.mode, ...customerIdentityJson(e.identity) };
    if (e.savedIdentityName) out.savedIdentityName = e.savedIdentityName;
    return out;
  }
  const i = e.identity;
  return i.cloud === 'aws'
    ? { mode: 'default', cloud: 'aws', value: i.roleArn, roleArn: i.roleArn }
    : { mode: 'default', cloud: 'gcp', value: i.serviceAccountEmail, serviceAccountEmail: i.serviceAccountEmail };
}

export const deploymentJson = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  workspaceId: z.string(),
  clusterId: z.string(),
  clusterName: z.string(),
  cloud: z.enum(CLOUDS),
  runtimeVersion: z.string(),
  namespace: z.string(),
  oidcIssuerUrl: z.string(),
  /** What the user configured; null = the default identity. */
  workloadIdentity: configuredJson.nullable(),
  /** What is in force; null with a reason when the cluster offers no default identity. */
  effectiveWorkloadIdentity: effectiveJson.nullable(),
  effectiveWorkloadIdentityReason: z.string().optional(),
  components: z.array(z.object({ component: z.enum(COMPONENTS), serviceAccount: z.string(), subject: z.string() })),
  createdAt: isoDate,
  updatedAt: isoDate,
});

export function deploymentToJson(v: DeploymentView): z.infer<typeof deploymentJson> {
  const d = v.deployment;
  let workloadIdentity: z.infer<typeof configuredJson> | null = null;
  if (v.configured) {
    workloadIdentity = { type: v.configured.type, ...customerIdentityJson(v.configured.identity) };
    if (v.configured.type === 'saved') Object.assign(workloadIdentity, { savedIdentityId: v.configured.id, savedIdentityName: v.configured.name });
  }
  const out: z.infer<typeof deploymentJson> = {
    id: d.id,
    name: d.name,
    description: d.description,
    workspaceId: d.workspaceId,
    clusterId: v.cluster.id,
    clusterName: v.cluster.name,
    cloud: v.cluster.cloud,
    runtimeVersion: d.runtimeVersion,
    namespace: d.namespace,
    oidcIssuerUrl: v.cluster.oidcIssuerUrl,
    workloadIdentity,
    effectiveWorkloadIdentity: v.effective ? effectiveToJson(v.effective) : null,
    components: v.components,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
  if (v.effectiveReason) out.effectiveWorkloadIdentityReason = v.effectiveReason;
  return out;
}

/** A document as the cloud's CLI prints it: JSON text, or the parsed JSON. */
const cloudDocument = z.union([z.string().min(1).max(200_000), z.array(z.unknown()).max(1000), z.record(z.string(), z.unknown())]);

const checkBody = z
  .object({
    trustPolicy: cloudDocument.optional().meta({
      description: 'AWS: the role\'s trust policy, or the whole output of `aws iam get-role`.',
      example: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/airlock.example.com/clusters/cl_…' }, Action: 'sts:AssumeRoleWithWebIdentity' }] },
    }),
    federatedCredentials: cloudDocument.optional().meta({
      description: 'Azure: the output of `az identity federated-credential list -o json`.',
      example: [{ name: 'airlock-etl-worker', issuer: 'https://airlock.example.com/clusters/cl_…', subject: 'system:serviceaccount:etl-…:etl-…-worker-serviceaccount', audiences: ['api://AzureADTokenExchange'] }],
    }),
    provider: cloudDocument.optional().meta({
      description: 'GCP: the output of `gcloud iam workload-identity-pools providers describe … --format=json`.',
      example: { name: 'projects/123456789012/locations/global/workloadIdentityPools/airlock-prod-gcp/providers/ns-etl-7f3k2q9x', state: 'ACTIVE', oidc: { issuerUri: 'https://airlock.example.com/clusters/cl_…' }, attributeMapping: { 'google.subject': 'assertion.sub' } },
    }),
    serviceAccountPolicy: cloudDocument.optional().meta({
      description: 'GCP, optional: the output of `gcloud iam service-accounts get-iam-policy <service account> --format=json` for the account the components become.',
      example: { bindings: [{ role: 'roles/iam.workloadIdentityUser', members: ['principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/airlock-prod-gcp/subject/system:serviceaccount:etl-7f3k2q9x:etl-7f3k2q9x-worker-serviceaccount'] }] },
    }),
    platformTrustPolicy: cloudDocument.optional().meta({
      description: "AWS default identity, optional: the platform's default role's trust policy (or its `aws iam get-role` output), the operator's side.",
      example: { Version: '2012-10-17', Statement: [] },
    }),
    targetPolicy: cloudDocument.optional().meta({
      description: "GCP default identity, optional: what the customer grants the default identity — the target service account's `get-iam-policy` (impersonation) or the project's (direct grant).",
      example: { bindings: [{ role: 'roles/iam.serviceAccountTokenCreator', members: ['serviceAccount:airlock-etl-7f3k2q9x@airlock-platform.iam.gserviceaccount.com'] }] },
    }),
  })
  .strict();

export const checkJson = z.object({
  cloud: z.enum(CLOUDS),
  mode: z.enum(['default', 'customer-managed']),
  checked: z.string(),
  ok: z.boolean(),
  checks: z.array(z.object({ principal: z.string(), component: z.enum(COMPONENTS).optional(), trusted: z.boolean(), reason: z.string() })),
  findings: z.array(z.object({ severity: z.enum(['error', 'warning', 'info']), message: z.string() })),
});

const ref = z.object({ deployment: z.string().min(1).max(100).meta({ example: 'etl' }) }).strict();

const setupQuery = z
  .object({
    wildcard: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true')
      .meta({ example: 'true', description: 'Dedicated clusters only: trust system:serviceaccount:*:*.' }),
    targetRoleArn: z.string().max(2048).optional().meta({ example: 'arn:aws:iam::210987654321:role/lake-reader' }),
    targetServiceAccount: z.string().max(320).optional().meta({ example: 'lake-reader@my-proj.iam.gserviceaccount.com' }),
    gcpRoute: z.enum(['impersonation', 'direct-grant']).optional().meta({ example: 'impersonation' }),
    project: z.string().max(64).optional().meta({ example: 'my-proj' }),
    role: z.string().max(256).optional().meta({ example: 'roles/bigquery.dataViewer' }),
  })
  .strict();

/** Loose schema for the setup document: its documented keys are typed; clouds may add more. */
export const setupJson = z
  .object({
    cloud: z.enum(CLOUDS),
    mode: z.enum(['default', 'customer-managed']),
    issuerUrl: z.string(),
    audience: z.string(),
    subjects: z.array(z.string()),
    steps: z.array(z.object({ title: z.string(), description: z.string().optional(), commands: z.array(z.string()), document: z.object({ filename: z.string(), content: z.unknown() }).optional() })),
    aws: z.record(z.string(), z.unknown()).optional(),
    gcp: z.record(z.string(), z.unknown()).optional(),
    azure: z.record(z.string(), z.unknown()).optional(),
    connection: z.object({ conn_type: z.string(), extra: z.record(z.string(), z.unknown()) }),
    environment: z.record(z.string(), z.string()).optional(),
    placeholders: z.array(z.object({ name: z.string(), description: z.string() })),
    notes: z.array(z.string()),
  })
  .strict();

export function deploymentRoutes(deployments: DeploymentService, providers: Record<Cloud, CloudProvider>): RouteDef[] {
  const setupOpts = (q: z.output<typeof setupQuery>) => ({
    wildcard: q.wildcard,
    target: { awsRoleArn: q.targetRoleArn, gcpServiceAccount: q.targetServiceAccount, gcpRoute: q.gcpRoute, gcpProjectId: q.project, gcpRole: q.role },
  });
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployments',
      auth: 'token',
      permission: 'deployment.read',
      tag: 'deployments',
      summary: 'List Deployments',
      query: pageQuery.extend({
        cluster: z.string().max(100).optional().meta({ example: 'prod-aws' }),
        name: z.string().max(63).optional().meta({ example: 'etl', description: 'Substring of the name.' }),
        identity: z.string().max(100).optional().meta({ example: 'etl-reader', description: 'Saved identity in use.' }),
      }),
      response: listOf(deploymentJson),
      handler: async ({ query, scope }) => {
        const page = await deployments.list(scope!, { limit: query.limit, cursor: query.cursor }, { cluster: query.cluster, nameContains: query.name, identity: query.identity });
        const items = page.items.map(deploymentToJson);
        return page.nextCursor ? { items, nextCursor: page.nextCursor } : { items };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/deployments',
      auth: 'token',
      permission: 'deployment.write',
      tag: 'deployments',
      summary: 'Create a Deployment (its namespace and component identities are generated)',
      body: deploymentCreateSchema,
      response: deploymentJson,
      status: 201,
      handler: async ({ body, scope }) => deploymentToJson(await deployments.create(scope!, body)),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployments/:deployment',
      auth: 'token',
      permission: 'deployment.read',
      tag: 'deployments',
      summary: 'Get a Deployment by id or name',
      params: ref,
      response: deploymentJson,
      handler: async ({ params, scope }) => deploymentToJson(await deployments.get(scope!, params.deployment)),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/api/v1/deployments/:deployment',
      auth: 'token',
      permission: 'deployment.write',
      tag: 'deployments',
      summary: 'Update a Deployment (absent keys are unchanged; workloadIdentity null or "default" resets it)',
      params: ref,
      body: deploymentUpdateSchema,
      response: deploymentJson,
      handler: async ({ params, body, scope }) => deploymentToJson(await deployments.update(scope!, params.deployment, body)),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/deployments/:deployment',
      auth: 'token',
      permission: 'deployment.write',
      tag: 'deployments',
      summary: 'Delete a Deployment',
      params: ref,
      response: z.void(),
      status: 204,
      handler: async ({ params, scope }) => deployments.delete(scope!, params.deployment),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployments/:deployment/identity/setup',
      auth: 'token',
      permission: 'deployment.read',
      tag: 'deployments',
      summary: 'What to run in the cloud so it trusts this Deployment (steps, documents, connection)',
      params: ref,
      query: setupQuery,
      response: setupJson,
      handler: async ({ params, query, scope }) => {
        const input = await deployments.setupInput(scope!, params.deployment, setupOpts(query));
        return providers[input.identity.identity.cloud].setup(input) as unknown as z.infer<typeof setupJson>;
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/deployments/:deployment/identity/check',
      auth: 'token',
      permission: 'deployment.read',
      changesNothing: true,
      tag: 'deployments',
      summary: "Check what the cloud holds (a role's trust policy, a managed identity's federated credentials, a pool provider and a service account's policy) against what this Deployment needs: each component trusted, nobody else",
      params: ref,
      query: setupQuery,
      body: checkBody,
      response: checkJson,
      handler: async ({ params, query, body, scope }) => {
        const input = await deployments.setupInput(scope!, params.deployment, setupOpts(query));
        return checkTrust(input, providers[input.identity.identity.cloud].setup(input), body);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deployments/:deployment/identity/terraform',
      auth: 'token',
      permission: 'deployment.read',
      tag: 'deployments',
      summary: 'The same setup as Terraform (HCL)',
      params: ref,
      query: setupQuery,
      response: z.string(),
      contentType: 'text/plain; charset=utf-8',
      handler: async ({ params, query, scope }) => {
        const input = await deployments.setupInput(scope!, params.deployment, setupOpts(query));
        return providers[input.identity.identity.cloud].terraform(input);
      },
    }),
  ];
}
