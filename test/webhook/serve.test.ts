/**
 * `airlock webhook manifest` and `airlock webhook serve`, as a user runs them:
 * - the manifest is parsed by the real kubectl, offline (a kubeconfig pointing at 127.0.0.1:1, and
 *   only `--local` commands, so nothing is ever contacted), and its Deployment and the golden
 *   mutated pods are decoded into kubectl's typed objects;
 * - the real binary serves the webhook over TLS with the manifest's own certificate and key,
 *   looks workloads up in a real Airlock server through its API, and answers a real AdmissionReview.
 */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';
import { applyPatch, type Op } from '../helpers/json-patch.ts';
import type { AdmissionReviewOut } from '../../src/delivery/webhook/review.ts';
import { killAll, spawnGroup } from '../helpers/processes.ts';
import { startKubeIssuer, type KubeIssuer } from '../delivery/kube-issuer.ts';
import { kubectl } from '../helpers/kubectl.ts';

const BIN = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/webhook/', import.meta.url));
const ROLE = 'arn:aws:iam::123456789012:role/etl-reader';
const SERVICE_NAME = 'airlock-webhook.airlock-system.svc';

/** What the webhook answers: an AdmissionReview, an error, or its health. */
interface Answer {
  response?: AdmissionReviewOut['response'];
  error?: { code: string; field?: string; example?: unknown };
  ok?: boolean;
  workloads?: { lookups: number };
}
interface MutatedContainer {
  name: string;
  args: string[];
  restartPolicy?: string;
  env: { name: string; value: string }[];
}
interface MutatedPod {
  spec: { containers: MutatedContainer[]; initContainers: MutatedContainer[] };
}
interface Webhook {
  rules: unknown;
  sideEffects: string;
  admissionReviewVersions: string[];
  failurePolicy: string;
  timeoutSeconds: number;
  clientConfig: { caBundle: string };
  objectSelector: { matchExpressions: unknown[] };
  namespaceSelector: { matchExpressions: { values: string[] }[] };
}
interface ManifestObject {
  kind: string;
  data?: Record<string, string>;
  webhooks?: Webhook[];
}
const objects = (yaml: string): ManifestObject[] => parseAllDocuments(yaml).map((d) => d.toJS() as ManifestObject);

function post(agent: Agent, url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, method = 'POST'): Promise<{ status: number; json: Answer }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent, servername: SERVICE_NAME, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: (text ? JSON.parse(text) : {}) as Answer }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

