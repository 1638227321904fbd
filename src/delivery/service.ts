/**
 * The server side of credential delivery: join credentials, attestation (join credential or the
 * pod's Kubernetes token), workload profiles and the RFC 8693 token exchange at
 * `POST <issuer>/token`.
 *
 * The one invariant everything here serves: the subject of a token is derived only from what
 * was attested. A join credential names its Deployment and component; a pod token names its
 * namespace and service account, which map to at most one Deployment component of the cluster it
 * was verified for. Nothing the caller sends (audience, form fields, URL) can choose a subject.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Scope } from '../access/scope.ts';
import type { AuditEvent, AuditLog } from '../audit/log.ts';
import { createPacedRecorder } from '../audit/pacer.ts';
import type { ClusterService, ClusterView } from '../clusters/service.ts';
import type { CloudProvider } from '../cloud/types.ts';
import { COMPONENTS, type Component } from '../deployments/components.ts';
import type { DeploymentService } from '../deployments/service.ts';
import type { JoinCredentialRecord } from '../domain/records.ts';
import type { Cloud } from '../domain/terms.ts';
import { AppError, OAuthError } from '../errors/index.ts';
import { noMetrics, type ExchangeAttestation, type JoinRefusal, type Metrics } from '../metrics/metrics.ts';
import type { Minter } from '../issuer/minter.ts';
import { createBatcher } from '../lib/batch.ts';
import type { Clock } from '../lib/clock.ts';
import { formatDuration, parseDuration } from '../lib/duration.ts';
import { isId, newId } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { JoinCredentialForExchange, WorkloadDeployment } from '../store/repos.ts';
import type { Store } from '../store/store.ts';
import { AttestationError, type KubernetesTokenVerifier } from './kubernetes-tokens.ts';
import {
  JOIN_CREDENTIAL_PATTERN,
  JOIN_CREDENTIAL_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
  type TokenResponse,
  type WorkloadProfile,
} from './profile.ts';
import { componentOfServiceAccount, workloadProfile } from './workloads.ts';

export const JOIN_CREDENTIAL_DEFAULT_TTL_SECONDS = 30 * 86400;
export const JOIN_CREDENTIAL_MAX_TTL_SECONDS = 365 * 86400;
export const JOIN_CREDENTIAL_MIN_TTL_SECONDS = 60;
/** last_used_at is written at most this often per credential (as for API tokens). */
const TOUCH_EVERY_MS = 60_000;
const PROFILE_CACHE_MAX = 10_000;

export const joinCredentialCreateSchema = z
  .object({
    component: z.enum(COMPONENTS).meta({ example: 'worker' }),
    ttl: z
      .union([z.string(), z.number()])
      .optional()
      .meta({ example: '30d', description: `Lifetime: a number of seconds or 90s/15m/1h/30d; default 30d, at most 365d.` }),
    description: z.string().max(200).default('').meta({ example: 'celery workers on vm-pool-3' }),
  })
  .strict();

/** Who proved what, for the audit log and the profile. */
export type Attestation =
  | { kind: 'join-credential'; credentialId: string }
  | { kind: 'kubernetes'; namespace: string; serviceAccount: string; podName?: string | undefined; jti?: string | undefined };

export interface AttestedWorkload {
  attestation: Attestation;
  profile: WorkloadProfile;
  deploymentId: string;
  clusterId: string;
}

/** A workload that proved who it is at a workload route: its profile, and who it is in the audit log. */
export interface AuthenticatedWorkload {
  profile: WorkloadProfile;
  actor: AuditEvent['actor'];
}

export interface ExchangeContext {
  requestId: string;
  source: string;
}

