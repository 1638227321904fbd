/**
 * The domain's fixed vocabulary. This module imports nothing, so every layer (cloud setup, the
 * store, the HTTP edge) can use it without import circles.
 */

/** The clouds Airlock federates with. Adding a cloud: one entry here and one folder under src/cloud/. */
export const CLOUDS = ['aws', 'gcp', 'azure'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** `standard` clusters are shared by tenants; `dedicated` ones belong to one (wildcard trust is allowed there only). */
export const CLUSTER_TYPES = ['standard', 'dedicated'] as const;
export type ClusterType = (typeof CLUSTER_TYPES)[number];

/**
 * Who signs a cluster's workload tokens: `airlock` (Airlock's per-cluster issuer) or `kubernetes`
 * (the cluster's own service-account issuer, as EKS, GKE and AKS publish).
 */
export const ISSUER_MODES = ['airlock', 'kubernetes'] as const;
export type IssuerMode = (typeof ISSUER_MODES)[number];