void describe('airlock webhook manifest and serve', () => {
  let s: TestServer;
  let dir: string;
  let manifest: string;
  let namespace: string;
  let clusterId: string;
  let kube: KubeIssuer;
  let sidecar: { args: string[]; env: { name: string; value: string }[] } | undefined;
  let workloadEnv: Record<string, string> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-webhook-'));
    s = await startServer();
    kube = await startKubeIssuer();
    const c = await s.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1', kubernetesIssuerUrl: kube.url });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    clusterId = (c.body as { id: string }).id;
    const d = await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: ROLE });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    namespace = (d.body as { namespace: string }).namespace;
    const m = await airlock(['webhook', 'manifest', '--cluster', 'prod-aws', '--server', 'https://airlock.internal.example.com'], {});
    assert.equal(m.code, 0, m.stderr);
    manifest = m.stdout;
  });
  after(async () => {
    await killAll();
    await s.close();
    await kube.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('kubectl parses the manifest offline: every object, with its kind and name', async () => {
    const r = await kubectl(['label', '--local', '-f', '-', 'checked=yes', '-o', 'name'], manifest, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'namespace/airlock-system',
      'serviceaccount/airlock-webhook',
      'secret/airlock-webhook-tls',
      'deployment.apps/airlock-webhook',
      'service/airlock-webhook',
      'poddisruptionbudget.policy/airlock-webhook',
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/airlock-webhook',
    ]);
  });

  void it("kubectl decodes the webhook's Deployment into its typed form", async () => {
    const deployment = objects(manifest).find((o) => o.kind === 'Deployment');
    const r = await kubectl(['set', 'image', '--local', '-f', '-', 'webhook=example.com/airlock:test', '-o', 'name'], JSON.stringify(deployment), dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'deployment.apps/airlock-webhook');
  });

  void it('kubectl decodes every golden mutated pod into a typed Pod (the patch yields a valid pod spec)', async () => {
    for (const c of readdirSync(FIXTURES)) {
      let pod: string;
      try {
        pod = readFileSync(join(FIXTURES, c, 'pod.mutated.json'), 'utf8');
      } catch {
        continue;
      }
      const r = await kubectl(['set', 'image', '--local', '-f', '-', 'worker=example.com/x:1', '-o', 'name'], pod, dir);
      assert.equal(r.code, 0, `${c}: ${r.stderr}`);
    }
  });

  void it('the MutatingWebhookConfiguration: CREATE of pods, sideEffects None, v1 reviews, caBundle, explained failurePolicy and timeout', () => {
    const w = objects(manifest).find((o) => o.kind === 'MutatingWebhookConfiguration')!.webhooks![0];
    assert.deepEqual(w.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    assert.equal(w.sideEffects, 'None');
    assert.deepEqual(w.admissionReviewVersions, ['v1']);
    assert.equal(w.failurePolicy, 'Fail');
    assert.equal(w.timeoutSeconds, 5);
    assert.match(Buffer.from(w.clientConfig.caBundle, 'base64').toString(), /^-----BEGIN CERTIFICATE-----/);
    assert.deepEqual(w.objectSelector.matchExpressions[0], { key: 'airlock.dev/inject', operator: 'NotIn', values: ['false'] });
    assert.ok(w.namespaceSelector.matchExpressions[0].values.includes('kube-system'));
    assert.match(manifest, /# What the API server does when the webhook cannot be reached/);
    assert.match(manifest, /# How long the API server waits for an answer/);
    assert.doesNotMatch(manifest, /alk_/, 'no API token in the manifest');
  });

  void it('bad flags are refused with a code, the flag and an example (exit 2)', async () => {
    const r = await airlock(['webhook', 'manifest', '--cluster', 'prod-aws', '--server', 'https://a.example.com', '--failure-policy', 'Maybe'], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ERR_VALIDATION: --failure-policy must be Fail or Ignore\n {2}field: --failure-policy\n {2}example: Fail/);
    const noServer = await airlock(['webhook', 'manifest', '--cluster', 'prod-aws'], {});
    assert.equal(noServer.code, 2);
    assert.match(noServer.stderr, /--server \(or AIRLOCK_URL\) is needed/);
  });

  void it('serves a real AdmissionReview over TLS with the manifest certificate, looking the workload up in Airlock', async () => {
    const docs = objects(manifest);
    const data = docs.find((o) => o.kind === 'Secret')!.data!;
    const caBundle = Buffer.from(docs.find((o) => o.kind === 'MutatingWebhookConfiguration')!.webhooks![0].clientConfig.caBundle, 'base64').toString();
    writeFileSync(join(dir, 'tls.crt'), Buffer.from(data['tls.crt'], 'base64'));
    writeFileSync(join(dir, 'tls.key'), Buffer.from(data['tls.key'], 'base64'), { mode: 0o600 });

    const p = spawnGroup(process.execPath, [BIN, 'webhook', 'serve', '--cluster', 'prod-aws', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn'], {
      env: { PATH: process.env.PATH ?? '', AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token },
      cwd: dir,
    });
    const [, url] = await p.waitFor(/serving on (https:\/\/\S+)/);
    const agent = new Agent({ ca: caBundle, keepAlive: true });
    try {
      const sa = `${namespace}-worker-serviceaccount`;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'etl-worker-', namespace }, spec: { serviceAccountName: sa, containers: [{ name: 'worker', image: 'quay.io/astronomer/astro-runtime:12.1.0' }] } };
      const body = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: '0f5e4c1b-1111-2222-3333-444455556666', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace, operation: 'CREATE', object: pod },
      };
      const r = await post(agent, `${url}/mutate?timeout=5s`, JSON.stringify(body));
      assert.equal(r.status, 200);
      const response = r.json.response!;
      assert.equal(response.uid, body.request.uid);
      assert.equal(response.allowed, true);
      assert.equal(response.patchType, 'JSONPatch');
      const patch = JSON.parse(Buffer.from(response.patch!, 'base64').toString()) as Op[];
      const mutated = applyPatch(pod, patch) as unknown as MutatedPod;
      const env = Object.fromEntries((mutated.spec.containers[0].env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
      assert.equal(env.AWS_ROLE_ARN, ROLE);
      assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, '/var/run/secrets/airlock/tokens/aws/token');
      assert.equal(env.AWS_ROLE_SESSION_NAME, 'etl-worker');
      const agentContainer = mutated.spec.initContainers[0];
      assert.equal(agentContainer.restartPolicy, 'Always');
      assert.equal(agentContainer.args[agentContainer.args.indexOf('--cluster') + 1], clusterId);
      assert.deepEqual(agentContainer.env, [{ name: 'AIRLOCK_URL', value: s.url }]);
      sidecar = agentContainer;
      workloadEnv = env;

      // Service accounts no Deployment owns: admitted unchanged; one named like a component is looked up, one that is not is not.
      const other = await post(agent, `${url}/mutate`, JSON.stringify({ ...body, request: { ...body.request, object: { ...pod, spec: { ...pod.spec, serviceAccountName: `${namespace}-nobody-serviceaccount` } } } }));
      assert.deepEqual(other.json.response, { uid: body.request.uid, allowed: true });
      const elsewhere = { ...body.request, namespace: 'team-x', object: { ...pod, metadata: { namespace: 'team-x' }, spec: { ...pod.spec, serviceAccountName: 'team-x-worker-serviceaccount' } } };
      const lookedUp = await post(agent, `${url}/mutate`, JSON.stringify({ ...body, request: elsewhere }));
      assert.deepEqual(lookedUp.json.response, { uid: body.request.uid, allowed: true });

      const bad = await post(agent, `${url}/mutate`, '{"kind":"AdmissionReview"}');
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error?.code, 'ERR_VALIDATION');
      assert.equal(bad.json.error?.field, 'apiVersion');
      assert.ok(bad.json.error?.example);
      const notJson = await post(agent, `${url}/mutate`, 'not json');
      assert.deepEqual([notJson.status, notJson.json.error?.code], [400, 'ERR_MALFORMED_JSON']);
      const tooBig = await post(agent, `${url}/mutate`, 'x'.repeat(3 * 1024 * 1024 + 1));
      assert.deepEqual([tooBig.status, tooBig.json.error?.code], [413, 'ERR_BODY_TOO_LARGE']);
      assert.equal((await post(agent, `${url}/mutate`, 'x', { 'content-type': 'text/plain' })).status, 415);
      assert.equal((await post(agent, `${url}/mutate`, '', {}, 'GET')).status, 405);
      const nope = await post(agent, `${url}/nope`, '', {}, 'GET');
      assert.deepEqual([nope.status, nope.json.error?.code], [404, 'ERR_ROUTE_NOT_FOUND']);
      const health = await post(agent, `${url}/healthz`, '', {}, 'GET');
      assert.equal(health.status, 200);
      assert.equal(health.json.ok, true);
      assert.equal(health.json.workloads?.lookups, 2);
      // GET /metrics: counts by result, nothing that names a pod, namespace or account; promtool reads it.
      const metrics = await new Promise<string>((resolve, reject) => {
        const u = new URL(`${url}/metrics`);
        const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET', agent, servername: SERVICE_NAME }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => (res.statusCode === 200 && /^text\/plain; version=0\.0\.4/.test(res.headers['content-type'] ?? '') ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`))));
        });
        req.on('error', reject);
        req.end();
      });
      const count = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
      assert.equal(count('airlock_webhook_admission_reviews_total{result="mutated"}'), 1);
      assert.equal(count('airlock_webhook_admission_reviews_total{result="unchanged"}'), 2);
      assert.equal(count('airlock_webhook_admission_reviews_total{result="invalid"}'), 4, 'a bad review, not JSON, too big, not application/json');
      assert.equal(count('airlock_webhook_admission_reviews_total{result="refused"}'), 0);
      assert.equal(count('airlock_webhook_admission_duration_seconds_count'), 7);
      assert.equal(count('airlock_webhook_workload_lookups_total{result="miss"}'), 2, "etl's worker and team-x's: the account named like no component is not looked up");
      assert.equal(count('airlock_webhook_workload_lookups_total{result="hit"}'), 0);
      assert.equal(count('airlock_webhook_workload_lookups_total{result="failure"}'), 0);
      assert.doesNotMatch(metrics, new RegExp(`${namespace}|team-x|serviceaccount`));
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
      assert.deepEqual(
        (lint.stdout + lint.stderr).trim().split('\n').filter((l) => l.startsWith('airlock')),
        [],
        'no lint finding on our own metrics',
      );
      assert.doesNotMatch(p.stderr() + p.stdout(), new RegExp(s.token), 'the API token is never printed');
    } finally {
      agent.destroy();
      p.kill();
      await p.exited;
    }
  });

  void it("the injected sidecar's command line runs the real agent: with the pod's token it writes the files the workload's env names", async () => {
    assert.ok(sidecar, 'the serve test ran first');
    const root = join(dir, 'pod');
    const tokenFile = join(dir, 'attest-token');
    const attestAudience = ((await s.api('GET', `/api/v1/clusters/${clusterId}`)).body as { attestationAudience: string }).attestationAudience;
    writeFileSync(tokenFile, await kube.token({ namespace, serviceAccount: `${namespace}-worker-serviceaccount`, audience: attestAudience, now: Date.now() }));
    // The pod's paths, moved under a temp dir: /var/run/secrets/airlock-attest/token and /var/run/secrets/airlock.
    const args = sidecar.args.map((a, i, all) => (all[i - 1] === '--kubernetes-token-file' ? tokenFile : all[i - 1] === '--dir' ? root : a));
    const r = await airlock([...args, '--once'], Object.fromEntries(sidecar.env.map((e) => [e.name, e.value])));
    assert.equal(r.code, 0, r.stderr);
    const rel = workloadEnv.AWS_WEB_IDENTITY_TOKEN_FILE.replace('/var/run/secrets/airlock/', '');
    const jwt = readFileSync(join(root, rel), 'utf8').trim();
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { sub: string; aud: string | string[] };
    assert.equal(claims.sub, `system:serviceaccount:${namespace}:${namespace}-worker-serviceaccount`);
    assert.deepEqual([claims.aud].flat(), ['sts.amazonaws.com']);
    assert.match(readFileSync(join(root, 'env'), 'utf8'), new RegExp(`export AWS_ROLE_ARN='${ROLE}'`));
    assert.equal(statSync(join(root, rel)).mode & 0o777, 0o644, 'readable by the pod\'s other users (no fsGroup)');
  });

  void it('serve checks the token and the cluster before it listens', async () => {
    const args = ['webhook', 'serve', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--port', '0', '--host', '127.0.0.1'];
    const badToken = await airlock([...args, '--cluster', 'prod-aws'], { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: 'alk_not_a_real_token' });
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /error: ERR_UNAUTHENTICATED: the Airlock server refused the workload lookup: the API token is not valid/);
    const badCluster = await airlock([...args, '--cluster', 'nope'], { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token });
    assert.equal(badCluster.code, 1);
    assert.match(badCluster.stderr, /error: ERR_NOT_FOUND: the Airlock server refused the workload lookup: no cluster with id or name "nope"\n {2}field: --cluster/);
  });

  void it('serve without an API token is refused before it listens (exit 2)', async () => {
    const r = await airlock(['webhook', 'serve', '--cluster', 'prod-aws', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--port', '0'], { AIRLOCK_URL: s.url });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ERR_UNAUTHENTICATED: no API token: set AIRLOCK_TOKEN/);
  });
});
