/**
 * Attribute mapping and attribute conditions of the OIDC providers Airlock creates.
 *
 * Airlock's tokens are Kubernetes service-account tokens: `sub` is
 * `system:serviceaccount:<namespace>:<service account>` and the `kubernetes.io` claim carries
 * `{ namespace, serviceaccount: { name, uid } }`. The mapping follows Google's guide "Configure
 * Workload Identity Federation with Kubernetes" (minus `attribute.pod`, which Airlock tokens do not
 * carry). Expressions stay inside the CEL subset the local sandbox evaluates (paths, `==`,
 * `startsWith`), so what passes there passes in Google.
 */

/** `google.subject` → `principal://…/subject/<sub>`; the attributes → `principalSet://…/attribute.<name>/<value>`. */
export const ATTRIBUTE_MAPPING: Readonly<Record<string, string>> = Object.freeze({
  'google.subject': 'assertion.sub',
  'attribute.namespace': "assertion['kubernetes.io']['namespace']",
  'attribute.service_account_name': "assertion['kubernetes.io']['serviceaccount']['name']",
});

/** The mapping as gcloud's `--attribute-mapping=KEY=VALUE,…` takes it (no value contains a comma). */
export function attributeMappingFlag(mapping: Readonly<Record<string, string>> = ATTRIBUTE_MAPPING): string {
  return Object.entries(mapping)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * A CEL string literal. Single-quoted, escaping backslash, the quote and line breaks, so any
 * value stays one literal (namespaces are DNS labels and never need it; the escaping is here so a
 * future caller cannot inject an expression).
 */
export function celString(value: string): string {
  const body = value.replace(/[\\'\n\r\t]/g, (c) => ({ '\\': '\\\\', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!);
  return `'${body}'`;
}

/** Admits only tokens of one namespace: the per-Deployment provider's condition. */
export function namespaceCondition(namespace: string): string {
  return `attribute.namespace == ${celString(namespace)}`;
}

/**
 * Admits every Kubernetes service account of the cluster (the issuer already pins the cluster):
 * the wildcard provider's condition. It still refuses any other kind of token the issuer might
 * mint, because those do not have a service-account subject.
 */
export function clusterCondition(): string {
  return `assertion.sub.startsWith(${celString('system:serviceaccount:')})`;
}
