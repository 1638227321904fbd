import { X509Certificate } from 'node:crypto';
import { AppError } from '../errors/index.ts';
import type { Keyring, RotateResult } from '../issuer/keyring.ts';
import type { KeyStatus } from '../issuer/key-schedule.ts';
import type { Clock } from '../lib/clock.ts';
import { isId, newId } from '../lib/ids.ts';
import type { Cluster, Page, PageRequest } from '../domain/records.ts';
import type { Store } from '../store/store.ts';
import type { Tenancy } from '../tenancy/service.ts';
import { REGION_FORMS, clusterCreateSchema, clusterUpdateSchema, type ClusterCreateInput, type ClusterUpdateInput } from './model.ts';

/** A cluster as callers see it: the record plus the issuer URL it is known by. */
const CLOUD_LABEL = { aws: 'AWS', gcp: 'GCP', azure: 'Azure' } as const;

export interface ClusterView extends Cluster {
  /** The issuer the clouds trust: Airlock's for the cluster, or in `kubernetes` mode the cluster's own. */
  oidcIssuerUrl: string;
  /** The cluster's Airlock issuer URL: the audience a pod token must carry to be exchanged. */
  attestationAudience: string;
  /** `<Airlock issuer>/token` in `airlock` mode; null in `kubernetes` mode (the kubelet projects tokens). */
  tokenEndpoint: string | null;
}

export interface ClusterService {
  create(input: ClusterCreateInput): Promise<ClusterView>;
  list(page: PageRequest): Promise<Page<ClusterView>>;
  /** By id (`cl_…`) or name. */
  get(ref: string): Promise<ClusterView>;
  /**
   * By id, trusting this replica's copy for a few seconds: for the anonymous, hot issuer routes,
   * which must not cost a store query each. Local updates and deletes evict at once; another
   * replica's show within the cache lifetime.
   */
  getCached(id: string): Promise<ClusterView>;
  update(ref: string, input: ClusterUpdateInput): Promise<ClusterView>;
  delete(ref: string): Promise<void>;
  rotateKeys(ref: string, opts: { immediate?: boolean; revokePrevious?: boolean }): Promise<RotateResult>;
  keys(ref: string): Promise<KeyStatus[]>;
}

export interface ClusterServiceDeps {
  store: Store;
  keyring: Keyring;
  clock: Clock;
  tenancy: Tenancy;
  issuerUrl: (clusterId: string) => string;
}

const KUBE_ISSUER_EXAMPLE = 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';

/** How long {@link ClusterService.getCached} trusts its copy. */
const CACHE_MS = 5000;
const CACHE_MAX = 10_000;

