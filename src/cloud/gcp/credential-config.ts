/**
 * The `external_account` credential configuration (AIP-4117) that Google's client libraries load
 * to exchange an Airlock token for Google credentials.
 *
 * Keys and their order follow what `gcloud iam workload-identity-pools create-cred-config
 * <provider> --service-account=<email> --credential-source-file=<path>
 * --credential-source-type=text` writes, so a user can diff the two: `universe_domain`, `type`,
 * `audience`, `subject_token_type`, `token_url`, `credential_source`, then
 * `service_account_impersonation_url` (or, without a service account, `token_info_url`).
 */
import { impersonationUrl } from './names.ts';

/** Where Airlock's delivery writes the GCP-audience token inside every component's pods. */
export const GCP_TOKEN_PATH = '/var/run/secrets/airlock/tokens/gcp/token';
/** The subject token type of an OIDC JWT (RFC 8693). */
export const SUBJECT_TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
/** Google STS's token exchange endpoint. */
export const STS_TOKEN_URL = 'https://sts.googleapis.com/v1/token';
/** Written by gcloud when no service account is impersonated. */
export const STS_TOKEN_INFO_URL = 'https://sts.googleapis.com/v1/introspect';
/** The Google Cloud universe (public cloud). */
export const UNIVERSE_DOMAIN = 'googleapis.com';

/** An `external_account` credential configuration with a file-sourced OIDC token. */
export interface ExternalAccountConfig {
  universe_domain: string;
  type: 'external_account';
  audience: string;
  subject_token_type: string;
  token_url: string;
  credential_source: { file: string; format: { type: 'text' } };
  service_account_impersonation_url?: string;
  token_info_url?: string;
}

/** Options of {@link buildCredentialConfig}. */
export interface CredentialConfigOptions {
  /** The provider's full resource name, `//iam.googleapis.com/projects/…/providers/…`. */
  audience: string;
  /**
   * The service account the federated token is exchanged for. Without one, the workload acts as
   * its federated principal (direct resource access).
   */
  serviceAccountEmail?: string | undefined;
  /** Defaults to {@link GCP_TOKEN_PATH}. */
  tokenPath?: string | undefined;
}

/** Builds the credential configuration. Pure: the same options always give the same object. */
export function buildCredentialConfig(options: CredentialConfigOptions): ExternalAccountConfig {
  const config: ExternalAccountConfig = {
    universe_domain: UNIVERSE_DOMAIN,
    type: 'external_account',
    audience: options.audience,
    subject_token_type: SUBJECT_TOKEN_TYPE_JWT,
    token_url: STS_TOKEN_URL,
    credential_source: { file: options.tokenPath ?? GCP_TOKEN_PATH, format: { type: 'text' } },
  };
  if (options.serviceAccountEmail !== undefined) {
    config.service_account_impersonation_url = impersonationUrl(options.serviceAccountEmail);
  } else {
    config.token_info_url = STS_TOKEN_INFO_URL;
  }
  return config;
}
