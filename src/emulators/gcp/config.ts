/**
 * The GCP sandbox's configuration: one JSON document that is both the config file and what the
 * admin API edits. Field names follow Google's REST resources (`oidc.issuerUri`,
 * `attributeMapping`, `iamPolicy.bindings`) so `gcloud … describe --format=json` output reads
 * across. Parsed with zod (unknown keys are errors), then checked as a whole: every problem is
 * reported together, with the path of the field at fault.
 */
import { z } from 'zod';
import { AppError } from '../../errors/index.ts';
import { compileMapping, type CompiledMapping } from './attribute-mapping.ts';
import { CelSyntaxError, parseCel, references, type CelNode } from './cel.ts';
import {
  ACCOUNT_ID,
  POOL_OR_PROVIDER_ID,
  PROJECT_ID,
  PROJECT_NUMBER,
  ROLE,
  defaultAudiences,
  parseMember,
  providerPath,
  serviceAccountEmail,
  type Member,
  type ProviderName,
} from './resource-names.ts';

const bindingSchema = z.strictObject({
  role: z.string().meta({ example: 'roles/iam.workloadIdentityUser' }),
  members: z.array(z.string()).meta({ example: ['principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/airlock/subject/system:serviceaccount:etl:worker'] }),
});

/** An allow policy, as Google's `getIamPolicy` returns it (without etag and version). */
export const policySchema = z.strictObject({ bindings: z.array(bindingSchema).default([]) });

/** A workload identity pool OIDC provider (`gcloud iam workload-identity-pools providers create-oidc`). */
export const providerSchema = z.strictObject({
  providerId: z.string().meta({ example: 'airlock-prod' }),
  displayName: z.string().max(32).optional(),
  description: z.string().max(256).optional(),
  disabled: z.boolean().default(false),
  oidc: z.strictObject({
    issuerUri: z.string().meta({ example: 'http://127.0.0.1:8080/clusters/cl_0123456789abcdefghjk' }),
    /** Empty means Google's default: the provider's own resource name. */
    allowedAudiences: z.array(z.string().min(1)).max(10).default([]),
  }),
  attributeMapping: z.record(z.string(), z.string()).meta({ example: { 'google.subject': 'assertion.sub', 'attribute.namespace': "assertion['kubernetes.io']['namespace']" } }),
  attributeCondition: z.string().optional().meta({ example: "assertion['kubernetes.io']['namespace'] == 'etl'" }),
});

/** A workload identity pool and its providers. */
export const poolSchema = z.strictObject({
  poolId: z.string().meta({ example: 'airlock' }),
  displayName: z.string().max(32).optional(),
  description: z.string().max(256).optional(),
  disabled: z.boolean().default(false),
  providers: z.array(providerSchema).default([]),
});

/** A service account and its allow policy (who may act as it). */
export const serviceAccountSchema = z.strictObject({
  accountId: z.string().meta({ example: 'etl-loader' }),
  /** Derived from accountId and the project; accepted in input only when it matches. */
  email: z.string().optional(),
  /** 21 digits; generated when absent. */
  uniqueId: z.string().optional(),
  displayName: z.string().max(100).optional(),
  iamPolicy: policySchema.default({ bindings: [] }),
});

/** A project: its pools, service accounts and project-level allow policy. */
export const projectSchema = z.strictObject({
  projectId: z.string().meta({ example: 'airlock-sandbox' }),
  /** Generated when absent. */
  projectNumber: z.string().optional().meta({ example: '123456789012' }),
  displayName: z.string().max(30).optional(),
  iamPolicy: policySchema.default({ bindings: [] }),
  workloadIdentityPools: z.array(poolSchema).default([]),
  serviceAccounts: z.array(serviceAccountSchema).default([]),
});

/** The whole file. */
export const gcpConfigSchema = z.strictObject({ projects: z.array(projectSchema).default([]) });

