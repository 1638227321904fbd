/**
 * `airlock webhook manifest`: everything a cluster needs to run the webhook, as one multi-document
 * YAML for `kubectl apply -f -`: Namespace, ServiceAccount, TLS Secret, Deployment, Service,
 * PodDisruptionBudget and the MutatingWebhookConfiguration, with comments on the choices a cluster
 * operator may want to change (failurePolicy, timeouts, selectors).
 *
 * TLS, two ways. `generated` (default): the certificate is generated here, self-signed for the
 * Service's DNS names; the configuration's caBundle is that certificate, so the API server trusts
 * exactly it and nothing it could sign (it is not a CA). Its key goes into the Secret and nowhere
 * else. `cert-manager`: a cert-manager Certificate for the same names fills the same Secret and is
 * renewed by cert-manager; its CA injector writes the caBundle. The manifest then holds no key
 * material at all. The webhook re-reads its certificate files, so renewals need no restart. The Airlock API
 * token the webhook uses is NOT in the manifest: a comment says how to create its Secret, so the
 * output can be kept in Git.
 */
import { X509Certificate } from 'node:crypto';
import { Document, isMap, isPair, isScalar, type Node } from 'yaml';
import { generate } from 'selfsigned';
import { OPT_OUT_LABEL } from './annotations.ts';
import { HEALTH_PATH, MUTATE_PATH } from './server.ts';

export interface ManifestOptions {
  /** The cluster (id or name) the webhook serves. */
  cluster: string;
  /** The Airlock URL as seen from inside the cluster. */
  serverUrl: string;
  /** The image of the webhook and of the sidecar it injects (its entrypoint is `airlock`). */
  image: string;
  namespace?: string;
  name?: string;
  /** `Fail` (default) or `Ignore`. */
  failurePolicy?: 'Fail' | 'Ignore';
  /** How long the API server waits for an answer (1–30 s; default 5). */
  timeoutSeconds?: number;
  replicas?: number;
  /** The Secret that holds the Airlock API token (key `token`). */
  tokenSecret?: string;
  /** Days the generated certificate is valid (default 825, below what Apple-style clients cap at). */
  certDays?: number;
  /** Who makes the serving certificate (default `generated`). */
  tls?: 'generated' | 'cert-manager';
  /**
   * With `tls: 'cert-manager'`: the issuer that signs it, e.g. `{ kind: 'ClusterIssuer', name: 'internal-ca' }`.
   * Absent: the manifest adds a self-signed Issuer in the webhook's namespace.
   */
  certManagerIssuer?: { kind: 'Issuer' | 'ClusterIssuer'; name: string } | undefined;
  now?: () => Date;
}

export interface Manifest {
  yaml: string;
  /** The generated certificate (PEM), also the caBundle; absent with cert-manager. */
  cert?: string | undefined;
  notAfter?: Date | undefined;
}

/** cert-manager's annotation that has its CA injector fill a webhook configuration's caBundle from a Certificate. */
export const CERT_MANAGER_INJECT_CA = 'cert-manager.io/inject-ca-from';

export const WEBHOOK_PORT = 8443;
const CERT_DIR = '/etc/airlock-webhook/tls';

/** The name the configuration gives its one webhook: must be a fully qualified domain name. */
export const WEBHOOK_NAME = 'pods.airlock.dev';

/** A pod's service account is a Deployment component's only if it is named `<namespace>-…`; the CEL the API server checks before calling us. */
export const MATCH_CONDITION = "has(object.spec.serviceAccountName) && object.spec.serviceAccountName.startsWith(request.namespace + '-')";

function comment(doc: Document, path: (string | number)[], key: string, text: string): void {
  const node = doc.getIn(path, true) as Node | undefined;
  if (!isMap(node)) throw new Error(`manifest: no map at ${path.join('.')}`);
  const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
  if (!pair || !isScalar(pair.key)) throw new Error(`manifest: no ${key} at ${path.join('.')}`);
  pair.key.commentBefore = text
    .split('\n')
    .map((l) => ` ${l}`)
    .join('\n');
}

