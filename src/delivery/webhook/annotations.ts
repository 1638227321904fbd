/**
 * Every label, annotation, name and path the webhook reads or writes, in one place, so the docs
 * (docs/kubernetes.md) and the manifest cannot disagree with the code.
 *
 * The prefix is Airlock's own. The EKS webhook (`eks.amazonaws.com/…`) and Azure workload identity
 * (`azure.workload.identity/…`) keep their settings on the service account; here the service
 * account belongs to a Deployment component and everything it needs comes from Airlock, so the
 * only knobs left are per pod.
 */
import { DEFAULT_TOKEN_DIR } from '../environment.ts';

export const PREFIX = 'airlock.dev';

/**
 * Pod label: `"false"` opts the pod out (no mutation at all). The manifest's objectSelector also
 * excludes it, so such a pod never reaches the webhook; the check here covers a hand-written
 * configuration without that selector.
 */
export const OPT_OUT_LABEL = `${PREFIX}/inject`;

/**
 * Pod annotation: container names (comma- or space-separated; init containers too) that get
 * neither the env nor the mount. The EKS webhook's `skip-containers` works the same way.
 */
export const SKIP_CONTAINERS_ANNOTATION = `${PREFIX}/skip-containers`;

/** Pod annotation: custom audiences of the cluster to keep a token for too (comma-separated). */
export const AUDIENCES_ANNOTATION = `${PREFIX}/audiences`;

/**
 * Pod annotation, issuer mode `kubernetes`: `expirationSeconds` of the projected tokens
 * (600–86400; default: the cluster's token lifetime, at least 600 as Kubernetes requires).
 */
export const TOKEN_EXPIRATION_ANNOTATION = `${PREFIX}/token-expiration`;

/** Written by the webhook: the issuer mode it injected for (`airlock` or `kubernetes`); a pod that has it is left alone. */
export const INJECTED_ANNOTATION = `${PREFIX}/injected`;

/**
 * Written by the webhook in issuer mode `kubernetes` when the identity is in GCP: Google's
 * `external_account` configuration, which the downward API projects into the token volume as a
 * file. A mutating webhook must have no side effects, so it cannot create a ConfigMap; the pod's
 * own annotation is the one place it can put a file's content.
 */
export const GCP_CONFIG_ANNOTATION = `${PREFIX}/gcp-credential-config`;

/** The volume with the tokens (projected in mode `kubernetes`, an in-memory emptyDir the agent fills in mode `airlock`). */
export const TOKEN_VOLUME = 'airlock-token';
/** Mode `airlock`: the pod's own service-account token, audience = the cluster's Airlock issuer; mounted in the sidecar only. */
export const ATTEST_VOLUME = 'airlock-attest';
/** Mode `airlock`: the native sidecar's name. */
export const AGENT_CONTAINER = 'airlock-agent';

/** Where workload containers find the tokens: the directory the generated setup names. */
export const TOKEN_MOUNT_PATH = DEFAULT_TOKEN_DIR;
export const ATTEST_MOUNT_PATH = '/var/run/secrets/airlock-attest';
export const ATTEST_TOKEN_PATH = `${ATTEST_MOUNT_PATH}/token`;

/** Kubernetes' bounds for a projected token's expirationSeconds (the API server refuses less than 600). */
export const MIN_EXPIRATION_SECONDS = 600;
export const MAX_EXPIRATION_SECONDS = 86_400;
/** Lifetime of the sidecar's attestation token; the kubelet rotates it at 80 %, the agent reads it fresh each time. */
export const ATTEST_EXPIRATION_SECONDS = 3600;
