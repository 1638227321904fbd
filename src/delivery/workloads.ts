/**
 * Workload profiles: what one component of a Deployment is and what it needs at run time, derived
 * from the Deployment's view and its cloud's plan (so delivery and setup cannot disagree).
 */
import type { CloudProvider } from '../cloud/types.ts';
import { COMPONENTS, serviceAccountName, subjectFor, type Component } from '../deployments/components.ts';
import { setupInputFromView, type DeploymentView } from '../deployments/service.ts';
import type { Cloud } from '../domain/terms.ts';
import { AppError } from '../errors/index.ts';
import type { CloudDeliveryWire, WorkloadProfile } from './profile.ts';

export interface ProfileOptions {
  tokenTtlSeconds: number;
  providers: Readonly<Record<Cloud, CloudProvider>>;
}

/** The profile of one component. Never throws for a missing identity: `clouds` is empty and `identityReason` says why. */
export function workloadProfile(v: DeploymentView, component: Component, o: ProfileOptions): WorkloadProfile {
  const serviceAccount = serviceAccountName(v.deployment.namespace, component);
  const clouds: CloudDeliveryWire[] = [];
  let identityReason: string | undefined;
  if (!v.effective) {
    identityReason = v.effectiveReason ?? 'the Deployment has no workload identity in force';
  } else {
    try {
      const input = setupInputFromView(v, {});
      clouds.push(o.providers[input.identity.identity.cloud].delivery(input) as CloudDeliveryWire);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      identityReason = err.message;
    }
  }
  const customAudiences = [...v.cluster.audiences];
  const audiences = [...new Set([...clouds.flatMap((c) => c.acceptedAudiences), ...customAudiences])];
  const profile: WorkloadProfile = {
    deployment: { id: v.deployment.id, name: v.deployment.name, namespace: v.deployment.namespace },
    component,
    serviceAccount,
    subject: subjectFor(v.deployment.namespace, serviceAccount),
    cluster: { id: v.cluster.id, name: v.cluster.name, cloud: v.cluster.cloud, region: v.cluster.region, issuerMode: v.cluster.issuerMode },
    issuer: v.cluster.oidcIssuerUrl,
    tokenEndpoint: v.cluster.tokenEndpoint,
    attestationAudience: v.cluster.attestationAudience,
    tokenTtlSeconds: o.tokenTtlSeconds,
    clouds,
    audiences,
    customAudiences,
  };
  if (identityReason !== undefined) profile.identityReason = identityReason;
  return profile;
}

/** The component whose service account this is in `namespace`, if any (the inverse of serviceAccountName). */
export function componentOfServiceAccount(namespace: string, serviceAccount: string): Component | undefined {
  return COMPONENTS.find((c) => serviceAccountName(namespace, c) === serviceAccount);
}
