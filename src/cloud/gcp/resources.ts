/**
 * A setup plan as the Google resources it results in, in the shape of Google's REST resources
 * (`workloadIdentityPools[].providers[].oidc.issuerUri`, `attributeMapping`,
 * `iamPolicy.bindings[].members`): what `gcloud … describe --format=json` shows once the steps
 * have run. The GCP sandbox reads this shape as its configuration, so a test can stand up exactly
 * the world a user's commands would create.
 *
 * The service accounts the plan binds to (the customer's, the impersonation target) are included
 * with only the bindings setup adds; in reality they exist beforehand with other bindings too.
 */
import { AppError } from '../../errors/index.ts';
import { GCP_PLACEHOLDERS, type GcpBinding, type GcpPlaceholderName, type GcpSetupPlan } from './plan.ts';
import { SERVICE_ACCOUNT_EMAIL } from './names.ts';

/** An allow policy: one binding per role. */
export interface GcpPolicy {
  bindings: { role: string; members: string[] }[];
}

/** One project's part of the resulting state. */
export interface GcpProjectResources {
  projectId: string;
  projectNumber?: string;
  iamPolicy: GcpPolicy;
  workloadIdentityPools: {
    poolId: string;
    displayName: string;
    providers: {
      providerId: string;
      displayName: string;
      oidc: { issuerUri: string };
      attributeMapping: Record<string, string>;
      attributeCondition: string;
    }[];
  }[];
  serviceAccounts: { accountId: string; displayName?: string; iamPolicy: GcpPolicy }[];
}

/** Values for the plan's placeholders, by name. */
export type GcpPlaceholderValues = Partial<Record<GcpPlaceholderName, string>>;

const PLACEHOLDER_TEXT = new RegExp(`\\$\\{(${GCP_PLACEHOLDERS.join('|')})\\}`, 'g');

/**
 * The resources a plan creates, with placeholders replaced by `values`. Throws
 * `ERR_VALIDATION` naming the first placeholder without a value: unresolved state cannot be
 * described.
 */
export function gcpResources(plan: GcpSetupPlan, values: GcpPlaceholderValues = {}): { projects: GcpProjectResources[] } {
  const fill = (s: string): string =>
    s.replace(PLACEHOLDER_TEXT, (_, name: GcpPlaceholderName) => {
      const v = values[name];
      if (v === undefined) throw new AppError('ERR_VALIDATION', `cloud(gcp): a value for \${${name}} is needed to describe the resulting resources`, { field: name });
      return v;
    });

  const projects = new Map<string, GcpProjectResources>();
  const project = (id: string): GcpProjectResources => {
    let p = projects.get(id);
    if (!p) {
      p = { projectId: id, iamPolicy: { bindings: [] }, workloadIdentityPools: [], serviceAccounts: [] };
      projects.set(id, p);
    }
    return p;
  };
  const bind = (policy: GcpPolicy, role: string, member: string) => {
    let b = policy.bindings.find((x) => x.role === role);
    if (!b) policy.bindings.push((b = { role, members: [] }));
    if (!b.members.includes(member)) b.members.push(member);
  };
  const account = (email: string, displayName?: string) => {
    const m = SERVICE_ACCOUNT_EMAIL.exec(email);
    if (!m) throw new AppError('ERR_VALIDATION', `cloud(gcp): "${email}" is not a service account email`, { field: 'serviceAccountEmail' });
    const p = project(m[2]!);
    let sa = p.serviceAccounts.find((x) => x.accountId === m[1]);
    if (!sa) {
      sa = { accountId: m[1]!, ...(displayName ? { displayName } : {}), iamPolicy: { bindings: [] } };
      p.serviceAccounts.push(sa);
    }
    return sa;
  };
  const apply = (b: GcpBinding) => {
    if (b.resource === 'serviceAccount') bind(account(fill(b.serviceAccountEmail)).iamPolicy, b.role, fill(b.member));
    else bind(project(fill(b.projectId)).iamPolicy, b.role, fill(b.member));
  };

  const f = plan.federation;
  const home = project(f.projectId);
  home.projectNumber = fill(f.projectNumber);
  home.workloadIdentityPools.push({
    poolId: f.poolId,
    displayName: f.poolDisplayName,
    providers: [
      {
        providerId: f.providerId,
        displayName: f.providerDisplayName,
        oidc: { issuerUri: f.issuerUri },
        attributeMapping: { ...f.attributeMapping },
        attributeCondition: f.attributeCondition,
      },
    ],
  });
  account(f.serviceAccountEmail, f.createServiceAccount?.displayName);
  f.bindings.forEach(apply);
  plan.grants.forEach(apply);
  return { projects: [...projects.values()] };
}