/** Builds the manifest (generates a fresh certificate each time). */
export async function webhookManifest(o: ManifestOptions): Promise<Manifest> {
  const ns = o.namespace ?? 'airlock-system';
  const name = o.name ?? 'airlock-webhook';
  const failurePolicy = o.failurePolicy ?? 'Fail';
  const timeoutSeconds = o.timeoutSeconds ?? 5;
  const tokenSecret = o.tokenSecret ?? `${name}-api-token`;
  const now = o.now?.() ?? new Date();
  const dns = [name, `${name}.${ns}`, `${name}.${ns}.svc`, `${name}.${ns}.svc.cluster.local`];
  const pems = o.tls === 'cert-manager' ? undefined : await selfSigned(name, ns, dns, now, o.certDays ?? 825);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'airlock' };
  // The webhook's own pods are never mutated (a webhook that needs itself to start cannot start).
  const podLabels = { ...labels, [OPT_OUT_LABEL]: 'false' };

  const docs: Document[] = [];
  const add = (obj: unknown, top?: string): Document => {
    const d = new Document(obj, { aliasDuplicateObjects: false });
    if (top) d.commentBefore = top;
    docs.push(d);
    return d;
  };

  add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } });
  add({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels }, automountServiceAccountToken: false }, ' The webhook asks Airlock, not the Kubernetes API: its service account needs no RBAC and no token.');
  const tlsSecret = `${name}-tls`;
  if (pems) {
    add(
      { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: tlsSecret, namespace: ns, labels }, data: { 'tls.crt': b64(pems.cert), 'tls.key': b64(pems.private) } },
      ` The webhook's serving certificate, generated by \`airlock webhook manifest\` (self-signed, EC P-256,\n valid until ${new Date(new X509Certificate(pems.cert).validTo).toISOString()}). The caBundle below is this certificate.\n To renew: run the command again and apply; the webhook re-reads the files every minute.`,
    );
  } else {
    const issuer = o.certManagerIssuer ?? { kind: 'Issuer' as const, name: `${name}-selfsigned` };
    if (!o.certManagerIssuer) {
      add(
        { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: issuer.name, namespace: ns, labels }, spec: { selfSigned: {} } },
        ' Signs the serving certificate below and nothing else (a self-signed issuer in this namespace).\n To use your own CA instead: airlock webhook manifest --tls cert-manager --cert-manager-issuer ClusterIssuer/<name>',
      );
    }
    add(
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: tlsSecret, namespace: ns, labels },
        spec: {
          secretName: tlsSecret,
          commonName: `${name}.${ns}.svc`,
          dnsNames: dns,
          duration: '2160h',
          renewBefore: '720h',
          privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
          usages: ['server auth', 'digital signature'],
          issuerRef: { group: 'cert-manager.io', kind: issuer.kind, name: issuer.name },
        },
      },
      ` The webhook's serving certificate, issued and renewed by cert-manager (90 days, renewed 30 days before\n it ends, a new key each time) into the Secret ${tlsSecret}. The webhook re-reads the files every minute.\n cert-manager's CA injector writes the configuration's caBundle (see its ${CERT_MANAGER_INJECT_CA} annotation).`,
    );
  }
  const deployment = add(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels },
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels: podLabels },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'webhook',
                image: o.image,
                args: ['webhook', 'serve', '--cluster', o.cluster, '--tls-cert', `${CERT_DIR}/tls.crt`, '--tls-key', `${CERT_DIR}/tls.key`, '--port', String(WEBHOOK_PORT), '--agent-image', o.image, '--lookup-timeout', `${Math.max(1, timeoutSeconds - 2)}s`],
                env: [
                  { name: 'AIRLOCK_URL', value: o.serverUrl },
                  { name: 'AIRLOCK_TOKEN', valueFrom: { secretKeyRef: { name: tokenSecret, key: 'token' } } },
                ],
                ports: [{ name: 'https', containerPort: WEBHOOK_PORT }],
                readinessProbe: { httpGet: { path: HEALTH_PATH, port: 'https', scheme: 'HTTPS' }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: HEALTH_PATH, port: 'https', scheme: 'HTTPS' }, periodSeconds: 10, failureThreshold: 6 },
                resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [{ name: 'tls', mountPath: CERT_DIR, readOnly: true }],
              },
            ],
            volumes: [{ name: 'tls', secret: { secretName: tlsSecret } }],
          },
        },
      },
    },
    ` The webhook. Before applying, create the Secret with an Airlock API token that has workload.read\n (an organization-member token is enough):\n   kubectl -n ${ns} create secret generic ${tokenSecret} --from-literal=token="$AIRLOCK_WEBHOOK_TOKEN"`,
  );
  comment(deployment, ['spec'], 'replicas', 'Two replicas and the PodDisruptionBudget below: with failurePolicy Fail, no replica\nmeans no pod of a Deployment can be created.');
  add({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels }, spec: { selector: labels, ports: [{ name: 'https', port: 443, targetPort: 'https' }] } });
  add({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace: ns, labels }, spec: { minAvailable: 1, selector: { matchLabels: labels } } });

  const config = add(
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name, labels, ...(!pems && { annotations: { [CERT_MANAGER_INJECT_CA]: `${ns}/${tlsSecret}` } }) },
      webhooks: [
        {
          name: WEBHOOK_NAME,
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          clientConfig: { service: { name, namespace: ns, path: MUTATE_PATH, port: 443 }, ...(pems && { caBundle: b64(pems.cert) }) },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
          failurePolicy,
          timeoutSeconds,
          reinvocationPolicy: 'Never',
          matchPolicy: 'Equivalent',
          namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', ns] }] },
          objectSelector: { matchExpressions: [{ key: OPT_OUT_LABEL, operator: 'NotIn', values: ['false'] }] },
          matchConditions: [{ name: 'deployment-service-account', expression: MATCH_CONDITION }],
        },
      ],
    },
    ` Sends the API server's pod creations to the webhook (cluster ${o.cluster}).`,
  );
  const w = ['webhooks', 0];
  comment(
    config,
    w,
    'failurePolicy',
    [
      'What the API server does when the webhook cannot be reached, times out or fails:',
      '  Fail   (default) the pod is not created; its ReplicaSet / Job retries with backoff. A Deployment pod',
      '         never starts without its identity, at the price that an unavailable webhook blocks new pods',
      '         of the namespaces it matches (not kube-system, not this one: see namespaceSelector).',
      '  Ignore the pod is created unchanged; its SDKs then find no credentials (or the node\'s) and fail',
      '         at their first cloud call, far from the cause.',
      'Either way the webhook itself refuses (status 503) a Deployment pod whose workload it cannot look up.',
    ].join('\n'),
  );
  comment(
    config,
    w,
    'timeoutSeconds',
    [
      'How long the API server waits for an answer (1-30 s); then failurePolicy applies. An answer from the',
      "cache takes well under a millisecond; a cache miss asks Airlock, whose lookup is given this minus",
      '2 s (--lookup-timeout), so a slow Airlock shows as the webhook\'s own 503 with the reason, not as a timeout.',
      'The whole pod creation shares one budget with every other webhook: keep it short.',
    ].join('\n'),
  );
  comment(config, w, 'reinvocationPolicy', 'The webhook injects once; a pod it already injected is left alone.');
  comment(config, w, 'namespaceSelector', 'Never the system namespaces nor the webhook\'s own, so the cluster and the webhook can always start.');
  comment(config, w, 'objectSelector', `A pod labelled ${OPT_OUT_LABEL}: "false" is never sent to the webhook.`);
  comment(config, w, 'matchConditions', "Only pods whose service account is named after their namespace (`<namespace>-<component>-serviceaccount`,\n`<namespace>-kpo`) are sent: every other pod is admitted without calling the webhook.\n(matchConditions: Kubernetes 1.30+; delete this key on older clusters.)");

  const header = [
    `# Airlock mutating admission webhook for cluster ${o.cluster}`,
    `# Generated by \`airlock webhook manifest\`. Apply with: kubectl apply -f <this file>`,
    '# Pods of Deployments get their workload identity (docs/kubernetes.md). Native sidecars (issuer mode airlock) need Kubernetes 1.29+.',
    ...(pems ? [] : ['# TLS by cert-manager (v1.0+, with its CA injector), which must be installed before this is applied.']),
    '',
  ].join('\n');
  const yaml = header + docs.map((d) => d.toString({ lineWidth: 0 })).join('---\n');
  return { yaml, cert: pems?.cert, notAfter: pems && new Date(new X509Certificate(pems.cert).validTo) };
}

/** A self-signed serving certificate (EC P-256, not a CA) for the Service's DNS names. */
function selfSigned(name: string, ns: string, dns: string[], now: Date, days: number) {
  return generate([{ name: 'commonName', value: `${name}.${ns}.svc` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 5 * 60_000),
    notAfterDate: new Date(now.getTime() + days * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: dns.map((value) => ({ type: 2 as const, value })) },
    ],
  });
}