/** An allow policy after checks: one binding per role, no empty bindings. */
export type PolicyConfig = z.output<typeof policySchema>;
/** A provider as stored (defaults applied). */
export type ProviderConfig = z.output<typeof providerSchema>;
/** A pool as stored (defaults applied). */
export type PoolConfig = z.output<typeof poolSchema>;
/** A service account as stored: email and unique ID always present. */
export type ServiceAccountConfig = z.output<typeof serviceAccountSchema> & { email: string; uniqueId: string };
/** A project as stored: project number always present. */
export type ProjectConfig = Omit<z.output<typeof projectSchema>, 'serviceAccounts'> & { projectNumber: string; serviceAccounts: ServiceAccountConfig[] };
/** A configuration after checks: every generated value (numbers, unique IDs, emails) filled in. */
export interface GcpConfig {
  projects: ProjectConfig[];
}
/** What may be written in a file or sent to `PUT /_sandbox/gcp/config`. */
export type GcpConfigInput = z.input<typeof gcpConfigSchema>;

/** A provider ready for token exchange. */
export interface CompiledProvider {
  name: ProviderName;
  project: ProjectConfig;
  pool: PoolConfig;
  provider: ProviderConfig;
  mapping: CompiledMapping;
  condition: CelNode | undefined;
  /** allowedAudiences, or the defaults when none are configured. */
  audiences: string[];
}

/** A binding whose members have been parsed. */
export interface CompiledBinding {
  role: string;
  members: { raw: string; member: Member }[];
}

/** Lookups over a checked configuration. */
export interface GcpIndex {
  projectsById: Map<string, ProjectConfig>;
  projectsByNumber: Map<string, ProjectConfig>;
  /** Keyed by the provider's relative resource name. */
  providers: Map<string, CompiledProvider>;
  serviceAccountsByEmail: Map<string, { project: ProjectConfig; account: ServiceAccountConfig; bindings: CompiledBinding[] }>;
  serviceAccountsByUniqueId: Map<string, { project: ProjectConfig; account: ServiceAccountConfig; bindings: CompiledBinding[] }>;
  projectBindings: Map<string /* projectId */, CompiledBinding[]>;
}

/** One configuration problem. */
export interface ConfigProblem {
  field: string;
  message: string;
}

/** Source of random bytes; injected so tests get stable numbers. */
export type RandomBytes = (n: number) => Buffer;

function randomDigits(random: RandomBytes, first: string, count: number): string {
  let s = first;
  for (const b of random(count)) s += String(b % 10);
  return s;
}

/** A new project number: 12 digits, as Google's are. */
export const newProjectNumber = (random: RandomBytes) => randomDigits(random, String(1 + (random(1)[0]! % 9)), 11);
/** A new service account unique ID: 21 digits starting with 1, as Google's are. */
export const newUniqueId = (random: RandomBytes) => randomDigits(random, '1', 20);

function checkPolicy(policy: PolicyConfig, at: string, problems: ConfigProblem[]): { policy: PolicyConfig; compiled: CompiledBinding[] } {
  // Google keeps one binding per role; merge duplicates and drop empty ones, as setIamPolicy does.
  const byRole = new Map<string, string[]>();
  policy.bindings.forEach((b, i) => {
    if (!ROLE.test(b.role)) problems.push({ field: `${at}.bindings[${i}].role`, message: `"${b.role}" is not a role name; expected roles/<name>, for example roles/iam.workloadIdentityUser` });
    const list = byRole.get(b.role) ?? [];
    b.members.forEach((m, j) => {
      const parsed = parseMember(m);
      if (!parsed.ok) problems.push({ field: `${at}.bindings[${i}].members[${j}]`, message: parsed.message });
      if (!list.includes(m)) list.push(m);
    });
    byRole.set(b.role, list);
  });
  const bindings = [...byRole].filter(([, members]) => members.length > 0).map(([role, members]) => ({ role, members }));
  const compiled: CompiledBinding[] = bindings.map((b) => ({
    role: b.role,
    members: b.members.flatMap((raw) => {
      const p = parseMember(raw);
      return p.ok ? [{ raw, member: p.member }] : [];
    }),
  }));
  return { policy: { bindings }, compiled };
}

function checkIssuer(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `"${uri}" is not a URL`;
  }
  // Google requires https; the sandbox also takes http because Airlock's own issuer on a laptop is
  // http://127.0.0.1:<port>. The issuer is compared with the token's iss as an exact string.
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `the issuer URI must be https:// (or http:// in the sandbox), not ${u.protocol}`;
  if (u.search || u.hash) return 'the issuer URI must not have a query or fragment';
  if (u.username || u.password) return 'the issuer URI must not carry credentials';
  return undefined;
}

