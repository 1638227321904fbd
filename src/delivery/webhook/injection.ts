/**
 * What the webhook adds to a pod of one Deployment component, computed once per workload profile
 * (and cached with it), so admitting a pod is a walk over its containers and nothing more.
 *
 * The env and file layout come from {@link planDelivery}, the same function `airlock exec` and
 * `airlock agent` use, with the token directory at /var/run/secrets/airlock: a pod, a VM running the
 * agent and the setup `deployment identity setup` prints all name the same paths.
 *
 * Issuer mode `kubernetes`: the clouds trust the cluster's own issuer, so the kubelet's projected
 * service-account tokens are the credentials. One projected volume holds one token per audience
 * (at the paths planDelivery chose) and, for GCP, the credential configuration, projected from a
 * pod annotation by the downward API.
 *
 * Issuer mode `airlock`: the clouds trust Airlock's issuer. `airlock agent` runs as a native sidecar
 * (an init container with `restartPolicy: Always`, Kubernetes 1.29+), attests with the pod's own
 * projected token (audience: the cluster's Airlock issuer URL), and keeps the files fresh in an
 * in-memory emptyDir that the other containers mount read-only. Being the first init container,
 * it is running before any other init container starts, so those get credentials too.
 */
import { posix } from 'node:path';
import type { IssuerMode } from '../../domain/terms.ts';
import { planDelivery, type DeliveryPlan } from '../environment.ts';
import { DeliveryError } from '../errors.ts';
import type { WorkloadProfile } from '../profile.ts';
import {
  AGENT_CONTAINER,
  ATTEST_EXPIRATION_SECONDS,
  ATTEST_MOUNT_PATH,
  ATTEST_TOKEN_PATH,
  ATTEST_VOLUME,
  AUDIENCES_ANNOTATION,
  GCP_CONFIG_ANNOTATION,
  INJECTED_ANNOTATION,
  MAX_EXPIRATION_SECONDS,
  MIN_EXPIRATION_SECONDS,
  PREFIX,
  TOKEN_EXPIRATION_ANNOTATION,
  TOKEN_MOUNT_PATH,
  TOKEN_VOLUME,
} from './annotations.ts';

/** Settings of the webhook process that shape what it injects. */
export interface InjectionSettings {
  /** The image of the sidecar (mode `airlock`); it runs `airlock agent …` (its entrypoint is `airlock`). */
  agentImage: string;
  /** The Airlock URL as seen from inside the cluster (the sidecar's AIRLOCK_URL). */
  serverUrl: string;
}

export interface EnvVar {
  name: string;
  value: string;
}

/** Everything added to one pod, before the pod is looked at. */
export interface Injection {
  mode: IssuerMode;
  /** Set on every container not skipped, unless the container sets the name itself. */
  env: readonly EnvVar[];
  /** Names that, set by the user, would take precedence over the identity (reported as warnings). */
  shadowing: readonly string[];
  volumes: readonly Record<string, unknown>[];
  mount: Readonly<Record<string, unknown>>;
  annotations: Readonly<Record<string, string>>;
  /** Mode `airlock`: the sidecar for a pod without / with an fsGroup (files 0644 / 0640). */
  sidecar?: { withoutFsGroup: Record<string, unknown>; withFsGroup: Record<string, unknown>; inheritUser: { withoutFsGroup: Record<string, unknown>; withFsGroup: Record<string, unknown> } };
  audiences: readonly string[];
  /**
   * The same values serialised once, so admitting a pod concatenates strings instead of
   * serialising the sidecar and the env again for every pod (see mutate.ts).
   */
  json: InjectionJson;
}

export interface InjectionJson {
  env: string;
  envItem: ReadonlyMap<string, string>;
  mount: string;
  volumes: string;
  volumeItems: readonly string[];
  annotations: string;
  annotationItems: readonly (readonly [key: string, json: string])[];
  sidecar: ReadonlyMap<Record<string, unknown>, string>;
}

