import { z } from 'zod';
import { CLOUDS, CLUSTER_TYPES, ISSUER_MODES, type Cloud } from '../domain/terms.ts';

/** Cluster names are DNS-1123 labels: they end up in URLs, resource names and Terraform ids. */
export const clusterNameSchema = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS-1123 label: lowercase letters, digits and "-", 1–63 characters, starting and ending with a letter or digit')
  .meta({ example: 'prod-aws' });

/** What each cloud calls its regions; checked so a typo fails here, not in generated setup. */
export const REGION_FORMS: Record<Cloud, { pattern: RegExp; example: string }> = {
  aws: { pattern: /^(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov|us-iso|us-isob)-[a-z]+-\d{1,2}$/, example: 'us-east-1' },
  gcp: { pattern: /^[a-z]+-[a-z]+\d{1,2}$/, example: 'us-central1' },
  azure: { pattern: /^[a-z]+[a-z0-9]*$/, example: 'eastus2' },
};

/** A 12-digit AWS account id. */
export const awsAccountIdSchema = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id').meta({ example: '123456789012' });
/** A GCP project id: 6–30 chars, lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen. */
export const gcpProjectIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a GCP project id: 6–30 lowercase letters, digits or hyphens, starting with a letter')
  .meta({ example: 'airlock-platform' });

export const gcpProjectNumberSchema = z.string().regex(/^\d{6,20}$/, 'must be the numeric GCP project number').meta({ example: '123456789012' });

/** The cluster's own service-account issuer, exactly as its tokens' `iss` (kube-apiserver `--service-account-issuer`). */
export const kubernetesIssuerUrlSchema = z
  .string()
  .min(1)
  .max(2048)
  .meta({ example: 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE' });
/** PEM certificates that sign the issuer's TLS certificate, when it is not publicly trusted. */
export const kubernetesCaCertSchema = z.string().min(1).max(65536).meta({ example: '-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n' });
/** Extra audiences workloads on the cluster may ask for (e.g. a Vault or internal service's). */
export const customAudiencesSchema = z
  .array(z.string().min(1).max(256))
  .max(10)
  .meta({ example: ['vault.example.com'] });

export const clusterCreateSchema = z
  .object({
    name: clusterNameSchema,
    cloud: z.enum(CLOUDS).meta({ example: 'aws' }),
    type: z.enum(CLUSTER_TYPES).default('standard').meta({ example: 'dedicated' }),
    region: z.string().min(1).max(64).meta({ example: 'us-east-1' }),
    issuerMode: z.enum(ISSUER_MODES).default('airlock').meta({ example: 'airlock' }),
    defaultIdentityAccount: awsAccountIdSchema.optional(),
    defaultIdentityProject: gcpProjectIdSchema.optional(),
    defaultIdentityProjectNumber: gcpProjectNumberSchema.optional(),
    kubernetesIssuerUrl: kubernetesIssuerUrlSchema.optional(),
    kubernetesCaCert: kubernetesCaCertSchema.optional(),
    audiences: customAudiencesSchema.optional(),
  })
  .strict();

export type ClusterCreateInput = z.input<typeof clusterCreateSchema>;

export const clusterUpdateSchema = z
  .object({
    region: z.string().min(1).max(64).optional().meta({ example: 'us-west-2' }),
    /** null removes the setting (Deployments on the cluster then have no default identity). */
    defaultIdentityAccount: awsAccountIdSchema.nullable().optional(),
    defaultIdentityProject: gcpProjectIdSchema.nullable().optional(),
    defaultIdentityProjectNumber: gcpProjectNumberSchema.nullable().optional(),
    /** null removes it (not allowed in `kubernetes` mode, where it is the cluster's issuer). */
    kubernetesIssuerUrl: kubernetesIssuerUrlSchema.nullable().optional(),
    kubernetesCaCert: kubernetesCaCertSchema.nullable().optional(),
    audiences: customAudiencesSchema.optional(),
  })
  .strict();
export type ClusterUpdateInput = z.input<typeof clusterUpdateSchema>;
