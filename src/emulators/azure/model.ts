import { z } from 'zod';

/**
 * The shapes the Azure sandbox is configured with: Entra tenants, user-assigned managed identities
 * and the federated identity credentials (FICs) on them. The same JSON is the config file, the
 * body of `PUT /_sandbox/azure/config` and the output of `state.toJSON()`. Field names follow what
 * `az identity show` / `az identity federated-credential show` print, so output of those commands
 * can be pasted in with little editing.
 *
 * Limits come from Microsoft's "Important considerations and restrictions for federated identity
 * credentials" page; where the sandbox is looser or stricter than Azure it says so next to the rule.
 */

/** The audience Entra recommends and `az` defaults to; a projected service-account token must carry it. */
export const DEFAULT_FIC_AUDIENCE = 'api://AzureADTokenExchange';

/** Azure refuses the 21st federated identity credential on one application or managed identity. */
export const MAX_FICS_PER_IDENTITY = 20;

/** Issuer, subject, audience and description are each limited to 600 characters by Entra. */
export const FIC_FIELD_MAX = 600;

/**
 * A federated identity credential name: 3–120 characters, letters, digits, `-` and `_`, starting
 * with a letter or digit (the ARM path parameter pattern `^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$`).
 */
export const FIC_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$/;

/** A user-assigned identity name as ARM accepts it: 3–128 characters, starting with a letter or digit. */
export const IDENTITY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/;

/** A resource group name: 1–90 characters of letters, digits, `.`, `_`, `-`, `(`, `)`, not ending in `.`. */
export const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;

/** Entra tenant, subscription, client and principal ids are GUIDs (any version, as Azure prints them). */
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Whether `s` has the form of a GUID. */
export const isGuid = (s: string): boolean => GUID.test(s);

const guid = (what: string) => z.string().regex(GUID, `${what} must be a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47`);

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Why `issuer` cannot be a federated credential's issuer, or undefined when it can.
 *
 * Azure requires an https URL. The sandbox also accepts http for loopback hosts, because a locally
 * started Airlock serves its issuers over plain http on 127.0.0.1; nothing else in the sandbox is
 * reachable that way, and such a credential could never be created in Azure.
 */
export function issuerProblem(issuer: string): string | undefined {
  if (issuer.length > FIC_FIELD_MAX) return `issuer must be at most ${FIC_FIELD_MAX} characters`;
  // Entra blocks the exchange when the issuer has surrounding whitespace; refusing it here turns a
  // silent AADSTS70021 later into an error now.
  if (/\s/.test(issuer)) return 'issuer must not contain whitespace';
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'issuer must be an absolute URL such as https://oidc.prod-aks.azure.com/<guid>/';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined;
  return 'issuer must be an https URL (the sandbox also accepts http://127.0.0.1, http://localhost and http://[::1] issuers; Azure does not)';
}

export const tenantSchema = z
  .object({
    tenantId: guid('tenantId'),
    displayName: z.string().min(1).max(256).optional(),
  })
  .strict();