export interface DeliveryService {
  /** Join credentials belong to a Deployment, looked up in the caller's {@link Scope}. */
  createCredential(scope: Scope, deploymentRef: string, input: z.input<typeof joinCredentialCreateSchema>): Promise<{ credential: JoinCredentialRecord; secret: string }>;
  listCredentials(scope: Scope, deploymentRef: string): Promise<JoinCredentialRecord[]>;
  revokeCredential(scope: Scope, deploymentRef: string, id: string): Promise<JoinCredentialRecord>;
  revokeAllCredentials(scope: Scope, deploymentRef: string): Promise<number>;
  /**
   * A workload's own view, and the actor the audit log names it by: attested by a join credential,
   * or by a pod token for `clusterRef`. `ctx` names the request in the audit record of a refused
   * stored credential.
   */
  authenticateWorkload(bearer: string, clusterRef: string | undefined, ctx?: ExchangeContext): Promise<AuthenticatedWorkload>;
  /** The webhook's lookup: the component whose service account this is, if any. */
  workloads(clusterRef: string, namespace: string, serviceAccount: string): Promise<WorkloadProfile[]>;
  /** RFC 8693 at `POST /clusters/:clusterId/token`. Throws {@link OAuthError}. */
  exchange(clusterId: string, form: Record<string, string[]>, ctx: ExchangeContext): Promise<TokenResponse>;
}

export interface DeliveryServiceDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  clusters: ClusterService;
  deployments: DeploymentService;
  minter: Minter;
  audit: AuditLog;
  kubernetes: KubernetesTokenVerifier;
  providers: Readonly<Record<Cloud, CloudProvider>>;
  tokenTtlSeconds: number;
  /** Counts exchanges by result (default: nothing is counted). */
  metrics?: Metrics | undefined;
}

