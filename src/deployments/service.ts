import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ClusterService, ClusterView } from '../clusters/service.ts';
import type { CustomerIdentity, EffectiveIdentity, SetupInput } from '../cloud/types.ts';
import { AppError } from '../errors/index.ts';
import { defaultIdentityFor } from '../identity/default-identity.ts';
import { WORKLOAD_IDENTITY_FORMS, parseWorkloadIdentity } from '../identity/parse.ts';
import type { IdentityService } from '../identity/service.ts';
import type { Clock } from '../lib/clock.ts';
import { isId, newId } from '../lib/ids.ts';
import type { Deployment, Page, PageRequest, SavedIdentity } from '../domain/records.ts';
import type { Repos } from '../store/repos.ts';
import type { Store } from '../store/store.ts';
import type { Scope } from '../access/scope.ts';
import { componentIdentities, type ComponentIdentity } from './components.ts';
import { checkAzureCapacity, checkRuntimeForIdentity, checkWildcard, parseSemver } from './rules.ts';

const nameSchema = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS-1123 label: lowercase letters, digits and "-", 1–63 characters')
  .meta({ example: 'etl' });
const runtimeSchema = z
  .string()
  .refine((v) => parseSemver(v) !== undefined, 'must be a semantic version such as 12.1.0')
  .meta({ example: '12.1.0' });
const workloadIdentitySchema = z
  .string()
  .min(1)
  .max(2048)
  .nullable()
  .meta({ example: 'arn:aws:iam::123456789012:role/etl-reader', description: `One of: ${WORKLOAD_IDENTITY_FORMS.join('; ')}; null means default.` });

export const deploymentCreateSchema = z
  .object({
    name: nameSchema,
    cluster: z.string().min(1).max(100).meta({ example: 'prod-aws' }),
    runtimeVersion: runtimeSchema,
    description: z.string().max(1000).default('').meta({ example: 'Nightly lake ingestion' }),
    workloadIdentity: workloadIdentitySchema.optional(),
  })
  .strict();

/** PATCH semantics: an absent key leaves the value as it is; `workloadIdentity: null` or `"default"` resets it. */
export const deploymentUpdateSchema = z
  .object({
    description: z.string().max(1000).optional().meta({ example: 'Nightly lake ingestion' }),
    runtimeVersion: runtimeSchema.optional(),
    workloadIdentity: workloadIdentitySchema.optional(),
  })
  .strict();

/** What the user configured, as they would recognise it. */
export type ConfiguredIdentity =
  | { type: 'aws-iam-role' | 'gcp-service-account'; identity: CustomerIdentity }
  | { type: 'saved'; id: string; name: string; identity: CustomerIdentity };

/** A Deployment with everything derived from it. */
export interface DeploymentView {
  deployment: Deployment;
  cluster: ClusterView;
  components: ComponentIdentity[];
  configured: ConfiguredIdentity | null;
  effective: EffectiveIdentity | null;
  /** Why there is no effective identity, when there is none. */
  effectiveReason?: string;
}

export interface SetupOptions {
  wildcard?: boolean;
  target?: SetupInput['target'];
}

/**
 * Deployments belong to a workspace: every call names the {@link Scope} it acts in, and a
 * Deployment outside it is not found (a Deployment-scoped scope sees only its one Deployment).
 */
export interface DeploymentService {
  create(scope: Scope, input: z.input<typeof deploymentCreateSchema>): Promise<DeploymentView>;
  list(scope: Scope, page: PageRequest, filter?: { cluster?: string | undefined; nameContains?: string | undefined; identity?: string | undefined }): Promise<Page<DeploymentView>>;
  get(scope: Scope, ref: string): Promise<DeploymentView>;
  /** By id in any workspace: for the server's own use (the token exchange), never a caller's reference. */
  getById(id: string): Promise<DeploymentView>;
  update(scope: Scope, ref: string, input: z.input<typeof deploymentUpdateSchema>): Promise<DeploymentView>;
  delete(scope: Scope, ref: string): Promise<void>;
  /** The pure input a cloud needs to generate setup; enforces the wildcard rule and requires an effective identity. */
  setupInput(scope: Scope, ref: string, opts: SetupOptions): Promise<SetupInput>;
  /** Re-checks every Deployment using `identity` after its definition changed. */
  checkIdentityUsers(tx: Repos, identity: SavedIdentity): Promise<void>;
}

export interface DeploymentServiceDeps {
  store: Store;
  clock: Clock;
  clusters: ClusterService;
  identities: () => IdentityService;
  random?: (n: number) => Buffer;
}

const NS_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Namespace = up to 13 characters of the name + "-" + 8 random characters: at most 22, so the GCP
 * default identity `airlock-<ns>` fits Google's 30-character account ids.
 */
export function generateNamespace(name: string, random: (n: number) => Buffer = randomBytes): string {
  const stem = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 13).replace(/-+$/, '') || 'd';
  let suffix = '';
  for (const b of random(8)) suffix += NS_ALPHABET[b & 31];
  return `${stem}-${suffix}`;
}

