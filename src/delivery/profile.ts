/**
 * The contract between the server and everything that delivers credentials to a workload
 * (`airlock exec`, `airlock agent`, the Kubernetes webhook): what a workload is, which tokens it
 * needs, and how it asks for them. Shared by both sides so they cannot drift; it imports nothing
 * from the server.
 */
import { z } from 'zod';
import { CLOUDS, ISSUER_MODES } from '../domain/terms.ts';
import { COMPONENTS } from '../deployments/components.ts';

/** RFC 8693 grant type. */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 token type of a JWT (a Kubernetes service-account token as subject; every issued token). */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** Airlock's token type for a join credential presented as `subject_token`. */
export const JOIN_CREDENTIAL_TOKEN_TYPE = 'urn:airlock:params:oauth:token-type:join-credential';
/** The token endpoint under a cluster's issuer URL. */
export const TOKEN_ENDPOINT_PATH = '/token';
/** Where a workload reads its own profile (Bearer join credential or Kubernetes token). */
export const WORKLOAD_PROFILE_PATH = '/api/v1/workload/profile';
/** Join credentials start with this; the rest is `<20 id chars>_<43 secret chars>`. */
export const JOIN_CREDENTIAL_PREFIX = 'alj_';
export const JOIN_CREDENTIAL_PATTERN = /^alj_[0-9a-z]{20}_[A-Za-z0-9_-]{43}$/;
/** The environment variable `airlock exec` / `agent` read a join credential from. */
export const JOIN_CREDENTIAL_ENV = 'AIRLOCK_JOIN_CREDENTIAL';

const awsDelivery = z.object({
  cloud: z.literal('aws'),
  audience: z.string(),
  acceptedAudiences: z.array(z.string()),
  roleArn: z.string(),
  region: z.string().optional(),
});
const gcpDelivery = z.object({
  cloud: z.literal('gcp'),
  audience: z.string(),
  acceptedAudiences: z.array(z.string()),
  serviceAccountEmail: z.string(),
  projectId: z.string().optional(),
  credentialConfig: z.record(z.string(), z.unknown()),
});
const azureDelivery = z.object({
  cloud: z.literal('azure'),
  audience: z.string(),
  acceptedAudiences: z.array(z.string()),
  clientId: z.string(),
  tenantId: z.string(),
  authorityHost: z.string(),
});
export const cloudDeliverySchema = z.discriminatedUnion('cloud', [awsDelivery, gcpDelivery, azureDelivery]);

/** What one Deployment component is and what it needs; served to the workload itself and to the webhook. */
export const workloadProfileSchema = z.object({
  deployment: z.object({ id: z.string(), name: z.string(), namespace: z.string() }),
  component: z.enum(COMPONENTS),
  /** The Kubernetes service account of the component (`<namespace>-<component>-serviceaccount`). */
  serviceAccount: z.string(),
  /** `system:serviceaccount:<namespace>:<serviceAccount>`: the `sub` of every token it gets. */
  subject: z.string(),
  cluster: z.object({
    id: z.string(),
    name: z.string(),
    cloud: z.enum(CLOUDS),
    region: z.string(),
    issuerMode: z.enum(ISSUER_MODES),
  }),
  /** The issuer the clouds trust (Airlock's, or in `kubernetes` mode the cluster's own). */
  issuer: z.string(),
  /** `<airlock issuer>/token` in `airlock` mode; null in `kubernetes` mode (the kubelet projects tokens). */
  tokenEndpoint: z.string().nullable(),
  /**
   * The audience a Kubernetes service-account token must carry to be accepted as attestation (the
   * cluster's Airlock issuer URL): what the webhook requests in the pod's projected token.
   */
  attestationAudience: z.string(),
  /** Lifetime of the tokens the exchange issues unless asked for less. */
  tokenTtlSeconds: z.number().int().positive(),
  /** One entry per cloud the Deployment's identity is in (empty when it has none yet). */
  clouds: z.array(cloudDeliverySchema),
  /** Every audience this workload may ask for: the clouds' plus the cluster's custom ones. */
  audiences: z.array(z.string()),
  /** The cluster's custom audiences (also in `audiences`). */
  customAudiences: z.array(z.string()),
  /** Why `clouds` is empty or short (no identity yet, a missing GCP project number). */
  identityReason: z.string().optional(),
});
export type WorkloadProfile = z.infer<typeof workloadProfileSchema>;
export type CloudDeliveryWire = z.infer<typeof cloudDeliverySchema>;

/** `GET /api/v1/clusters/:cluster/workloads?namespace=&serviceAccount=` (API token; used by the webhook). */
export const workloadListSchema = z.object({ items: z.array(workloadProfileSchema) });

/** The RFC 8693 success response. */
export const tokenResponseSchema = z.object({
  access_token: z.string(),
  issued_token_type: z.literal(JWT_TOKEN_TYPE),
  token_type: z.literal('N_A'),
  expires_in: z.number().int().positive(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/** The RFC 6749 §5.2 error response. */
export const tokenErrorSchema = z.object({
  error: z.enum(['invalid_request', 'invalid_client', 'invalid_grant', 'unsupported_grant_type', 'invalid_target', 'server_error', 'temporarily_unavailable']),
  error_description: z.string(),
});
export type TokenError = z.infer<typeof tokenErrorSchema>;