/** Adds the serialised forms to an injection. */
function withJson(inj: Omit<Injection, 'json'>): Injection {
  const sidecar = new Map<Record<string, unknown>, string>();
  if (inj.sidecar) {
    for (const sc of [inj.sidecar.withFsGroup, inj.sidecar.withoutFsGroup, inj.sidecar.inheritUser.withFsGroup, inj.sidecar.inheritUser.withoutFsGroup]) sidecar.set(sc, JSON.stringify(sc));
  }
  return {
    ...inj,
    json: {
      env: JSON.stringify(inj.env),
      envItem: new Map(inj.env.map((e) => [e.name, JSON.stringify(e)])),
      mount: JSON.stringify(inj.mount),
      volumes: JSON.stringify(inj.volumes),
      volumeItems: inj.volumes.map((v) => JSON.stringify(v)),
      annotations: JSON.stringify(inj.annotations),
      annotationItems: Object.entries(inj.annotations).map(([k, v]) => [k, JSON.stringify(v)] as const),
      sidecar,
    },
  };
}

/** What a pod's annotations ask for beyond the defaults. */
export interface PodRequests {
  extraAudiences: readonly string[];
  expirationSeconds?: number | undefined;
}

/** Reads the pod-level knobs; throws ERR_VALIDATION (the pod is refused with a 400 status) on a malformed value. */
export function podRequests(annotations: Record<string, unknown> | undefined): PodRequests {
  const rawAud = annotations?.[AUDIENCES_ANNOTATION];
  const rawExp = annotations?.[TOKEN_EXPIRATION_ANNOTATION];
  const extraAudiences = typeof rawAud === 'string' ? splitList(rawAud) : [];
  let expirationSeconds: number | undefined;
  if (typeof rawExp === 'string') {
    const n = /^\d{1,6}$/.test(rawExp.trim()) ? Number(rawExp.trim()) : NaN;
    if (!(n >= MIN_EXPIRATION_SECONDS && n <= MAX_EXPIRATION_SECONDS)) {
      throw new DeliveryError('ERR_VALIDATION', `annotation ${TOKEN_EXPIRATION_ANNOTATION} must be a whole number of seconds from ${MIN_EXPIRATION_SECONDS} to ${MAX_EXPIRATION_SECONDS}, not ${JSON.stringify(rawExp)}`, {
        field: `metadata.annotations['${TOKEN_EXPIRATION_ANNOTATION}']`,
        example: '3600',
      });
    }
    expirationSeconds = n;
  }
  return { extraAudiences, expirationSeconds };
}

/** A comma- or whitespace-separated list, empty items dropped. */
export function splitList(v: string): string[] {
  return v.split(/[\s,]+/).filter(Boolean);
}

const rel = (p: string) => posix.relative(TOKEN_MOUNT_PATH, p);

/** The annotation that carries a static file's content into the projected volume (mode `kubernetes`). */
function annotationForFile(path: string): string {
  return path.endsWith('/gcp/credential-config.json') ? GCP_CONFIG_ANNOTATION : `${PREFIX}/file.${posix.basename(path)}`;
}

/**
 * The injection for a profile. Throws ERR_VALIDATION when the pod asks for an audience the workload
 * may not have, and ERR_NO_IDENTITY when there is nothing to deliver (the caller admits the pod
 * unchanged with a warning).
 */
