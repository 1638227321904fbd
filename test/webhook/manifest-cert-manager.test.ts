/**
 * `airlock webhook manifest --tls cert-manager`: the serving certificate is a cert-manager
 * Certificate, checked against cert-manager's own CRD schemas (@kubernetes-models/cert-manager),
 * wired to the Secret the webhook mounts and to the configuration's CA injection; kubectl parses
 * the whole output offline. The manifest then holds no key material.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Certificate, Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { parseAllDocuments } from 'yaml';
import { CERT_MANAGER_INJECT_CA } from '../../src/delivery/webhook/manifest.ts';
import { airlock } from '../helpers/cli.ts';
import { kubectl } from '../helpers/kubectl.ts';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  webhooks?: { clientConfig: { caBundle?: string; service: { name: string; namespace: string } } }[];
}
const objects = (yaml: string): K8sObject[] => parseAllDocuments(yaml).map((d) => d.toJS() as K8sObject);
const SERVER = ['--cluster', 'prod-aws', '--server', 'https://airlock.internal.example.com'];

void describe('airlock webhook manifest --tls cert-manager', () => {
  let dir: string;
  let yaml: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-cert-manager-'));
    const r = await airlock(['webhook', 'manifest', ...SERVER, '--tls', 'cert-manager'], {});
    assert.equal(r.code, 0, r.stderr);
    yaml = r.stdout;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('kubectl parses it offline: an Issuer and a Certificate in place of the generated Secret', async () => {
    const r = await kubectl(['label', '--local', '-f', '-', 'checked=yes', '-o', 'name'], yaml, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'namespace/airlock-system',
      'serviceaccount/airlock-webhook',
      'issuer.cert-manager.io/airlock-webhook-selfsigned',
      'certificate.cert-manager.io/airlock-webhook-tls',
      'deployment.apps/airlock-webhook',
      'service/airlock-webhook',
      'poddisruptionbudget.policy/airlock-webhook',
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/airlock-webhook',
    ]);
    assert.doesNotMatch(yaml, /PRIVATE KEY|BEGIN CERTIFICATE|caBundle:|tls\.key: /, 'no key material and no caBundle in the output');
  });

  void it("the Issuer and Certificate are valid by cert-manager's schemas; the Certificate names the Service and fills the Secret the webhook mounts", () => {
    const docs = objects(yaml);
    const issuer = docs.find((o) => o.kind === 'Issuer')!;
    const cert = docs.find((o) => o.kind === 'Certificate')!;
    new Issuer(issuer as never).validate();
    new Certificate(cert as never).validate();
    const spec = cert.spec as { secretName: string; dnsNames: string[]; issuerRef: { kind: string; name: string }; usages: string[]; privateKey: { algorithm: string; rotationPolicy: string } };
    assert.deepEqual(spec.issuerRef, { group: 'cert-manager.io', kind: 'Issuer', name: issuer.metadata.name });
    assert.deepEqual(spec.dnsNames, ['airlock-webhook', 'airlock-webhook.airlock-system', 'airlock-webhook.airlock-system.svc', 'airlock-webhook.airlock-system.svc.cluster.local']);
    assert.deepEqual(spec.usages, ['server auth', 'digital signature']);
    assert.equal(spec.privateKey.rotationPolicy, 'Always');
    const deployment = docs.find((o) => o.kind === 'Deployment')!;
    const volumes = (deployment.spec as { template: { spec: { volumes: { name: string; secret: { secretName: string } }[] } } }).template.spec.volumes;
    assert.equal(volumes.find((v) => v.name === 'tls')!.secret.secretName, spec.secretName);
    const config = docs.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    assert.equal(config.metadata.annotations?.[CERT_MANAGER_INJECT_CA], `${cert.metadata.namespace}/${cert.metadata.name}`);
    assert.equal(config.webhooks![0]!.clientConfig.caBundle, undefined, "cert-manager's CA injector writes it");
    assert.deepEqual(config.webhooks![0]!.clientConfig.service.name, 'airlock-webhook');
  });

  void it('--cert-manager-issuer uses an existing issuer and adds none', async () => {
    const r = await airlock(['webhook', 'manifest', ...SERVER, '--tls', 'cert-manager', '--cert-manager-issuer', 'ClusterIssuer/internal-ca'], {});
    assert.equal(r.code, 0, r.stderr);
    const docs = objects(r.stdout);
    assert.equal(docs.filter((o) => o.kind === 'Issuer').length, 0);
    const cert = docs.find((o) => o.kind === 'Certificate')!;
    new Certificate(cert as never).validate();
    assert.deepEqual((cert.spec as { issuerRef: unknown }).issuerRef, { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'internal-ca' });
  });

  const refused: [string, string[], RegExp][] = [
    ['an unknown --tls mode', ['--tls', 'acme'], /ERR_VALIDATION: --tls must be generated or cert-manager\n {2}field: --tls\n {2}example: cert-manager/],
    ['--cert-manager-issuer without --tls cert-manager', ['--cert-manager-issuer', 'ClusterIssuer/internal-ca'], /ERR_VALIDATION: --cert-manager-issuer needs --tls cert-manager\n {2}field: --cert-manager-issuer/],
    ['an issuer that is not Kind/name', ['--tls', 'cert-manager', '--cert-manager-issuer', 'internal-ca'], /ERR_VALIDATION: --cert-manager-issuer must be Issuer\/<name> or ClusterIssuer\/<name>\n {2}field: --cert-manager-issuer\n {2}example: ClusterIssuer\/internal-ca/],
  ];
  for (const [name, args, message] of refused) {
    void it(`refuses ${name} (exit 2, the flag and an example)`, async () => {
      const r = await airlock(['webhook', 'manifest', ...SERVER, ...args], {});
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    });
  }
});
