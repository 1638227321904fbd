import type { Deployment } from '../types.ts';

const CLOUD_NAMES = { aws: 'AWS', gcp: 'Google Cloud', azure: 'Azure' } as const;
export const cloudName = (c: keyof typeof CLOUD_NAMES) => CLOUD_NAMES[c];

/** One line for the identity in force: what the list shows. */
export function identitySummary(d: Deployment): string {
  const e = d.effectiveWorkloadIdentity;
  if (!e) return `None: ${d.effectiveWorkloadIdentityReason ?? 'no default identity on this cluster'}`;
  const kind = e.mode === 'default' ? 'Default' : e.savedIdentityName ? `Customer managed (${e.savedIdentityName})` : 'Customer managed';
  return `${kind}: ${e.value}`;
}

/** What was configured, in the words of the Edit menu. */
export function configuredSummary(d: Deployment): string {
  const c = d.workloadIdentity;
  if (!c) return 'Default Identity';
  if (c.type === 'saved') return `Customer Managed Identity: saved identity ${c.savedIdentityName ?? ''} (${c.value})`;
  return `Customer Managed Identity: ${c.value}`;
}