export function planInjection(profile: WorkloadProfile, settings: InjectionSettings, req: PodRequests = { extraAudiences: [] }): Injection {
  let plan: DeliveryPlan;
  try {
    plan = planDelivery(profile, { dir: TOKEN_MOUNT_PATH, extraAudiences: req.extraAudiences });
  } catch (err) {
    throw new DeliveryError('ERR_VALIDATION', `annotation ${AUDIENCES_ANNOTATION}: ${(err as Error).message}`, {
      field: `metadata.annotations['${AUDIENCES_ANNOTATION}']`,
      example: profile.customAudiences[0] ?? 'https://vault.example.com',
    });
  }
  if (plan.tokens.length === 0) {
    throw new DeliveryError('ERR_NO_IDENTITY', `${profile.deployment.name}/${profile.component} has no cloud identity to deliver: ${profile.identityReason ?? 'its Deployment has no workload identity'}`);
  }
  const mode = profile.cluster.issuerMode;
  const env = Object.keys(plan.env)
    .sort()
    .map((name) => ({ name, value: plan.env[name] ?? '' }));
  const audiences = plan.tokens.map((t) => t.audience);
  const annotations: Record<string, string> = { [INJECTED_ANNOTATION]: mode };
  const mount = { name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true };

  if (mode === 'kubernetes') {
    const expirationSeconds = req.expirationSeconds ?? Math.min(MAX_EXPIRATION_SECONDS, Math.max(MIN_EXPIRATION_SECONDS, profile.tokenTtlSeconds));
    const sources: Record<string, unknown>[] = plan.tokens.map((t) => ({ serviceAccountToken: { audience: t.audience, expirationSeconds, path: rel(t.path) } }));
    const items: Record<string, unknown>[] = [];
    for (const f of plan.files) {
      const key = annotationForFile(f.path);
      annotations[key] = f.content;
      items.push({ path: rel(f.path), fieldRef: { fieldPath: `metadata.annotations['${key}']` } });
    }
    if (items.length) sources.push({ downwardAPI: { items } });
    return withJson({ mode, env, shadowing: plan.unset, volumes: [{ name: TOKEN_VOLUME, projected: { sources } }], mount, annotations, audiences });
  }

  const volumes = [
    // Memory-backed: tokens never touch the node's disk, and go with the pod.
    { name: TOKEN_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    {
      name: ATTEST_VOLUME,
      projected: { sources: [{ serviceAccountToken: { audience: profile.attestationAudience, expirationSeconds: ATTEST_EXPIRATION_SECONDS, path: 'token' } }] },
    },
  ];
  const sidecarFor = (fileMode: string, inheritUser: boolean): Record<string, unknown> => ({
    name: AGENT_CONTAINER,
    image: settings.agentImage,
    // A native sidecar: started before the other init containers, kept running, stopped last.
    restartPolicy: 'Always',
    args: [
      'agent',
      '--cluster',
      profile.cluster.id,
      '--kubernetes-token-file',
      ATTEST_TOKEN_PATH,
      '--deployment',
      profile.deployment.id,
      '--component',
      profile.component,
      '--dir',
      TOKEN_MOUNT_PATH,
      '--file-mode',
      fileMode,
      ...req.extraAudiences.flatMap((a) => ['--audience', a]),
    ],
    env: [{ name: 'AIRLOCK_URL', value: settings.serverUrl }],
    volumeMounts: [
      { name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH },
      { name: ATTEST_VOLUME, mountPath: ATTEST_MOUNT_PATH, readOnly: true },
    ],
    // The pod's containers start once this succeeds: the agent writes `ready` after every token file holds a token.
    startupProbe: { exec: { command: ['node', '-e', `require('node:fs').accessSync('${TOKEN_MOUNT_PATH}/ready')`] }, periodSeconds: 1, failureThreshold: 300 },
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      ...(inheritUser ? {} : { runAsUser: 65532, runAsGroup: 65532 }),
    },
  });
  return withJson({
    mode,
    env,
    shadowing: plan.unset,
    volumes,
    mount,
    annotations,
    audiences,
    // Files 0644 in a volume only this pod mounts (what the kubelet gives projected tokens by
    // default); 0640 when the pod has an fsGroup, which the emptyDir and every container share.
    sidecar: {
      withoutFsGroup: sidecarFor('0644', false),
      withFsGroup: sidecarFor('0640', false),
      inheritUser: { withoutFsGroup: sidecarFor('0644', true), withFsGroup: sidecarFor('0640', true) },
    },
  });
}
