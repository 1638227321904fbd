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
  /** Shown by kubectl as `Warning: …`; never a secret. */
  warnings: string[];
}

/** RFC 6901: `~` and `/` in a reference token. */
export function pointerToken(s: string): string {
  return s.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function mutatePod(pod: PodLike, inj: Injection): MutationResult {
  const warnings: string[] = [];
  const annotations = pod.metadata?.annotations;
  const spec = pod.spec ?? {};
  if (annotations?.[INJECTED_ANNOTATION] !== undefined) return { patch: [], warnings };
  const ourVolumes = new Set(inj.volumes.map((v) => v.name as string));
  const clash = spec.volumes?.find((v) => v.name !== undefined && ourVolumes.has(v.name));
  if (clash) {
    warnings.push(`airlock: the pod already has a volume named ${clash.name}; nothing injected`);
    return { patch: [], warnings };
  }
  const skip = new Set(typeof annotations?.[SKIP_CONTAINERS_ANNOTATION] === 'string' ? splitList(annotations[SKIP_CONTAINERS_ANNOTATION]) : []);
  const patch: PatchOp[] = [];

  // Annotations first: the downward API items in the volume refer to them.
  if (!pod.metadata) patch.push({ op: 'add', path: '/metadata', value: { annotations: { ...inj.annotations } } });
  else if (!annotations) patch.push({ op: 'add', path: '/metadata/annotations', value: { ...inj.annotations } });
  else for (const [k, v] of Object.entries(inj.annotations)) patch.push({ op: 'add', path: `/metadata/annotations/${pointerToken(k)}`, value: v });

  if (!spec.volumes) patch.push({ op: 'add', path: '/spec/volumes', value: [...inj.volumes] });
  else for (const v of inj.volumes) patch.push({ op: 'add', path: '/spec/volumes/-', value: v });

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
      const add = have.size === 0 ? inj.env : inj.env.filter((e) => !have.has(e.name));
      if (!c.env) patch.push({ op: 'add', path: `${base}/env`, value: [...add] });
      else for (const e of add) patch.push({ op: 'add', path: `${base}/env/-`, value: e });
      if (!c.volumeMounts) patch.push({ op: 'add', path: `${base}/volumeMounts`, value: [inj.mount] });
      else patch.push({ op: 'add', path: `${base}/volumeMounts/-`, value: inj.mount });
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
    return { patch: [], warnings };
  }

  if (inj.sidecar) {
    if (spec.initContainers?.some((c) => c.name === AGENT_CONTAINER)) {
      warnings.push(`airlock: the pod already has an init container named ${AGENT_CONTAINER}; nothing injected`);
      return { patch: [], warnings };
    }
    const sc = spec.securityContext;
    const hasFsGroup = sc?.fsGroup !== undefined;
    // A pod-level non-root user is kept (the kubelet then owns the attestation token to the one
    // user every container runs as); otherwise the agent runs as 65532, never as root.
    const inherit = sc?.runAsUser !== undefined && sc.runAsUser !== 0;
    const set = inherit ? inj.sidecar.inheritUser : inj.sidecar;
    const sidecar = hasFsGroup ? set.withFsGroup : set.withoutFsGroup;
    if (!spec.initContainers) patch.push({ op: 'add', path: '/spec/initContainers', value: [sidecar] });
    else patch.push({ op: 'add', path: '/spec/initContainers/0', value: sidecar });
  }
  return { patch, warnings };
}
