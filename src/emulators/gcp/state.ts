/**
 * The sandbox's GCP world, in memory: projects, workload identity pools and providers, service
 * accounts and allow policies. Every change is made by editing a copy of the configuration
 * document and checking the whole of it again, so the state is always exactly what a config file
 * could say, and `toJSON()` can be written to one at any time.
 */
import { z } from 'zod';
import { AppError, isAppError } from '../../errors/index.ts';
import {
  inputProblems,
  compileConfig,
  configError,
  policySchema,
  poolSchema,
  projectSchema,
  providerSchema,
  serviceAccountSchema,
  type GcpConfig,
  type GcpIndex,
  type PolicyConfig,
  type ProjectConfig,
  type ProviderConfig,
  type RandomBytes,
  type ServiceAccountConfig,
} from './config.ts';
import { parseMember, ROLE } from './resource-names.ts';

/** A resource that has an allow policy. */
export type PolicyResource = { kind: 'project'; ref: string } | { kind: 'serviceAccount'; ref: string };

/** The in-memory GCP world of the sandbox. */
export interface GcpState {
  /** The configuration document, with generated values filled in; safe to write to a file. */
  toJSON(): GcpConfig;
  /** Replaces everything. Throws ERR_CONFIG_INVALID listing every problem; on error nothing changes. */
  load(json: unknown): void;
  /** Current lookups. Replaced, never mutated, on each change. */
  index(): GcpIndex;
  /** Called after every successful change (for writing the config file back). */
  onChange(listener: (config: GcpConfig) => void): () => void;

  createProject(input: unknown): ProjectConfig;
  project(ref: string): ProjectConfig;
  deleteProject(ref: string): void;
  createPool(projectRef: string, input: unknown): GcpConfig['projects'][number]['workloadIdentityPools'][number];
  updatePool(projectRef: string, poolId: string, patch: unknown): GcpConfig['projects'][number]['workloadIdentityPools'][number];
  deletePool(projectRef: string, poolId: string): void;
  createProvider(projectRef: string, poolId: string, input: unknown): ProviderConfig;
  updateProvider(projectRef: string, poolId: string, providerId: string, patch: unknown): ProviderConfig;
  deleteProvider(projectRef: string, poolId: string, providerId: string): void;
  createServiceAccount(projectRef: string, input: unknown): ServiceAccountConfig;
  serviceAccount(ref: string): ServiceAccountConfig;
  deleteServiceAccount(ref: string): void;
  getIamPolicy(resource: PolicyResource): PolicyConfig;
  setIamPolicy(resource: PolicyResource, input: unknown): PolicyConfig;
  addIamPolicyBinding(resource: PolicyResource, input: unknown): PolicyConfig;
  removeIamPolicyBinding(resource: PolicyResource, input: unknown): PolicyConfig;
}

const bindingChangeSchema = z.strictObject({
  role: z.string().meta({ example: 'roles/iam.workloadIdentityUser' }),
  member: z.string().meta({ example: 'principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/airlock/attribute.namespace/etl' }),
});
const setPolicySchema = z.strictObject({ policy: policySchema });
const poolPatchSchema = poolSchema.omit({ poolId: true, providers: true }).partial();
const providerPatchSchema = z.strictObject({
  displayName: z.string().max(32).optional(),
  description: z.string().max(256).optional(),
  disabled: z.boolean().optional(),
  oidc: z.strictObject({ issuerUri: z.string().optional(), allowedAudiences: z.array(z.string().min(1)).max(10).optional() }).optional(),
  attributeMapping: z.record(z.string(), z.string()).optional(),
  // null removes the condition, as `gcloud … update-oidc --clear-attribute-condition` does.
  attributeCondition: z.string().nullable().optional(),
});

function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) {
    const problems = inputProblems(r.error);
    const first = problems[0]!;
    throw new AppError('ERR_VALIDATION', problems.map((p) => `${p.field}: ${p.message}`).join('; '), { field: first.field, details: { problems } });
  }
  return r.data;
}

