/**
 * Airflow components of a Deployment and their Kubernetes service accounts, named exactly as the
 * product guide's trust-policy example: `<ns>-<component>-serviceaccount`, except the
 * KubernetesPodOperator's `<ns>-kpo`.
 */
export const COMPONENTS = ['scheduler', 'worker', 'triggerer', 'webserver', 'dag-processor', 'kpo'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ComponentIdentity {
  component: Component;
  /** Kubernetes service account name. */
  serviceAccount: string;
  /** `system:serviceaccount:<namespace>:<serviceAccount>`: the `sub` of its tokens. */
  subject: string;
}

export function serviceAccountName(namespace: string, component: Component): string {
  return component === 'kpo' ? `${namespace}-kpo` : `${namespace}-${component}-serviceaccount`;
}

export function subjectFor(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/** Every component's identity, in the fixed component order. */
export function componentIdentities(namespace: string, components: readonly Component[] = COMPONENTS): ComponentIdentity[] {
  return components.map((component) => {
    const serviceAccount = serviceAccountName(namespace, component);
    return { component, serviceAccount, subject: subjectFor(namespace, serviceAccount) };
  });
}

/** The subject pattern that trusts every service account of a cluster (dedicated clusters only). */
export const WILDCARD_SUBJECT = 'system:serviceaccount:*:*';
