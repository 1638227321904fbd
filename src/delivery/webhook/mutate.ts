/**
 * The pod mutation: a pod and a precomputed {@link Injection} in, an RFC 6902 JSON patch out. Pure;
 * the rules it keeps:
 *
 * - a variable a container already sets (`env[].name`, by value or valueFrom) is never overridden;
 * - a container named in the skip-containers annotation gets nothing, init containers included;
 * - a container that already mounts something at the token path keeps it (and gets no env, which
 *   would point at files that are not ours);
 * - a pod already injected (the `injected` annotation, or a volume of ours) is left as it is, so a
 *   reinvocation or a pod re-created from its own YAML is not patched twice;
 * - ops on existing init containers come before the sidecar is inserted at index 0, because the
 *   insertion shifts their indices.
 */
import { AGENT_CONTAINER, INJECTED_ANNOTATION, SKIP_CONTAINERS_ANNOTATION, TOKEN_MOUNT_PATH } from './annotations.ts';
import { splitList, type Injection } from './injection.ts';

/** One RFC 6902 operation; the webhook only ever adds. */
export interface PatchOp {
  op: 'add';
  path: string;
  value: unknown;
}

/** The parts of a core/v1 Pod the webhook reads; everything else passes through untouched. */
export interface PodLike {
  metadata?: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    serviceAccountName?: string;
    serviceAccount?: string;
    securityContext?: { fsGroup?: number; runAsUser?: number };
    volumes?: { name?: string }[];
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
  };
}

export interface ContainerLike {
  name?: string;
  env?: { name?: string }[];
  volumeMounts?: { name?: string; mountPath?: string }[];
}

export interface MutationResult {
  patch: PatchOp[];
  /** `patch` as JSON, built from the injection's pre-serialised values (what the webhook sends). */
  patchJson: string;
  /** Shown by kubectl as `Warning: …`; never a secret. */
  warnings: string[];
}

/** RFC 6901: `~` and `/` in a reference token. */
export function pointerToken(s: string): string {
  return s.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function mutatePod(pod: PodLike, inj: Injection): MutationResult {
  const warnings: string[] = [];
  const none = (): MutationResult => ({ patch: [], patchJson: '[]', warnings });
  const annotations = pod.metadata?.annotations;
  const spec = pod.spec ?? {};
  if (annotations?.[INJECTED_ANNOTATION] !== undefined) return none();
  const ourVolumes = new Set(inj.volumes.map((v) => v.name as string));
  const clash = spec.volumes?.find((v) => v.name !== undefined && ourVolumes.has(v.name));
  if (clash) {
    warnings.push(`airlock: the pod already has a volume named ${clash.name}; nothing injected`);
    return none();
  }
  const skip = new Set(typeof annotations?.[SKIP_CONTAINERS_ANNOTATION] === 'string' ? splitList(annotations[SKIP_CONTAINERS_ANNOTATION]) : []);
  const patch: PatchOp[] = [];
  const parts: string[] = [];
  const j = inj.json;
  // Each op twice: as an object (tests, callers) and as JSON from pre-serialised values (the wire).
  const add = (path: string, value: unknown, json: string) => {
    patch.push({ op: 'add', path, value });
    parts.push(`{"op":"add","path":${JSON.stringify(path)},"value":${json}}`);
  };

  // Annotations first: the downward API items in the volume refer to them.
  if (!pod.metadata) add('/metadata', { annotations: inj.annotations }, `{"annotations":${j.annotations}}`);
  else if (!annotations) add('/metadata/annotations', inj.annotations, j.annotations);
  else for (const [k, v] of j.annotationItems) add(`/metadata/annotations/${pointerToken(k)}`, inj.annotations[k], v);

  if (!spec.volumes) add('/spec/volumes', inj.volumes, j.volumes);
  else inj.volumes.forEach((v, i) => add('/spec/volumes/-', v, j.volumeItems[i]));

  let injected = 0;
  const shadowed = new Set<string>();
  const walk = (list: ContainerLike[] | undefined, field: 'containers' | 'initContainers') => {
    list?.forEach((c, i) => {
      if (c.name !== undefined && skip.has(c.name)) return;
      const base = `/spec/${field}/${i}`;
      if (c.volumeMounts?.some((m) => m.mountPath === TOKEN_MOUNT_PATH)) {
        warnings.push(`airlock: container ${c.name ?? i} already mounts ${TOKEN_MOUNT_PATH}; left unchanged`);
        return;
      }
      const have = new Set<string>();
      if (c.env) for (const e of c.env) if (e.name !== undefined) have.add(e.name);
      for (const n of inj.shadowing) if (have.has(n)) shadowed.add(n);
      if (!c.env) add(`${base}/env`, inj.env, j.env);
      else for (const e of inj.env) if (!have.has(e.name)) add(`${base}/env/-`, e, j.envItem.get(e.name)!);
      if (!c.volumeMounts) add(`${base}/volumeMounts`, [inj.mount], `[${j.mount}]`);
      else add(`${base}/volumeMounts/-`, inj.mount, j.mount);
      injected++;
    });
  };
  walk(spec.initContainers, 'initContainers');
  walk(spec.containers, 'containers');
  if (shadowed.size) {
    warnings.push(`airlock: ${[...shadowed].sort().join(', ')} set in the pod take precedence over the delivered identity in the SDKs' default chains`);
  }
  if (injected === 0) {
    warnings.push('airlock: every container is skipped; nothing injected');
    return none();
  }

  if (inj.sidecar) {
    if (spec.initContainers?.some((c) => c.name === AGENT_CONTAINER)) {
      warnings.push(`airlock: the pod already has an init container named ${AGENT_CONTAINER}; nothing injected`);
      return none();
    }
    const sc = spec.securityContext;
    const hasFsGroup = sc?.fsGroup !== undefined;
    // A pod-level non-root user is kept (the kubelet then owns the attestation token to the one
    // user every container runs as); otherwise the agent runs as 65532, never as root.
    const inherit = sc?.runAsUser !== undefined && sc.runAsUser !== 0;
    const set = inherit ? inj.sidecar.inheritUser : inj.sidecar;
    const sidecar = hasFsGroup ? set.withFsGroup : set.withoutFsGroup;
    const json = j.sidecar.get(sidecar) ?? JSON.stringify(sidecar);
    if (!spec.initContainers) add('/spec/initContainers', [sidecar], `[${json}]`);
    else add('/spec/initContainers/0', sidecar, json);
  }
  return { patch, patchJson: `[${parts.join(',')}]`, warnings };
}