/** `.oidc.issuerUri` → `oidc.issuerUri`; `[0]` stays; the element itself is `(root)`, as a parse problem there is. */
function relativeField(rest: string): string {
  return rest === '' ? '(root)' : rest.startsWith('.') ? rest.slice(1) : rest;
}

const notFound = (what: string, example?: string) => new AppError('ERR_NOT_FOUND', what, example ? { example } : {});
const conflict = (what: string) => new AppError('ERR_CONFLICT', what);

/** Options for {@link createGcpState}. */
export interface GcpStateOptions {
  random: RandomBytes;
  /** Initial configuration (a parsed config file). */
  initial?: unknown;
}

/** Builds the state from an initial configuration (empty by default); throws ERR_CONFIG_INVALID for a bad one. */
export function createGcpState(o: GcpStateOptions): GcpState {
  let current = compileConfig(o.initial ?? { projects: [] }, o.random);
  const listeners = new Set<(c: GcpConfig) => void>();

  const snapshot = (): GcpConfig => structuredClone(current.config);

  /**
   * Applies an edit to a copy of the document and checks the result. Problems found inside the
   * element the edit created or changed are named relative to that element (`poolId`,
   * `oidc.issuerUri`), as the input that described it; others keep their place in the document
   * (`projects[0]…`). The HTTP edge (routes.ts) says where in the request the input was.
   */
  function change<R>(edit: (doc: GcpConfig) => { at?: string; result: (doc: GcpConfig) => R }): R {
    const doc = snapshot();
    const { at, result } = edit(doc);
    let next;
    try {
      next = compileConfig(doc, o.random);
    } catch (err) {
      if (isAppError(err) && err.code === 'ERR_CONFIG_INVALID' && at) {
        const problems = (err.details?.problems as { field: string; message: string }[]).map((p) =>
          p.field === at || p.field.startsWith(`${at}.`) || p.field.startsWith(`${at}[`) ? { ...p, field: relativeField(p.field.slice(at.length)) } : p,
        );
        throw configError(problems);
      }
      throw err;
    }
    current = next;
    const out = result(current.config);
    for (const l of listeners) l(snapshot());
    return out;
  }

  function projectIndex(doc: GcpConfig, ref: string): number {
    const i = doc.projects.findIndex((p) => p.projectId === ref || p.projectNumber === ref);
    if (i < 0) throw notFound(`no project with ID or number "${ref}"`, 'airlock-sandbox');
    return i;
  }
  function poolIndex(doc: GcpConfig, pi: number, poolId: string): number {
    const i = doc.projects[pi]!.workloadIdentityPools.findIndex((p) => p.poolId === poolId);
    if (i < 0) throw notFound(`no workload identity pool "${poolId}" in project ${doc.projects[pi]!.projectId}`);
    return i;
  }
  function providerIndex(doc: GcpConfig, pi: number, wi: number, providerId: string): number {
    const pool = doc.projects[pi]!.workloadIdentityPools[wi]!;
    const i = pool.providers.findIndex((p) => p.providerId === providerId);
    if (i < 0) throw notFound(`no provider "${providerId}" in pool ${pool.poolId}`);
    return i;
  }
  function accountIndex(doc: GcpConfig, ref: string): [number, number] {
    for (const [pi, p] of doc.projects.entries()) {
      const si = p.serviceAccounts.findIndex((s) => s.email === ref || s.uniqueId === ref);
      if (si >= 0) return [pi, si];
    }
    throw notFound(`no service account with email or unique ID "${ref}"`, 'etl-loader@airlock-sandbox.iam.gserviceaccount.com');
  }
  function policyAt(doc: GcpConfig, r: PolicyResource): { policy: PolicyConfig; at: string; get: (d: GcpConfig) => PolicyConfig } {
    if (r.kind === 'project') {
      const pi = projectIndex(doc, r.ref);
      return { policy: doc.projects[pi]!.iamPolicy, at: `projects[${pi}].iamPolicy`, get: (d) => d.projects[pi]!.iamPolicy };
    }
    const [pi, si] = accountIndex(doc, r.ref);
    return {
      policy: doc.projects[pi]!.serviceAccounts[si]!.iamPolicy,
      at: `projects[${pi}].serviceAccounts[${si}].iamPolicy`,
      get: (d) => d.projects[pi]!.serviceAccounts[si]!.iamPolicy,
    };
  }
  function checkBindingChange(input: unknown) {
    const b = parseInput(bindingChangeSchema, input);
    if (!ROLE.test(b.role)) throw new AppError('ERR_VALIDATION', `role: "${b.role}" is not a role name`, { field: 'role', example: 'roles/iam.workloadIdentityUser' });
    const m = parseMember(b.member);
    if (!m.ok) throw new AppError('ERR_VALIDATION', `member: ${m.message}`, { field: 'member' });
    return b;
  }

  return {
    toJSON: snapshot,
    load(json) {
      current = compileConfig(json, o.random);
      for (const l of listeners) l(snapshot());
    },
    index: () => current.index,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    createProject(input) {
      const body = parseInput(projectSchema, input);
      return change((doc) => {
        if (doc.projects.some((p) => p.projectId === body.projectId)) throw conflict(`project "${body.projectId}" already exists`);
        if (body.projectNumber && doc.projects.some((p) => p.projectNumber === body.projectNumber)) throw conflict(`project number ${body.projectNumber} is taken`);
        doc.projects.push(body as ProjectConfig);
        const pi = doc.projects.length - 1;
        return { at: `projects[${pi}]`, result: (d) => d.projects[pi]! };
      });
    },
    project(ref) {
      const p = current.index.projectsById.get(ref) ?? current.index.projectsByNumber.get(ref);
      if (!p) throw notFound(`no project with ID or number "${ref}"`, 'airlock-sandbox');
      return structuredClone(p);
    },
    deleteProject(ref) {
      change((doc) => {
        doc.projects.splice(projectIndex(doc, ref), 1);
        return { result: () => undefined };
      });
    },

    createPool(projectRef, input) {
      const body = parseInput(poolSchema, input);
      return change((doc) => {
        const pi = projectIndex(doc, projectRef);
        const pools = doc.projects[pi]!.workloadIdentityPools;
        if (pools.some((p) => p.poolId === body.poolId)) throw conflict(`pool "${body.poolId}" already exists in project ${doc.projects[pi]!.projectId}`);
        pools.push(body);
        const wi = pools.length - 1;
        return { at: `projects[${pi}].workloadIdentityPools[${wi}]`, result: (d) => d.projects[pi]!.workloadIdentityPools[wi]! };
      });
    },
    updatePool(projectRef, poolId, patch) {
      const body = parseInput(poolPatchSchema, patch);
      return change((doc) => {
        const pi = projectIndex(doc, projectRef);
        const wi = poolIndex(doc, pi, poolId);
        Object.assign(doc.projects[pi]!.workloadIdentityPools[wi]!, body);
        return { at: `projects[${pi}].workloadIdentityPools[${wi}]`, result: (d) => d.projects[pi]!.workloadIdentityPools[wi]! };
      });
    },
    deletePool(projectRef, poolId) {
      change((doc) => {
        const pi = projectIndex(doc, projectRef);
        doc.projects[pi]!.workloadIdentityPools.splice(poolIndex(doc, pi, poolId), 1);
        return { result: () => undefined };
      });
    },

    createProvider(projectRef, poolId, input) {
      const body = parseInput(providerSchema, input);
      return change((doc) => {
        const pi = projectIndex(doc, projectRef);
        const wi = poolIndex(doc, pi, poolId);
        const providers = doc.projects[pi]!.workloadIdentityPools[wi]!.providers;
        if (providers.some((p) => p.providerId === body.providerId)) throw conflict(`provider "${body.providerId}" already exists in pool ${poolId}`);
        providers.push(body);
        const vi = providers.length - 1;
        return { at: `projects[${pi}].workloadIdentityPools[${wi}].providers[${vi}]`, result: (d) => d.projects[pi]!.workloadIdentityPools[wi]!.providers[vi]! };
      });
    },
    updateProvider(projectRef, poolId, providerId, patch) {
      const body = parseInput(providerPatchSchema, patch);
      return change((doc) => {
        const pi = projectIndex(doc, projectRef);
        const wi = poolIndex(doc, pi, poolId);
        const vi = providerIndex(doc, pi, wi, providerId);
        const p = doc.projects[pi]!.workloadIdentityPools[wi]!.providers[vi]!;
        const { oidc, attributeCondition, ...rest } = body;
        Object.assign(p, rest);
        if (oidc) p.oidc = { ...p.oidc, ...Object.fromEntries(Object.entries(oidc).filter(([, v]) => v !== undefined)) };
        if (attributeCondition === null) delete p.attributeCondition;
        else if (attributeCondition !== undefined) p.attributeCondition = attributeCondition;
        return { at: `projects[${pi}].workloadIdentityPools[${wi}].providers[${vi}]`, result: (d) => d.projects[pi]!.workloadIdentityPools[wi]!.providers[vi]! };
      });
    },
    deleteProvider(projectRef, poolId, providerId) {
      change((doc) => {
        const pi = projectIndex(doc, projectRef);
        const wi = poolIndex(doc, pi, poolId);
        doc.projects[pi]!.workloadIdentityPools[wi]!.providers.splice(providerIndex(doc, pi, wi, providerId), 1);
        return { result: () => undefined };
      });
    },

    createServiceAccount(projectRef, input) {
      const body = parseInput(serviceAccountSchema, input);
      return change((doc) => {
        const pi = projectIndex(doc, projectRef);
        const accounts = doc.projects[pi]!.serviceAccounts;
        if (accounts.some((s) => s.accountId === body.accountId)) throw conflict(`service account "${body.accountId}" already exists in project ${doc.projects[pi]!.projectId}`);
        accounts.push(body as ServiceAccountConfig);
        const si = accounts.length - 1;
        return { at: `projects[${pi}].serviceAccounts[${si}]`, result: (d) => d.projects[pi]!.serviceAccounts[si]! };
      });
    },
    serviceAccount(ref) {
      const e = current.index.serviceAccountsByEmail.get(ref) ?? current.index.serviceAccountsByUniqueId.get(ref);
      if (!e) throw notFound(`no service account with email or unique ID "${ref}"`, 'etl-loader@airlock-sandbox.iam.gserviceaccount.com');
      return structuredClone(e.account);
    },
    deleteServiceAccount(ref) {
      change((doc) => {
        const [pi, si] = accountIndex(doc, ref);
        doc.projects[pi]!.serviceAccounts.splice(si, 1);
        return { result: () => undefined };
      });
    },

    getIamPolicy(resource) {
      return structuredClone(policyAt(current.config, resource).policy);
    },
    setIamPolicy(resource, input) {
      const { policy } = parseInput(setPolicySchema, input);
      return change((doc) => {
        const at = policyAt(doc, resource);
        at.policy.bindings = policy.bindings;
        return { at: at.at, result: at.get };
      });
    },
    addIamPolicyBinding(resource, input) {
      const b = checkBindingChange(input);
      return change((doc) => {
        const at = policyAt(doc, resource);
        const existing = at.policy.bindings.find((x) => x.role === b.role);
        if (existing) {
          if (!existing.members.includes(b.member)) existing.members.push(b.member);
        } else {
          at.policy.bindings.push({ role: b.role, members: [b.member] });
        }
        return { result: at.get };
      });
    },
    removeIamPolicyBinding(resource, input) {
      const b = checkBindingChange(input);
      return change((doc) => {
        const at = policyAt(doc, resource);
        const existing = at.policy.bindings.find((x) => x.role === b.role);
        // gcloud refuses to remove a binding that is not there; so do we, so a typo is not silent.
        if (!existing || !existing.members.includes(b.member)) throw notFound(`the policy has no binding of ${b.member} to ${b.role}`);
        existing.members = existing.members.filter((m) => m !== b.member);
        return { result: at.get };
      });
    },
  };
}
