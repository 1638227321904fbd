/**
 * Checks a user-assigned managed identity's federated identity credentials, as Entra ID holds them,
 * against a Deployment: for each component's token, is there a credential Entra would match? Entra
 * compares issuer and subject exactly (case and a trailing slash count) and wants the token's `aud`
 * to hold the credential's audience, so near misses are named as such: they are the usual reason
 * a setup that "looks right" answers AADSTS70021.
 */
import { AppError } from '../../errors/index.ts';
import { jsonDocument } from '../document.ts';
import { AUDIENCE, type SetupInput, type SetupResult, type TrustCheck, type TrustFinding } from '../types.ts';
import { MAX_FEDERATED_CREDENTIALS } from './setup.ts';

const EXAMPLE = 'az identity federated-credential list --identity-name etl --resource-group data -o json';

interface Credential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

/** `az … list` prints the credentials flat; the ARM REST answer nests them in `properties` under `value`. */
function credentialsOf(doc: unknown): Credential[] {
  const value = jsonDocument(doc, 'federatedCredentials', EXAMPLE);
  const list = Array.isArray(value) ? value : value && typeof value === 'object' && Array.isArray((value as { value?: unknown }).value) ? (value as { value: unknown[] }).value : undefined;
  if (!list) throw new AppError('ERR_VALIDATION', 'federatedCredentials must be the list `az identity federated-credential list -o json` prints', { field: 'federatedCredentials', example: EXAMPLE });
  return list.map((raw, i) => {
    const item = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const props = (item.properties && typeof item.properties === 'object' ? item.properties : item) as Record<string, unknown>;
    const { issuer, subject, audiences } = props;
    if (typeof issuer !== 'string' || typeof subject !== 'string' || !Array.isArray(audiences) || !audiences.every((a) => typeof a === 'string')) {
      throw new AppError('ERR_VALIDATION', `federatedCredentials[${i}] is not a federated identity credential: it needs issuer, subject and audiences`, {
        field: `federatedCredentials[${i}]`,
        example: { name: 'airlock-etl-worker', issuer: 'https://airlock.example.com/clusters/cl_…', subject: 'system:serviceaccount:etl-…:etl-…-worker-serviceaccount', audiences: [AUDIENCE.azure] },
      });
    }
    return { name: typeof item.name === 'string' ? item.name : `#${i}`, issuer, subject, audiences: audiences as string[] };
  });
}

const sameIgnoringCaseAndSlash = (a: string, b: string) => a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();

function checkOne(creds: Credential[], issuer: string, subject: string): { trusted: boolean; reason: string } {
  const exact = creds.filter((c) => c.issuer === issuer && c.subject === subject);
  const good = exact.find((c) => c.audiences.includes(AUDIENCE.azure));
  if (good) return { trusted: true, reason: `federated credential ${good.name}` };
  if (exact.length > 0) {
    return { trusted: false, reason: `federated credential ${exact[0]!.name} has audiences ${JSON.stringify(exact[0]!.audiences)}; the token's audience is ${AUDIENCE.azure} (AADSTS700212)` };
  }
  const near = creds.find((c) => sameIgnoringCaseAndSlash(c.issuer, issuer) && c.subject.toLowerCase() === subject.toLowerCase());
  if (near) {
    const what = near.issuer !== issuer ? `issuer ${JSON.stringify(near.issuer)}` : `subject ${JSON.stringify(near.subject)}`;
    return { trusted: false, reason: `federated credential ${near.name} names ${what}: Entra compares exactly (case and a trailing slash count), so it does not match ${JSON.stringify(near.issuer !== issuer ? issuer : subject)} (AADSTS70021)` };
  }
  return { trusted: false, reason: `no federated credential names issuer ${issuer} with this subject (AADSTS70021)` };
}

export function checkAzureTrust(input: SetupInput, setup: SetupResult, doc: unknown): { checked: string; checks: TrustCheck[]; findings: TrustFinding[] } {
  const creds = credentialsOf(doc);
  const identity = input.identity.identity;
  const checked = identity.cloud === 'azure' ? `managed identity ${identity.managedIdentityName} (resource group ${identity.resourceGroup})` : 'the managed identity';
  const checks: TrustCheck[] = input.components.map((c) => ({ principal: c.subject, component: c.component, ...checkOne(creds, setup.issuerUrl, c.subject) }));
  const findings: TrustFinding[] = [];

  const missing = checks.filter((c) => !c.trusted).length;
  if (missing > 0 && creds.length + missing > MAX_FEDERATED_CREDENTIALS) {
    findings.push({
      severity: 'warning',
      message: `the identity holds ${creds.length} federated credentials; the ${missing} missing ones would take it past Entra's limit of ${MAX_FEDERATED_CREDENTIALS}. Remove unused ones, or give this Deployment an identity of its own`,
    });
  }
  const ours = new Set(input.components.map((c) => c.subject));
  const others = creds.filter((c) => c.issuer === setup.issuerUrl && !ours.has(c.subject));
  if (others.length > 0) {
    findings.push({
      severity: 'info',
      message: `the identity also trusts ${others.length} other subject${others.length === 1 ? '' : 's'} of this issuer (${others.map((c) => c.subject).join(', ')}): other Deployments that use it, or credentials left from a deleted one`,
    });
  }
  return { checked, checks, findings };
}