/** The pure input a cloud needs for a Deployment; enforces the wildcard rule and requires an effective identity. */
export function setupInputFromView(v: DeploymentView, opts: SetupOptions): SetupInput {
  if (opts.wildcard) checkWildcard(v.cluster.type, v.cluster.name);
  if (!v.effective) {
    throw new AppError('ERR_RULE_VIOLATION', `deployment "${v.deployment.name}" has no workload identity in force: ${v.effectiveReason}`, {
      field: 'deployment',
      example: `airlock deployment update ${v.deployment.name} --workload-identity arn:aws:iam::123456789012:role/etl-reader`,
    });
  }
  const input: SetupInput = {
    deployment: { id: v.deployment.id, name: v.deployment.name, namespace: v.deployment.namespace, runtimeVersion: v.deployment.runtimeVersion },
    cluster: { id: v.cluster.id, name: v.cluster.name, cloud: v.cluster.cloud, type: v.cluster.type, region: v.cluster.region, oidcIssuerUrl: v.cluster.oidcIssuerUrl },
    components: v.components,
    identity: v.effective,
    wildcard: Boolean(opts.wildcard),
  };
  if (opts.target) input.target = opts.target;
  return input;
}

export function createDeploymentService(d: DeploymentServiceDeps): DeploymentService {
  const random = d.random ?? randomBytes;

  async function find(tx: Repos, scope: Scope, ref: string): Promise<Deployment> {
    const dep = isId('deployment', ref) ? await tx.deployments.get(ref) : await tx.deployments.getByName(scope.workspaceId, ref);
    // Another workspace's Deployment (or, for a Deployment-scoped caller, any other one) does not exist for this caller.
    const visible = dep && dep.workspaceId === scope.workspaceId && (!scope.deploymentId || dep.id === scope.deploymentId);
    if (!visible) throw new AppError('ERR_NOT_FOUND', `no deployment with id or name "${ref}"`, { field: 'deployment', example: 'etl (see: airlock deployment list)' });
    return dep;
  }

  async function view(tx: Repos, dep: Deployment, clusterCache?: Map<string, ClusterView>): Promise<DeploymentView> {
    let cluster = clusterCache?.get(dep.clusterId);
    if (!cluster) {
      cluster = await d.clusters.get(dep.clusterId);
      clusterCache?.set(dep.clusterId, cluster);
    }
    let configured: ConfiguredIdentity | null = null;
    if (dep.identitySpec) configured = { type: dep.identitySpec.cloud === 'aws' ? 'aws-iam-role' : 'gcp-service-account', identity: dep.identitySpec };
    if (dep.identityId) {
      const saved = await tx.identities.get(dep.identityId);
      if (saved) configured = { type: 'saved', id: saved.id, name: saved.name, identity: saved.spec };
    }
    const base = { deployment: dep, cluster, components: componentIdentities(dep.namespace), configured };
    if (configured) {
      const effective: EffectiveIdentity =
        configured.type === 'saved'
          ? { mode: 'customer-managed', identity: configured.identity, savedIdentityName: configured.name }
          : { mode: 'customer-managed', identity: configured.identity };
      return { ...base, effective };
    }
    const def = defaultIdentityFor(cluster, dep.namespace);
    return def.identity ? { ...base, effective: { mode: 'default', identity: def.identity } } : { ...base, effective: null, effectiveReason: def.reason };
  }

  /** Resolves a `workloadIdentity` value to the columns it sets, checking every rule that depends on it. */
  async function resolveIdentity(
    tx: Repos,
    value: string | null,
    ctx: { workspaceId: string; deploymentId?: string; runtimeVersion: string },
  ): Promise<{ identitySpec: CustomerIdentity | null; identityId: string | null }> {
    const parsed = parseWorkloadIdentity(value);
    if (parsed.kind === 'default') return { identitySpec: null, identityId: null };
    if (parsed.kind === 'customer') {
      checkRuntimeForIdentity(ctx.runtimeVersion, parsed.identity);
      return { identitySpec: parsed.identity, identityId: null };
    }
    const saved = await d.identities().find(tx, { workspaceId: ctx.workspaceId }, parsed.name);
    if (!saved) {
      throw new AppError('ERR_VALIDATION', `no saved identity named "${parsed.name}"; --workload-identity accepts ${WORKLOAD_IDENTITY_FORMS.join('; ')}`, {
        field: 'workloadIdentity',
        example: [...WORKLOAD_IDENTITY_FORMS],
      });
    }
    checkRuntimeForIdentity(ctx.runtimeVersion, saved.spec);
    if (saved.spec.cloud !== 'azure') {
      await tx.identities.lock(saved.id);
    } else {
      // Capacity belongs to the managed identity, which several saved names may point at: lock all
      // of them (in id order, so concurrent writers cannot deadlock) before counting.
      const clientId = saved.spec.clientId;
      const aliases = (await tx.identities.list(ctx.workspaceId)).filter((i) => i.spec.cloud === 'azure' && i.spec.clientId === clientId);
      for (const id of aliases.map((i) => i.id).sort()) await tx.identities.lock(id);
      const users = (await azureUsers(tx, ctx.workspaceId, saved.spec.clientId)).filter((u) => u.id !== ctx.deploymentId);
      checkAzureCapacity(saved.spec.managedIdentityName, users.map((u) => ({ id: u.id, name: u.name })));
    }
    return { identitySpec: null, identityId: saved.id };
  }

  /** Deployments using the managed identity with this client id, through any saved identity. */
  async function azureUsers(tx: Repos, workspaceId: string, clientId: string): Promise<Deployment[]> {
    const same = (await tx.identities.list(workspaceId)).filter((i) => i.spec.cloud === 'azure' && i.spec.clientId === clientId);
    const users: Deployment[] = [];
    for (const i of same) users.push(...(await tx.deployments.listAll({ identityId: i.id })));
    return users;
  }

  return {
    async create(scope, raw) {
      const input = deploymentCreateSchema.parse(raw);
      if (scope.deploymentId) throw new AppError('ERR_FORBIDDEN', 'a Deployment-scoped token cannot create Deployments');
      const cluster = await d.clusters.get(input.cluster).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'ERR_NOT_FOUND') {
          throw new AppError('ERR_VALIDATION', `no cluster with id or name "${input.cluster}"`, { field: 'cluster', example: 'prod-aws (see: airlock cluster list)' });
        }
        throw err;
      });
      const now = new Date(d.clock.now());
      const dep = await d.store.transaction(async (tx) => {
        let namespace = generateNamespace(input.name, random);
        for (let i = 0; i < 5 && (await tx.deployments.namespaceTaken(cluster.id, namespace)); i++) namespace = generateNamespace(input.name, random);
        const ids = await resolveIdentity(tx, input.workloadIdentity ?? null, { workspaceId: scope.workspaceId, runtimeVersion: input.runtimeVersion });
        const record: Deployment = {
          id: newId('deployment'),
          workspaceId: scope.workspaceId,
          clusterId: cluster.id,
          name: input.name,
          description: input.description,
          runtimeVersion: input.runtimeVersion,
          namespace,
          ...ids,
          createdAt: now,
          updatedAt: now,
        };
        await tx.deployments.insert(record);
        return record;
      });
      return view(d.store, dep);
    },

    async list(scope, page, filter = {}) {
      const clusterId = filter.cluster ? (await d.clusters.get(filter.cluster)).id : undefined;
      const identityId = filter.identity ? (await d.identities().get(scope, filter.identity)).id : undefined;
      const p = await d.store.deployments.list(scope.workspaceId, page, { clusterId, identityId, nameContains: filter.nameContains, id: scope.deploymentId });
      const cache = new Map<string, ClusterView>();
      const items: DeploymentView[] = [];
      for (const dep of p.items) items.push(await view(d.store, dep, cache));
      return p.nextCursor ? { items, nextCursor: p.nextCursor } : { items };
    },

    async get(scope, ref) {
      return view(d.store, await find(d.store, scope, ref));
    },

    async getById(id) {
      const dep = await d.store.deployments.get(id);
      if (!dep) throw new AppError('ERR_NOT_FOUND', `no deployment with id "${id}"`, { field: 'deployment' });
      return view(d.store, dep);
    },

    async update(scope, ref, raw) {
      const input = deploymentUpdateSchema.parse(raw);
      const updated = await d.store.transaction(async (tx) => {
        const dep = await find(tx, scope, ref);
        const runtimeVersion = input.runtimeVersion ?? dep.runtimeVersion;
        const patch: Parameters<Repos['deployments']['update']>[1] = { updatedAt: new Date(d.clock.now()) };
        if (input.description !== undefined) patch.description = input.description;
        if (input.runtimeVersion !== undefined) patch.runtimeVersion = input.runtimeVersion;
        if (input.workloadIdentity !== undefined) {
          Object.assign(patch, await resolveIdentity(tx, input.workloadIdentity, { workspaceId: dep.workspaceId, deploymentId: dep.id, runtimeVersion }));
        } else if (input.runtimeVersion !== undefined) {
          // A runtime change must still satisfy the identity in force.
          const current = dep.identitySpec ?? (dep.identityId ? (await tx.identities.get(dep.identityId))?.spec : undefined);
          checkRuntimeForIdentity(runtimeVersion, current);
        }
        return (await tx.deployments.update(dep.id, patch))!;
      });
      return view(d.store, updated);
    },

    async delete(scope, ref) {
      const dep = await find(d.store, scope, ref);
      await d.store.deployments.delete(dep.id);
    },

    async setupInput(scope, ref, opts) {
      return setupInputFromView(await this.get(scope, ref), opts);
    },

    async checkIdentityUsers(tx, identity) {
      const users = await tx.deployments.listAll({ identityId: identity.id });
      for (const u of users) checkRuntimeForIdentity(u.runtimeVersion, identity.spec, null);
      if (identity.spec.cloud === 'azure') {
        const all = await azureUsers(tx, identity.workspaceId, identity.spec.clientId);
        if (all.length > 0) {
          // Everyone but the newest must fit; report against the full list.
          checkAzureCapacity(identity.spec.managedIdentityName, all.slice(0, -1).map((u) => ({ id: u.id, name: u.name })), 'azure');
        }
      }
    },
  };
}