export function createClusterService(d: ClusterServiceDeps): ClusterService {
  // Only clusters that exist are cached, so lookups of made-up ids cannot grow the map.
  const cache = new Map<string, { cluster: ClusterView; at: number }>();
  const view = (c: Cluster): ClusterView => {
    const own = d.issuerUrl(c.id);
    return c.issuerMode === 'kubernetes'
      ? { ...c, oidcIssuerUrl: c.kubernetesIssuerUrl ?? own, attestationAudience: own, tokenEndpoint: null }
      : { ...c, oidcIssuerUrl: own, attestationAudience: own, tokenEndpoint: `${own}/token` };
  };
  // Computed at each use: the public URL is only final once the server listens.
  const airlockIssuerPrefix = () => d.issuerUrl('');

  /** The cluster's own issuer: an https URL (http only on loopback, for tests and kind), never one of ours. */
  function checkKubernetesIssuer(url: string): void {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new AppError('ERR_VALIDATION', `kubernetesIssuerUrl ${JSON.stringify(url)} is not a URL`, { field: 'kubernetesIssuerUrl', example: KUBE_ISSUER_EXAMPLE });
    }
    const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
      throw new AppError('ERR_VALIDATION', 'kubernetesIssuerUrl must be https (clouds fetch its discovery document over TLS)', {
        field: 'kubernetesIssuerUrl',
        example: KUBE_ISSUER_EXAMPLE,
      });
    }
    if (u.search || u.hash || u.username || u.password) {
      throw new AppError('ERR_VALIDATION', 'kubernetesIssuerUrl must have no query, fragment or credentials', { field: 'kubernetesIssuerUrl', example: KUBE_ISSUER_EXAMPLE });
    }
    if (url.startsWith(airlockIssuerPrefix())) {
      throw new AppError('ERR_VALIDATION', "kubernetesIssuerUrl is the cluster's own Kubernetes issuer, not an Airlock one", {
        field: 'kubernetesIssuerUrl',
        example: KUBE_ISSUER_EXAMPLE,
      });
    }
  }

  function checkCaCert(pem: string): void {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const ok = blocks.length > 0 && blocks.every((b) => {
      try {
        new X509Certificate(b);
        return true;
      } catch {
        return false;
      }
    });
    if (!ok) {
      throw new AppError('ERR_VALIDATION', 'kubernetesCaCert must be one or more PEM certificates', {
        field: 'kubernetesCaCert',
        example: '-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----',
      });
    }
  }

  function checkAudiences(id: string, audiences: string[]): string[] {
    const out = [...new Set(audiences)];
    for (const a of out) {
      if (a.startsWith(airlockIssuerPrefix()) || a === d.issuerUrl(id)) {
        throw new AppError('ERR_VALIDATION', `audience ${JSON.stringify(a)} is reserved: it is what pod tokens carry to be exchanged`, {
          field: 'audiences',
          example: ['vault.example.com'],
        });
      }
      if (/\s/.test(a)) throw new AppError('ERR_VALIDATION', 'an audience has no whitespace', { field: 'audiences', example: ['vault.example.com'] });
    }
    return out;
  }

  async function find(ref: string): Promise<Cluster> {
    const c = isId('cluster', ref) ? await d.store.clusters.get(ref) : await d.store.clusters.getByName(ref);
    if (!c) throw new AppError('ERR_NOT_FOUND', `no cluster with id or name "${ref}"`, { field: 'cluster', example: 'prod-aws' });
    return c;
  }

  /** Default identities live in the cluster's own cloud: an AWS account for AWS, a GCP project for GCP. */
  function checkPlatformSettings(
    cloud: Cluster['cloud'],
    input: { defaultIdentityAccount?: string | null | undefined; defaultIdentityProject?: string | null | undefined; defaultIdentityProjectNumber?: string | null | undefined },
  ) {
    if (input.defaultIdentityProjectNumber && cloud !== 'gcp') {
      throw new AppError('ERR_RULE_VIOLATION', `defaultIdentityProjectNumber is a GCP project number; this cluster runs on ${CLOUD_LABEL[cloud]}`, {
        field: 'defaultIdentityProjectNumber',
      });
    }
    if (input.defaultIdentityAccount && cloud !== 'aws') {
      throw new AppError('ERR_RULE_VIOLATION', `defaultIdentityAccount is an AWS account id; this cluster runs on ${CLOUD_LABEL[cloud]}`, {
        field: 'defaultIdentityAccount',
        example: cloud === 'gcp' ? { defaultIdentityProject: 'airlock-platform' } : 'omit it: Azure clusters have no default identity',
      });
    }
    if (input.defaultIdentityProject && cloud !== 'gcp') {
      throw new AppError('ERR_RULE_VIOLATION', `defaultIdentityProject is a GCP project id; this cluster runs on ${CLOUD_LABEL[cloud]}`, {
        field: 'defaultIdentityProject',
        example: cloud === 'aws' ? { defaultIdentityAccount: '123456789012' } : 'omit it: Azure clusters have no default identity',
      });
    }
  }

  function checkRegion(cloud: Cluster['cloud'], region: string) {
    const form = REGION_FORMS[cloud];
    if (!form.pattern.test(region)) {
      throw new AppError('ERR_VALIDATION', `"${region}" is not a region name ${CLOUD_LABEL[cloud]} uses`, { field: 'region', example: form.example });
    }
  }

  return {
    async create(raw) {
      const input = clusterCreateSchema.parse(raw);
      checkRegion(input.cloud, input.region);
      checkPlatformSettings(input.cloud, input);
      if (input.issuerMode === 'kubernetes' && !input.kubernetesIssuerUrl) {
        throw new AppError('ERR_VALIDATION', 'issuer mode "kubernetes" trusts the cluster\'s own service-account issuer: give its URL', {
          field: 'kubernetesIssuerUrl',
          example: KUBE_ISSUER_EXAMPLE,
        });
      }
      if (input.kubernetesIssuerUrl) checkKubernetesIssuer(input.kubernetesIssuerUrl);
      if (input.kubernetesCaCert) checkCaCert(input.kubernetesCaCert);
      const id = newId('cluster');
      const audiences = checkAudiences(id, input.audiences ?? []);
      const now = new Date(d.clock.now());
      const cluster: Cluster = {
        id,
        organizationId: d.tenancy.organization.id,
        name: input.name,
        cloud: input.cloud,
        type: input.type,
        region: input.region,
        issuerMode: input.issuerMode,
        kubernetesIssuerUrl: input.kubernetesIssuerUrl ?? null,
        kubernetesCaCert: input.kubernetesCaCert ?? null,
        audiences,
        defaultIdentityAccount: input.defaultIdentityAccount ?? null,
        defaultIdentityProject: input.defaultIdentityProject ?? null,
        defaultIdentityProjectNumber: input.defaultIdentityProjectNumber ?? null,
        createdAt: now,
        updatedAt: now,
      };
      await d.store.transaction(async (tx) => {
        await tx.clusters.insert(cluster);
        await d.keyring.createInitialKey(tx, cluster.id);
      });
      return view(cluster);
    },
    async list(page) {
      const p = await d.store.clusters.list(page);
      return { ...p, items: p.items.map(view) };
    },
    async get(ref) {
      return view(await find(ref));
    },
    async getCached(id) {
      const now = d.clock.now();
      const hit = cache.get(id);
      if (hit && now >= hit.at && now - hit.at < CACHE_MS) return hit.cluster;
      const c = view(await find(id));
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(id, { cluster: c, at: now });
      return c;
    },
    async update(ref, raw) {
      const input = clusterUpdateSchema.parse(raw);
      const c = await find(ref);
      if (input.region !== undefined) checkRegion(c.cloud, input.region);
      checkPlatformSettings(c.cloud, input);
      if (input.kubernetesIssuerUrl) checkKubernetesIssuer(input.kubernetesIssuerUrl);
      if (input.kubernetesIssuerUrl === null && c.issuerMode === 'kubernetes') {
        throw new AppError('ERR_RULE_VIOLATION', `cluster "${c.name}" uses its own issuer (issuer mode "kubernetes"); its URL cannot be removed`, {
          field: 'kubernetesIssuerUrl',
          example: KUBE_ISSUER_EXAMPLE,
        });
      }
      if (input.kubernetesCaCert) checkCaCert(input.kubernetesCaCert);
      const { audiences, ...rest } = input;
      const patch: Parameters<Store['clusters']['update']>[1] = { ...rest, updatedAt: new Date(d.clock.now()) };
      if (audiences !== undefined) patch.audiences = checkAudiences(c.id, audiences);
      const updated = await d.store.clusters.update(c.id, patch);
      cache.delete(c.id);
      if (!updated) throw new AppError('ERR_NOT_FOUND', `cluster "${ref}" was deleted`, { field: 'cluster' });
      return view(updated);
    },
    async delete(ref) {
      const c = await find(ref);
      await d.store.transaction(async (tx) => {
        // Checked under the cluster's row lock; a Deployment created concurrently still makes
        // the delete fail cleanly (a foreign-key conflict, mapped to ERR_CONFLICT by the store).
        await tx.clusters.lock(c.id);
        const inUse = await tx.deployments.listAll({ clusterId: c.id });
        if (inUse.length > 0) {
          throw new AppError('ERR_CONFLICT', `cluster "${c.name}" still runs ${inUse.length} deployment(s): ${inUse.map((x) => x.name).join(', ')}; delete them first`, {
            field: 'cluster',
            details: { deployments: inUse.map((x) => ({ id: x.id, name: x.name })) },
          });
        }
        await tx.clusters.delete(c.id);
      });
      cache.delete(c.id);
      d.keyring.forget(c.id);
    },
    async rotateKeys(ref, opts) {
      const c = await find(ref);
      return d.keyring.rotate(c.id, opts);
    },
    async keys(ref) {
      return d.keyring.statuses((await find(ref)).id);
    },
  };
}
