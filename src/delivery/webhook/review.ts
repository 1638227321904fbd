/**
 * AdmissionReview v1 in, AdmissionReview v1 out: the webhook's decision for one pod, without HTTP.
 *
 * Which pods it changes: a CREATE of a Pod whose service account is a Deployment component's in
 * that namespace (`<namespace>-<component>-serviceaccount`, `<namespace>-kpo`), as Airlock knows it.
 * Everything else is admitted unchanged, without a lookup when the name alone rules it out.
 *
 * When it refuses a pod (`allowed: false`): a malformed annotation of ours (status 400, the message
 * names it), or a lookup that could not be made (status 503). Admitting a Deployment's pod without
 * its identity would start a task that fails later at its first cloud call; refusing makes the
 * ReplicaSet retry, and the retry is admitted as soon as Airlock answers.
 */
import { componentOfServiceAccount } from '../workloads.ts';
import { DeliveryError } from '../errors.ts';
import type { WorkloadProfile } from '../profile.ts';
import { AUDIENCES_ANNOTATION, OPT_OUT_LABEL, TOKEN_EXPIRATION_ANNOTATION } from './annotations.ts';
import { planInjection, podRequests, type Injection, type InjectionSettings } from './injection.ts';
import { mutatePod, type PodLike } from './mutate.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** A Deployment component's profile and its precomputed injection (or why there is none). */
export interface CachedWorkload {
  profile: WorkloadProfile;
  injection?: Injection | undefined;
  /** Set instead of `injection` when the workload has nothing to deliver. */
  noIdentity?: string | undefined;
}

/** Where the webhook learns what a service account is; see workload-cache.ts. */
export interface WorkloadSource {
  /** The workload of a service account, or undefined when it is no Deployment component's. Throws when it cannot tell. */
  get(namespace: string, serviceAccount: string): CachedWorkload | undefined | Promise<CachedWorkload | undefined>;
}

/** The profile with its default injection, computed once. */
export function cachedWorkload(profile: WorkloadProfile, settings: InjectionSettings): CachedWorkload {
  try {
    return { profile, injection: planInjection(profile, settings) };
  } catch (err) {
    if (err instanceof DeliveryError && err.code === 'ERR_NO_IDENTITY') return { profile, noIdentity: err.message };
    throw err;
  }
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the JSON patch. */
  patch?: string;
  warnings?: string[];
  status?: { code: number; message: string };
}

export interface AdmissionReviewOut {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

interface AdmissionRequestIn {
  uid: string;
  kind?: { group?: string; kind?: string };
  namespace?: string;
  operation?: string;
  subResource?: string;
  object?: PodLike;
}

const EXAMPLE = { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', request: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', operation: 'CREATE', object: { kind: 'Pod' } } };

function bad(message: string, field: string): DeliveryError {
  return new DeliveryError('ERR_VALIDATION', message, { field, example: EXAMPLE });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the envelope (not the pod: the API server has validated it). Throws ERR_VALIDATION, which the server answers with 400. */
export function parseReview(body: unknown): AdmissionRequestIn {
  if (!isObject(body)) throw bad('the body must be an AdmissionReview JSON object', 'body');
  if (body.apiVersion !== ADMISSION_API_VERSION) throw bad(`apiVersion must be ${ADMISSION_API_VERSION} (set admissionReviewVersions: ["v1"] in the MutatingWebhookConfiguration)`, 'apiVersion');
  if (body.kind !== 'AdmissionReview') throw bad('kind must be AdmissionReview', 'kind');
  const r = body.request;
  if (!isObject(r)) throw bad('request is missing', 'request');
  if (typeof r.uid !== 'string' || r.uid === '') throw bad('request.uid must be a non-empty string', 'request.uid');
  if (r.object !== undefined && r.object !== null && !isObject(r.object)) throw bad('request.object must be an object', 'request.object');
  if (r.kind !== undefined && !isObject(r.kind)) throw bad('request.kind must be an object', 'request.kind');
  return r as unknown as AdmissionRequestIn;
}

function out(response: AdmissionResponse): AdmissionReviewOut {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

function allow(uid: string, warnings?: string[]): AdmissionReviewOut {
  return out(warnings?.length ? { uid, allowed: true, warnings } : { uid, allowed: true });
}

function deny(uid: string, code: number, message: string): AdmissionReviewOut {
  return out({ uid, allowed: false, status: { code, message } });
}

/** The decision for one AdmissionReview. Throws ERR_VALIDATION only for a malformed envelope. */
export async function review(body: unknown, source: WorkloadSource, settings: InjectionSettings): Promise<AdmissionReviewOut> {
  const req = parseReview(body);
  const uid = req.uid;
  const pod = req.object;
  if (req.operation !== 'CREATE' || req.kind?.kind !== 'Pod' || (req.kind.group ?? '') !== '' || req.subResource || !pod) return allow(uid);
  const meta = pod.metadata;
  if (meta?.labels?.[OPT_OUT_LABEL] === 'false') return allow(uid);
  const namespace = req.namespace || meta?.namespace;
  if (!namespace) return allow(uid);
  const serviceAccount = pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default';
  if (!componentOfServiceAccount(namespace, serviceAccount)) return allow(uid);

  let w: CachedWorkload | undefined;
  try {
    const got = source.get(namespace, serviceAccount);
    w = got instanceof Promise ? await got : got;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return deny(
      uid,
      503,
      `airlock: cannot look up service account ${namespace}/${serviceAccount} (${e.code ?? 'ERR_INTERNAL'}: ${e.message ?? String(err)}); the pod is refused rather than started without its identity, and will be retried`,
    );
  }
  if (!w) return allow(uid);

  let inj = w.injection;
  try {
    const a = meta?.annotations;
    if (a && (a[AUDIENCES_ANNOTATION] !== undefined || a[TOKEN_EXPIRATION_ANNOTATION] !== undefined)) {
      inj = planInjection(w.profile, settings, podRequests(a));
    }
  } catch (err) {
    if (err instanceof DeliveryError && err.code === 'ERR_VALIDATION') return deny(uid, 400, `airlock: ${err.message}`);
    if (err instanceof DeliveryError && err.code === 'ERR_NO_IDENTITY') return allow(uid, [`airlock: ${err.message}; nothing injected`]);
    throw err;
  }
  if (!inj) return allow(uid, [`airlock: ${w.noIdentity ?? 'nothing to deliver'}; nothing injected`]);

  const { patch, patchJson, warnings } = mutatePod(pod, inj);
  if (patch.length === 0) return allow(uid, warnings);
  const response: AdmissionResponse = { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(patchJson).toString('base64') };
  if (warnings.length) response.warnings = warnings;
  return out(response);
}