export const ficSchema = z
  .object({
    name: z.string().regex(FIC_NAME, 'name must be 3-120 characters of letters, digits, "-" and "_", starting with a letter or digit'),
    issuer: z.string().superRefine((v, ctx) => {
      const problem = issuerProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    subject: z.string().min(1, 'subject must not be empty').max(FIC_FIELD_MAX, `subject must be at most ${FIC_FIELD_MAX} characters`),
    audiences: z
      .array(z.string().min(1).max(FIC_FIELD_MAX, `an audience must be at most ${FIC_FIELD_MAX} characters`))
      .length(1, 'audiences must hold exactly one value (Entra accepts one audience per federated identity credential)')
      .default([DEFAULT_FIC_AUDIENCE]),
    description: z.string().max(FIC_FIELD_MAX).optional(),
  })
  .strict();

/** Body of `PUT …/federated-credentials/<name>`: the credential without its name (the path carries it). */
export const ficBodySchema = ficSchema.omit({ name: true }).extend({ name: z.string().optional() }).strict();

export const identitySchema = z
  .object({
    name: z.string().regex(IDENTITY_NAME, 'name must be 3-128 characters of letters, digits, "-" and "_", starting with a letter or digit'),
    resourceGroup: z.string().regex(RESOURCE_GROUP, 'resourceGroup must be 1-90 characters of letters, digits, ".", "_", "-", "(", ")" and not end in "."'),
    subscriptionId: guid('subscriptionId'),
    tenantId: guid('tenantId'),
    /** Generated when absent, as Azure does; give it to keep a stable client id across restarts. */
    clientId: guid('clientId').optional(),
    /** The service principal's object id; generated when absent. */
    principalId: guid('principalId').optional(),
    location: z.string().min(1).default('eastus'),
    federatedIdentityCredentials: z.array(ficSchema).default([]),
  })
  .strict();

/** Body of `PUT …/identities/<name>`: the identity without the parts its path carries. */
export const identityBodySchema = identitySchema
  .omit({ name: true, resourceGroup: true, subscriptionId: true, federatedIdentityCredentials: true })
  .extend({
    name: z.string().optional(),
    resourceGroup: z.string().optional(),
    subscriptionId: z.string().optional(),
  })
  .strict();

/** The whole sandbox configuration: what a config file holds. */
export const sandboxConfigSchema = z
  .object({
    tenants: z.array(tenantSchema).default([]),
    identities: z.array(identitySchema).default([]),
  })
  .strict();

export type TenantInput = z.input<typeof tenantSchema>;
export type FederatedCredentialInput = z.input<typeof ficSchema>;
export type IdentityInput = z.input<typeof identitySchema>;
/** The config-file JSON as written by hand (defaults may be left out). */
export type AzureSandboxConfigInput = z.input<typeof sandboxConfigSchema>;

export interface Tenant {
  tenantId: string;
  displayName?: string | undefined;
}

export interface FederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  /** Always exactly one value. */
  audiences: [string];
  description?: string | undefined;
}

export interface ManagedIdentity {
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  tenantId: string;
  clientId: string;
  principalId: string;
  location: string;
  federatedIdentityCredentials: FederatedCredential[];
}

/** The config-file JSON with every default filled in, as `state.toJSON()` returns it. */
export interface AzureSandboxConfig {
  tenants: Tenant[];
  identities: ManagedIdentity[];
}

/** Where an identity lives in ARM. Names compare case-insensitively there, as in Azure. */
export interface IdentityRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** The ARM resource id, spelled as `az identity show` prints it. */
export function identityResourceId(r: IdentityRef): string {
  return `/subscriptions/${r.subscriptionId}/resourcegroups/${r.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${r.name}`;
}

/** What `az identity show` prints for an identity. */
export function identityView(i: ManagedIdentity) {
  return {
    id: identityResourceId(i),
    name: i.name,
    type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
    location: i.location,
    resourceGroup: i.resourceGroup,
    subscriptionId: i.subscriptionId,
    tenantId: i.tenantId,
    clientId: i.clientId,
    principalId: i.principalId,
    federatedIdentityCredentialCount: i.federatedIdentityCredentials.length,
  };
}

/** What `az identity federated-credential show` prints for a credential. */
export function credentialView(i: ManagedIdentity, c: FederatedCredential) {
  return {
    id: `${identityResourceId(i)}/federatedIdentityCredentials/${c.name}`,
    name: c.name,
    type: 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials',
    resourceGroup: i.resourceGroup,
    issuer: c.issuer,
    subject: c.subject,
    audiences: [...c.audiences],
    ...(c.description === undefined ? {} : { description: c.description }),
  };
}

/**
 * Accepts ARM request bodies as well as `az`-style flat ones: ARM nests a resource's settings under
 * `properties` (`{ location, properties: { issuer, subject, audiences } }`), `az … show` prints them
 * flat. Members of `properties` are lifted to the top; a member given both ways must agree.
 */
export function flattenArmBody(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const { properties, ...rest } = body as Record<string, unknown>;
  if (properties === undefined) return body;
  if (!properties || typeof properties !== 'object' || Array.isArray(properties)) return body;
  const out: Record<string, unknown> = { ...rest };
  for (const [k, v] of Object.entries(properties)) {
    // A clash is left for schema validation to report as an unknown `properties` key.
    if (k in out && JSON.stringify(out[k]) !== JSON.stringify(v)) return body;
    out[k] = v;
  }
  return out;
}