function checkProvider(
  project: ProjectConfig,
  pool: PoolConfig,
  provider: ProviderConfig,
  at: string,
  problems: ConfigProblem[],
): CompiledProvider | undefined {
  const before = problems.length;
  if (!POOL_OR_PROVIDER_ID.test(provider.providerId) || provider.providerId.startsWith('gcp-')) {
    problems.push({ field: `${at}.providerId`, message: `"${provider.providerId}" is not a provider ID: 4–32 lower-case letters, digits and hyphens, not starting with gcp-` });
  }
  const issuerProblem = checkIssuer(provider.oidc.issuerUri);
  if (issuerProblem) problems.push({ field: `${at}.oidc.issuerUri`, message: issuerProblem });
  const { mapping, problems: mp } = compileMapping(provider.attributeMapping);
  for (const p of mp) problems.push({ field: `${at}.attributeMapping["${p.key}"]`, message: p.message });
  let condition: CelNode | undefined;
  if (provider.attributeCondition !== undefined && provider.attributeCondition.trim() !== '') {
    try {
      condition = parseCel(provider.attributeCondition);
      const mapped = new Set(Object.keys(provider.attributeMapping));
      for (const ref of references(condition)) {
        if (ref.root === 'assertion') continue;
        const name = `${ref.root}.${ref.path[0]}`;
        if (!mapped.has(name)) {
          problems.push({ field: `${at}.attributeCondition`, message: `the condition reads ${name}, which the attribute mapping does not define` });
        }
      }
    } catch (err) {
      if (!(err instanceof CelSyntaxError)) throw err;
      problems.push({ field: `${at}.attributeCondition`, message: err.message });
    }
  }
  if (problems.length > before || !mapping) return undefined;
  const name = { projectNumber: project.projectNumber, poolId: pool.poolId, providerId: provider.providerId };
  return {
    name,
    project,
    pool,
    provider,
    mapping,
    condition,
    audiences: provider.oidc.allowedAudiences.length ? provider.oidc.allowedAudiences : defaultAudiences(name),
  };
}

function zodProblems(err: z.ZodError, prefix = ''): ConfigProblem[] {
  return err.issues.map((i) => {
    let field = prefix;
    for (const k of i.path) field += typeof k === 'number' ? `[${k}]` : field ? `.${String(k)}` : String(k);
    if (i.code === 'unrecognized_keys') return { field: field || '(root)', message: `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` };
    return { field: field || '(root)', message: i.message };
  });
}

/** The error for a configuration with problems; every problem is in `details.problems`. */
export function configError(problems: ConfigProblem[]): AppError {
  const shown = problems.slice(0, 5).map((p) => `${p.field}: ${p.message}`).join('; ');
  const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
  return new AppError('ERR_CONFIG_INVALID', `gcp sandbox configuration: ${shown}${more}`, {
    field: problems[0]?.field,
    details: { problems },
  });
}

/**
 * Parses and checks a whole configuration, filling in generated values. Throws an AppError
 * (ERR_CONFIG_INVALID) listing every problem; never returns a partly valid configuration.
 */