const sha256hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** The service-account uid in a delivered token: stable per Deployment component, as Kubernetes' is per account. */
function serviceAccountUid(deploymentId: string, component: string): string {
  const h = createHash('sha256').update(`${deploymentId}/${component}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Why an attestation failed, for the caller: specific enough to act on, never echoing the secret. */
class Refused extends Error {
  /** The stored join credential the presented one names, for the audit log (never for the caller). */
  constructor(
    message: string,
    readonly credential?: RefusedCredential,
  ) {
    super(message);
  }
}

type RefusedCredential = { id: string; name: string; reason: JoinRefusal };

/** What an exchange got as far as establishing, for its metrics. */
interface ExchangeSeen {
  cluster: string | undefined;
  attestation: ExchangeAttestation;
  refusal: RefusedCredential['reason'] | undefined;
}

/** A stored join credential as the audit log names a refusal of it: id, and `<deployment>/<component>`. */
function refusedCredential(row: JoinCredentialForExchange, reason: RefusedCredential['reason']): RefusedCredential {
  return { id: row.credential.id, name: `${row.deployment.name}/${row.credential.component}`, reason };
}

export function createDeliveryService(d: DeliveryServiceDeps): DeliveryService {
  const metrics = d.metrics ?? noMetrics;
  // Refusals anyone can cause are recorded paced (src/audit/pacer.ts); grants are all recorded.
  const exchangeRefusals = createPacedRecorder({ clock: d.clock, log: d.audit, onError: () => undefined });
  const profileRefusals = createPacedRecorder({
    clock: d.clock,
    log: d.audit,
    onError: (e) => d.logger.error('audit: a refused workload credential could not be recorded', { err: e as Error }),
  });
  const loadCredential = createBatcher<string, JoinCredentialForExchange>(async (ids) => {
    const rows = await d.store.joinCredentials.getForExchange(ids);
    return new Map(rows.map((r) => [r.credential.id, r]));
  });
  // On a store only this process writes, a credential read at generation g is current until the
  // generation moves (any revocation, Deployment, identity or cluster change moves it); elsewhere
  // every exchange reads the store (batched), so a revocation on another replica counts at once.
  const credentialCache = new Map<string, { generation: number; row: JoinCredentialForExchange | undefined }>();
  async function credentialsById(id: string): Promise<JoinCredentialForExchange | undefined> {
    const generation = d.store.generation();
    if (generation === undefined) return loadCredential(id);
    const hit = credentialCache.get(id);
    if (hit && hit.generation === generation) return hit.row;
    const row = await loadCredential(id);
    if (credentialCache.size >= PROFILE_CACHE_MAX) credentialCache.clear();
    // Unknown ids are not cached: made-up ones must not grow the map.
    if (row) credentialCache.set(id, { generation, row });
    return row;
  }
  const deploymentsByNamespace = createBatcher<string, WorkloadDeployment>(async (keys) => {
    const rows = await d.store.deployments.findByNamespaces(
      keys.map((k) => {
        const [clusterId, namespace] = k.split('/') as [string, string];
        return { clusterId, namespace };
      }),
    );
    return new Map(rows.map((r) => [`${r.deployment.clusterId}/${r.deployment.namespace}`, r]));
  });

  // Profiles are rebuilt only when something they derive from changed (the version comes with
  // every lookup), so a cached profile is never stale.
  const profiles = new Map<string, { version: string; profile: WorkloadProfile }>();
  async function profileOf(w: WorkloadDeployment, component: Component): Promise<WorkloadProfile> {
    const key = `${w.deployment.id}/${component}`;
    const hit = profiles.get(key);
    if (hit && hit.version === w.profileVersion) return hit.profile;
    const view = await d.deployments.getById(w.deployment.id);
    const profile = workloadProfile(view, component, { tokenTtlSeconds: d.tokenTtlSeconds, providers: d.providers });
    if (profiles.size >= PROFILE_CACHE_MAX) profiles.clear();
    profiles.set(key, { version: w.profileVersion, profile });
    return profile;
  }

  const lastTouch = new Map<string, number>();
  let touchQueue = new Set<string>();
  let touchTimer: NodeJS.Timeout | undefined;
  function touch(id: string) {
    const now = d.clock.now();
    if (now - (lastTouch.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    lastTouch.set(id, now);
    touchQueue.add(id);
    touchTimer ??= setTimeout(() => {
      const ids = [...touchQueue];
      touchQueue = new Set();
      touchTimer = undefined;
      d.store.joinCredentials.touch(ids, new Date(d.clock.now())).catch((err: unknown) => d.logger.warn('could not record join credential use', { err: err as Error }));
    }, 50);
    touchTimer.unref();
  }

  async function findDeployment(scope: Scope, ref: string) {
    return (await d.deployments.get(scope, ref)).deployment;
  }

  /** Verifies a join credential; the error says which check failed without revealing which part matched. */
  async function attestJoin(presented: string): Promise<{ row: JoinCredentialForExchange; component: Component }> {
    if (!JOIN_CREDENTIAL_PATTERN.test(presented)) throw new Refused('the join credential is not in the form alj_<id>_<secret>');
    const id = `jc_${presented.slice(4, 24)}`;
    const row = await credentialsById(id);
    const given = Buffer.from(sha256hex(presented.slice(25)), 'hex');
    const stored = Buffer.from(row?.credential.secretHash ?? '0'.repeat(64), 'hex');
    const matches = timingSafeEqual(given, stored);
    if (!row) throw new Refused('the join credential is not valid');
    const c = row.credential;
    if (!matches) throw new Refused('the join credential is not valid', refusedCredential(row, 'wrong-secret'));
    if (c.revokedAt) throw new Refused(`join credential ${c.id} was revoked`, refusedCredential(row, 'revoked'));
    if (d.clock.now() >= c.expiresAt.getTime()) throw new Refused(`join credential ${c.id} expired at ${c.expiresAt.toISOString()}; create a new one`, refusedCredential(row, 'expired'));
    touch(c.id);
    return { row, component: c.component as Component };
  }

  async function attestKubernetes(cluster: ClusterView, token: string): Promise<{ w: WorkloadDeployment; component: Component; attestation: Attestation }> {
    if (!cluster.kubernetesIssuerUrl) {
      throw new Refused(`cluster ${cluster.name} has no kubernetesIssuerUrl, so pod tokens cannot be verified; set it (airlock cluster update ${cluster.name} --kubernetes-issuer-url …) or use a join credential`);
    }
    let pod;
    try {
      pod = await d.kubernetes.verify(
        { clusterId: cluster.id, issuerUrl: cluster.kubernetesIssuerUrl, caCert: cluster.kubernetesCaCert, audience: cluster.attestationAudience },
        token,
      );
    } catch (err) {
      if (err instanceof AttestationError) throw new Refused(err.message);
      throw err;
    }
    const w = await deploymentsByNamespace(`${cluster.id}/${pod.namespace}`);
    if (!w) throw new Refused(`no Deployment runs in namespace ${pod.namespace} on cluster ${cluster.name}`);
    const component = componentOfServiceAccount(pod.namespace, pod.serviceAccount);
    if (!component) {
      throw new Refused(`service account ${pod.serviceAccount} is not one of Deployment ${w.deployment.name}'s components (${COMPONENTS.join(', ')})`);
    }
    return { w, component, attestation: { kind: 'kubernetes', namespace: pod.namespace, serviceAccount: pod.serviceAccount, podName: pod.podName, jti: pod.jti } };
  }

  /** One single-valued form parameter; RFC 6749 §3.2: parameters must not repeat. */
  function single(form: Record<string, string[]>, name: string, required: true): string;
  function single(form: Record<string, string[]>, name: string, required: false): string | undefined;
  function single(form: Record<string, string[]>, name: string, required: boolean): string | undefined {
    const v = form[name];
    if (!v || v.length === 0 || v[0] === '') {
      if (required) throw new OAuthError('invalid_request', `${name} is required`);
      return undefined;
    }
    if (v.length > 1) throw new OAuthError('invalid_request', `${name} must be sent once`);
    return v[0];
  }

  async function attest(cluster: ClusterView, tokenType: string, token: string): Promise<AttestedWorkload> {
    if (tokenType === JOIN_CREDENTIAL_TOKEN_TYPE) {
      const { row, component } = await attestJoin(token);
      if (row.deployment.clusterId !== cluster.id) {
        throw new Refused(`the join credential is for Deployment ${row.deployment.name}, which runs on another cluster; use that cluster's issuer`, refusedCredential(row, 'other-cluster'));
      }
      const profile = await profileOf(row, component);
      return { attestation: { kind: 'join-credential', credentialId: row.credential.id }, profile, deploymentId: row.deployment.id, clusterId: cluster.id };
    }
    const { w, component, attestation } = await attestKubernetes(cluster, token);
    const profile = await profileOf(w, component);
    return { attestation, profile, deploymentId: w.deployment.id, clusterId: cluster.id };
  }

  function actorOf(a: Attestation | undefined) {
    if (!a) return { type: 'anonymous' as const, id: '-' };
    return a.kind === 'join-credential'
      ? { type: 'join-credential' as const, id: a.credentialId }
      : { type: 'kubernetes' as const, id: `system:serviceaccount:${a.namespace}:${a.serviceAccount}`, name: a.podName };
  }

  return {
    async createCredential(scope, ref, raw) {
      const input = joinCredentialCreateSchema.parse(raw);
      const view = await d.deployments.get(scope, ref);
      const dep = view.deployment;
      if (view.cluster.issuerMode === 'kubernetes') {
        throw new AppError('ERR_RULE_VIOLATION', `cluster ${view.cluster.name} uses its own issuer (issuer mode "kubernetes"): only its kubelet can sign tokens clouds trust, so join credentials cannot work there`, {
          field: 'deployment',
          example: 'run the workload in the cluster (the webhook delivers its tokens), or use a cluster in issuer mode "airlock"',
        });
      }
      const ttl = input.ttl === undefined ? JOIN_CREDENTIAL_DEFAULT_TTL_SECONDS : parseDuration(input.ttl);
      if (ttl === undefined || ttl < JOIN_CREDENTIAL_MIN_TTL_SECONDS || ttl > JOIN_CREDENTIAL_MAX_TTL_SECONDS) {
        throw new AppError('ERR_VALIDATION', `ttl must be a duration from ${formatDuration(JOIN_CREDENTIAL_MIN_TTL_SECONDS)} to ${formatDuration(JOIN_CREDENTIAL_MAX_TTL_SECONDS)}`, {
          field: 'ttl',
          example: '30d',
        });
      }
      const id = newId('joinCredential');
      const secretPart = randomBytes(32).toString('base64url');
      const now = d.clock.now();
      const credential: JoinCredentialRecord = {
        id,
        deploymentId: dep.id,
        component: input.component,
        description: input.description,
        secretHash: sha256hex(secretPart),
        createdAt: new Date(now),
        expiresAt: new Date(now + ttl * 1000),
        lastUsedAt: null,
        revokedAt: null,
      };
      await d.store.joinCredentials.insert(credential);
      return { credential, secret: `alj_${id.slice(3)}_${secretPart}` };
    },
    async listCredentials(scope, ref) {
      return d.store.joinCredentials.listForDeployment((await findDeployment(scope, ref)).id);
    },
    async revokeCredential(scope, ref, id) {
      const dep = await findDeployment(scope, ref);
      const notFound = () => new AppError('ERR_NOT_FOUND', `Deployment ${dep.name} has no join credential ${id}`, { field: 'credential', example: 'jc_… (see: airlock deployment credentials list)' });
      if (!isId('joinCredential', id)) throw notFound();
      const r = await d.store.joinCredentials.revoke(dep.id, id, new Date(d.clock.now()));
      if (!r) throw notFound();
      return r;
    },
    async revokeAllCredentials(scope, ref) {
      const dep = await findDeployment(scope, ref);
      return d.store.joinCredentials.revokeAll(dep.id, new Date(d.clock.now()));
    },

    async authenticateWorkload(bearer, clusterRef, ctx) {
      try {
        if (bearer.startsWith('alj_')) {
          const { row, component } = await attestJoin(bearer);
          return { profile: await profileOf(row, component), actor: actorOf({ kind: 'join-credential', credentialId: row.credential.id }) };
        }
        if (bearer.startsWith('alk_')) throw new Refused('that is an API token; a workload presents its join credential (alj_…) or its pod service-account token');
        if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(bearer)) throw new Refused('the credential is neither a join credential (alj_…) nor a service-account token (a JWT)');
        if (!clusterRef) {
          throw new AppError('ERR_VALIDATION', 'a Kubernetes token is verified against a cluster: name it', { field: 'cluster', example: '?cluster=prod-aws' });
        }
        const cluster = await d.clusters.get(clusterRef);
        const { w, component, attestation } = await attestKubernetes(cluster, bearer);
        return { profile: await profileOf(w, component), actor: actorOf(attestation) };
      } catch (err) {
        if (err instanceof Refused) {
          // A refused credential that names a stored one (revoked, expired, a wrong secret) is what a
          // leaked or stale credential looks like: recorded, paced per credential. Made-up ones are not.
          if (err.credential) {
            await profileRefusals.record(err.credential.id, {
              actor: { type: 'anonymous', id: '-' },
              action: 'workload.authenticate',
              target: { type: 'credential', id: err.credential.id, name: err.credential.name },
              result: 'ERR_UNAUTHENTICATED',
              requestId: ctx?.requestId,
              source: ctx?.source,
              details: { reason: err.credential.reason, message: err.message },
            });
          }
          throw new AppError('ERR_UNAUTHENTICATED', err.message, { field: 'authorization', example: 'Authorization: Bearer alj_…' });
        }
        throw err;
      }
    },

    async workloads(clusterRef, namespace, serviceAccount) {
      const cluster = await d.clusters.get(clusterRef);
      const component = componentOfServiceAccount(namespace, serviceAccount);
      if (!component) return [];
      const [w] = await d.store.deployments.findByNamespaces([{ clusterId: cluster.id, namespace }]);
      return w ? [await profileOf(w, component)] : [];
    },

    async exchange(clusterId, form, ctx) {
      const seen: ExchangeSeen = { cluster: undefined, attestation: 'none', refusal: undefined };
      try {
        const answer = await exchangeToken(clusterId, form, ctx, seen);
        metrics.exchange({ cluster: seen.cluster, attestation: seen.attestation, result: 'issued' });
        return answer;
      } catch (err) {
        metrics.exchange({ cluster: seen.cluster, attestation: seen.attestation, result: err instanceof OAuthError ? err.error : 'server_error' });
        if (seen.refusal) metrics.joinCredentialRefused(seen.refusal);
        throw err;
      }
    },
  };

  async function exchangeToken(clusterId: string, form: Record<string, string[]>, ctx: ExchangeContext, seen: ExchangeSeen): Promise<TokenResponse> {
    const grantType = single(form, 'grant_type', true);
    if (grantType !== TOKEN_EXCHANGE_GRANT_TYPE) throw new OAuthError('unsupported_grant_type', `grant_type must be ${TOKEN_EXCHANGE_GRANT_TYPE}`);
    const subjectToken = single(form, 'subject_token', true);
    const subjectTokenType = single(form, 'subject_token_type', true);
    if (subjectTokenType !== JOIN_CREDENTIAL_TOKEN_TYPE && subjectTokenType !== JWT_TOKEN_TYPE) {
      throw new OAuthError('invalid_request', `subject_token_type must be ${JOIN_CREDENTIAL_TOKEN_TYPE} (a join credential) or ${JWT_TOKEN_TYPE} (the pod's service-account token)`);
    }
    seen.attestation = subjectTokenType === JOIN_CREDENTIAL_TOKEN_TYPE ? 'join-credential' : 'kubernetes';
    const requested = single(form, 'requested_token_type', false);
    if (requested !== undefined && requested !== JWT_TOKEN_TYPE) throw new OAuthError('invalid_request', `requested_token_type can only be ${JWT_TOKEN_TYPE}`);
    for (const unsupported of ['actor_token', 'actor_token_type', 'scope']) {
      if (form[unsupported]) throw new OAuthError('invalid_request', `${unsupported} is not supported by this issuer`);
    }
    if (form.resource) throw new OAuthError('invalid_target', 'resource is not supported; name what the token is for with audience');
    const audiences = [...new Set(form.audience ?? [])];
    if (audiences.length === 0 || audiences.some((a) => a === '')) throw new OAuthError('invalid_request', 'audience is required (repeat it for a token with several audiences)');

    let attested: AttestedWorkload | undefined;
    let refusedJoin: RefusedCredential | undefined;
    const auditBase = { action: 'token.exchange', requestId: ctx.requestId, source: ctx.source };
    try {
      if (!isId('cluster', clusterId)) throw new OAuthError('invalid_request', `no issuer at cluster ${JSON.stringify(clusterId)}`);
      let cluster: ClusterView;
      try {
        cluster = await d.clusters.getCached(clusterId);
        seen.cluster = cluster.id;
      } catch (err) {
        if (err instanceof AppError && err.code === 'ERR_NOT_FOUND') throw new OAuthError('invalid_request', `no issuer at cluster ${clusterId}`);
        throw err;
      }
      if (cluster.issuerMode !== 'airlock') {
        throw new OAuthError('invalid_request', `cluster ${cluster.name} uses its own issuer (${cluster.oidcIssuerUrl}); its pods get tokens from the kubelet, not from Airlock`);
      }
      try {
        attested = await attest(cluster, subjectTokenType, subjectToken);
      } catch (err) {
        if (err instanceof Refused) {
          refusedJoin = err.credential;
          throw new OAuthError('invalid_grant', err.message);
        }
        throw err;
      }
      const p = attested.profile;
      const refused = audiences.filter((a) => !p.audiences.includes(a));
      if (refused.length > 0) {
        const allowed = p.audiences.length ? `this workload may ask for: ${p.audiences.join(', ')}` : `this workload may ask for none: ${p.identityReason ?? 'it has no identity and the cluster no custom audiences'}`;
        throw new OAuthError('invalid_target', `audience ${refused.map((a) => JSON.stringify(a)).join(', ')} not allowed; ${allowed}`);
      }
      const minted = await d.minter.mint({
        clusterId: cluster.id,
        namespace: p.deployment.namespace,
        serviceAccount: p.serviceAccount,
        serviceAccountUid: serviceAccountUid(p.deployment.id, p.component),
        audiences,
      });
      await d.audit.record({
        ...auditBase,
        actor: actorOf(attested.attestation),
        target: { type: 'deployment', id: p.deployment.id, name: `${p.deployment.name}/${p.component}` },
        result: 'success',
        details: { attestation: attested.attestation, subject: minted.subject, audiences, jti: minted.jti, kid: minted.kid, expiresAt: new Date(minted.expiresAt * 1000).toISOString() },
      });
      return { access_token: minted.token, issued_token_type: JWT_TOKEN_TYPE, token_type: 'N_A', expires_in: minted.expiresAt - minted.issuedAt };
    } catch (err) {
      seen.refusal = refusedJoin?.reason;
      if (err instanceof OAuthError && err.status < 500) {
        // Refusals are paced per who (or what) was refused: anyone can send made-up credentials.
        const actor = actorOf(attested?.attestation);
        const target = attested
          ? { type: 'deployment', id: attested.deploymentId, name: attested.profile.deployment.name }
          : refusedJoin
            ? { type: 'credential', id: refusedJoin.id, name: refusedJoin.name }
            : { type: 'cluster', id: clusterId };
        await exchangeRefusals.record(attested ? `${actor.type}:${actor.id}` : `${target.type}:${target.id}`, {
          ...auditBase,
          actor,
          target,
          result: err.error,
          details: { reason: err.message, ...(refusedJoin && { refusal: refusedJoin.reason }), audiences, subjectTokenType },
        });
      }
      throw err;
    }
  }
}
