/**
 * `GET <sandbox>/_sandbox/info`: what `airlock sandbox` tells a client that wants to point a
 * process at it (`airlock exec --sandbox <url>`). The sandbox builds its answer with this schema
 * and the client parses it with the same one, so the two cannot drift apart.
 */
import { z } from 'zod';
import type { SandboxEndpoints } from './environment.ts';

/** The path of the info document on the sandbox's http port. */
export const SANDBOX_INFO_PATH = '/_sandbox/info';

/** The sandbox binds to loopback only, so each of its URLs is on a loopback host. */
const loopbackUrl = (scheme: 'http' | 'https') =>
  z.url({ protocol: new RegExp(`^${scheme}$`), hostname: /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/, error: `must be an ${scheme}:// URL on a loopback host` });

export const SandboxInfoSchema = z.strictObject({
  /** AWS IAM and STS query API (http): `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_IAM`. */
  awsUrl: loopbackUrl('http'),
  /** GCP STS and IAM Credentials (http): `<gcpUrl>/v1/token`. */
  gcpUrl: loopbackUrl('http'),
  /** The Azure authority host (https, served with `caCertPem`): `AZURE_AUTHORITY_HOST`. */
  azureUrl: loopbackUrl('https'),
  /**
   * The sandbox's self-signed certificate (PEM), valid for 127.0.0.1, localhost,
   * login.microsoftonline.com and the Google API hosts the proxy tunnels. A client writes it to a
   * file for `NODE_EXTRA_CA_CERTS`, `REQUESTS_CA_BUNDLE` and `SSL_CERT_FILE`.
   */
  caCertPem: z.string().startsWith('-----BEGIN CERTIFICATE-----'),
  /**
   * The CONNECT proxy (http, same port as `awsUrl`) for `HTTPS_PROXY`, with
   * `NO_PROXY=127.0.0.1,localhost,::1`. It tunnels login.microsoftonline.com:443 (MSAL's instance
   * discovery) and sts, iamcredentials and cloudresourcemanager.googleapis.com:443 to the emulators,
   * and refuses every other host.
   */
  proxyUrl: loopbackUrl('http'),
  /** The AWS account a static access key id that is not 12 digits selects (`000000000000`). */
  defaultAccountId: z.string().regex(/^\d{12}$/),
  /** The AWS accounts that hold IAM state (OIDC providers or roles), sorted. */
  accounts: z.array(z.string().regex(/^\d{12}$/)),
});

export type SandboxInfo = z.infer<typeof SandboxInfoSchema>;

/** The endpoints {@link planDelivery} takes, once the client has written `caCertPem` to `caFile`. */
export function sandboxEndpoints(info: SandboxInfo, caFile: string): SandboxEndpoints {
  return { awsUrl: info.awsUrl, gcpUrl: info.gcpUrl, azureUrl: info.azureUrl, caFile, proxyUrl: info.proxyUrl };
}