export function compileConfig(input: unknown, random: RandomBytes): { config: GcpConfig; index: GcpIndex } {
  const parsed = gcpConfigSchema.safeParse(input);
  if (!parsed.success) throw configError(zodProblems(parsed.error));
  const problems: ConfigProblem[] = [];
  const index: GcpIndex = {
    projectsById: new Map(),
    projectsByNumber: new Map(),
    providers: new Map(),
    serviceAccountsByEmail: new Map(),
    serviceAccountsByUniqueId: new Map(),
    projectBindings: new Map(),
  };
  const projects: ProjectConfig[] = [];

  parsed.data.projects.forEach((raw, pi) => {
    const at = `projects[${pi}]`;
    if (!PROJECT_ID.test(raw.projectId)) {
      problems.push({ field: `${at}.projectId`, message: `"${raw.projectId}" is not a project ID: 6–30 lower-case letters, digits and hyphens, starting with a letter` });
    }
    let projectNumber = raw.projectNumber;
    if (projectNumber === undefined) {
      do projectNumber = newProjectNumber(random);
      while (index.projectsByNumber.has(projectNumber) || parsed.data.projects.some((p) => p.projectNumber === projectNumber));
    } else if (!PROJECT_NUMBER.test(projectNumber)) {
      problems.push({ field: `${at}.projectNumber`, message: `"${projectNumber}" is not a project number (decimal digits, no leading zero)` });
    }
    if (index.projectsById.has(raw.projectId)) problems.push({ field: `${at}.projectId`, message: `project "${raw.projectId}" is defined twice` });
    if (index.projectsByNumber.has(projectNumber)) problems.push({ field: `${at}.projectNumber`, message: `project number ${projectNumber} is used twice` });

    const projectPolicy = checkPolicy(raw.iamPolicy, `${at}.iamPolicy`, problems);
    const project: ProjectConfig = { ...raw, projectNumber, iamPolicy: projectPolicy.policy, serviceAccounts: [] };
    index.projectsById.set(project.projectId, project);
    index.projectsByNumber.set(projectNumber, project);
    index.projectBindings.set(project.projectId, projectPolicy.compiled);

    const poolIds = new Set<string>();
    project.workloadIdentityPools.forEach((pool, wi) => {
      const pat = `${at}.workloadIdentityPools[${wi}]`;
      if (!POOL_OR_PROVIDER_ID.test(pool.poolId) || pool.poolId.startsWith('gcp-')) {
        problems.push({ field: `${pat}.poolId`, message: `"${pool.poolId}" is not a pool ID: 4–32 lower-case letters, digits and hyphens, not starting with gcp-` });
      }
      if (poolIds.has(pool.poolId)) problems.push({ field: `${pat}.poolId`, message: `pool "${pool.poolId}" is defined twice in project ${project.projectId}` });
      poolIds.add(pool.poolId);
      const providerIds = new Set<string>();
      pool.providers.forEach((provider, vi) => {
        const vat = `${pat}.providers[${vi}]`;
        if (providerIds.has(provider.providerId)) problems.push({ field: `${vat}.providerId`, message: `provider "${provider.providerId}" is defined twice in pool ${pool.poolId}` });
        providerIds.add(provider.providerId);
        const compiled = checkProvider(project, pool, provider, vat, problems);
        if (compiled) index.providers.set(providerPath(compiled.name), compiled);
      });
    });

    raw.serviceAccounts.forEach((sa, si) => {
      const sat = `${at}.serviceAccounts[${si}]`;
      if (!ACCOUNT_ID.test(sa.accountId)) {
        problems.push({ field: `${sat}.accountId`, message: `"${sa.accountId}" is not an account ID: 6–30 lower-case letters, digits and hyphens, starting with a letter` });
      }
      const email = serviceAccountEmail(sa.accountId, project.projectId);
      if (sa.email !== undefined && sa.email !== email) problems.push({ field: `${sat}.email`, message: `the email of account ${sa.accountId} in project ${project.projectId} is ${email}, not ${sa.email}` });
      let uniqueId = sa.uniqueId;
      if (uniqueId === undefined) {
        do uniqueId = newUniqueId(random);
        while (index.serviceAccountsByUniqueId.has(uniqueId));
      } else if (!/^[0-9]{21}$/.test(uniqueId)) {
        problems.push({ field: `${sat}.uniqueId`, message: `"${uniqueId}" is not a unique ID (21 digits)` });
      }
      if (index.serviceAccountsByEmail.has(email)) problems.push({ field: `${sat}.accountId`, message: `service account ${email} is defined twice` });
      if (index.serviceAccountsByUniqueId.has(uniqueId)) problems.push({ field: `${sat}.uniqueId`, message: `unique ID ${uniqueId} is used twice` });
      const saPolicy = checkPolicy(sa.iamPolicy, `${sat}.iamPolicy`, problems);
      const account: ServiceAccountConfig = { ...sa, email, uniqueId, iamPolicy: saPolicy.policy };
      project.serviceAccounts.push(account);
      const entry = { project, account, bindings: saPolicy.compiled };
      index.serviceAccountsByEmail.set(email, entry);
      index.serviceAccountsByUniqueId.set(uniqueId, entry);
    });
    projects.push(project);
  });

  if (problems.length) throw configError(problems);
  return { config: { projects }, index };
}

/** Re-shapes a zod failure on an admin input into problems named relative to that input (`poolId`, `oidc.issuerUri`). */
export function inputProblems(err: z.ZodError): ConfigProblem[] {
  return zodProblems(err);
}
