/**
 * The webhook's decisions, table-driven over golden fixtures in test/fixtures/webhook/<case>/:
 *   pod.json          the pod as the API server sends it (hand-written input)
 *   patch.json        the JSON patch the webhook answers (golden)
 *   pod.mutated.json  pod.json with the patch applied by an RFC 6902 applier (golden)
 * UPDATE_GOLDEN=1 rewrites the golden files; review the diff.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CloudDeliveryWire, WorkloadProfile } from '../../src/delivery/profile.ts';
import { TOKEN_MOUNT_PATH } from '../../src/delivery/webhook/annotations.ts';
import { planInjection, podRequests } from '../../src/delivery/webhook/injection.ts';
import { mutatePod } from '../../src/delivery/webhook/mutate.ts';
import { cachedWorkload, review, type AdmissionReviewOut, type WorkloadSource } from '../../src/delivery/webhook/review.ts';
import { DeliveryError } from '../../src/delivery/errors.ts';
import { SAMPLE_PROFILE } from '../helpers/fake-workload-server.ts';
import { matchGoldenJson } from '../helpers/golden.ts';
import { applyPatch, type Op } from '../helpers/json-patch.ts';

const DIR = fileURLToPath(new URL('../fixtures/webhook/', import.meta.url));
const SETTINGS = { agentImage: 'ghcr.io/airlock-dev/airlock:0.1.0', serverUrl: 'https://airlock.internal.example.com' };

const AWS = SAMPLE_PROFILE.clouds[0];
const GCP: CloudDeliveryWire = {
  cloud: 'gcp',
  audience: '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/prod/providers/eks',
  acceptedAudiences: ['//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/prod/providers/eks'],
  serviceAccountEmail: 'lake-reader@my-proj.iam.gserviceaccount.com',
  projectId: 'my-proj',
  credentialConfig: {
    type: 'external_account',
    audience: '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/prod/providers/eks',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: 'https://sts.googleapis.com/v1/token',
    service_account_impersonation_url: 'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/lake-reader@my-proj.iam.gserviceaccount.com:generateAccessToken',
  },
};
const EKS_ISSUER = 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const kube = (...clouds: CloudDeliveryWire[]): WorkloadProfile => ({
  ...SAMPLE_PROFILE,
  cluster: { ...SAMPLE_PROFILE.cluster, issuerMode: 'kubernetes' },
  issuer: EKS_ISSUER,
  tokenEndpoint: null,
  clouds,
  audiences: [...clouds.map((c) => c.audience), ...SAMPLE_PROFILE.customAudiences],
});
const PROFILES = { airlock: SAMPLE_PROFILE, kubernetes: kube(AWS), 'kubernetes-gcp': kube(AWS, GCP) } as const;

function sourceOf(profile: WorkloadProfile): WorkloadSource & { lookups: number } {
  const w = cachedWorkload(profile, SETTINGS);
  const s = {
    lookups: 0,
    get(namespace: string, serviceAccount: string) {
      s.lookups++;
      return namespace === profile.deployment.namespace && serviceAccount === profile.serviceAccount ? w : undefined;
    },
  };
  return s;
}

const reviewOf = (pod: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'c2a6a3a4-0b5e-4b8e-9f1c-2f6f1b7f0a11',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'quasar-etl-1234',
    operation: 'CREATE',
    object: pod,
    ...extra,
  },
});

const decode = (r: AdmissionReviewOut): Op[] => (r.response.patch ? (JSON.parse(Buffer.from(r.response.patch, 'base64').toString('utf8')) as Op[]) : []);
interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  args: string[];
  restartPolicy?: string;
  securityContext: { runAsUser?: number; runAsNonRoot?: boolean };
}
interface Source {
  serviceAccountToken: { audience: string; expirationSeconds: number; path: string };
  downwardAPI?: unknown;
}
interface Volume {
  name: string;
  emptyDir?: unknown;
  projected: { sources: Source[] };
}
interface Pod {
  spec: { containers: Container[]; initContainers?: Container[]; volumes?: Volume[] };
  metadata: { annotations?: Record<string, string> };
}
const volume = (pod: Pod, name: string): Volume => pod.spec.volumes!.find((v) => v.name === name)!;
const envOf = (c: { env?: { name: string; value?: string }[] }) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '(valueFrom)']));
const mounts = (c: { volumeMounts?: { mountPath: string }[] }) => (c.volumeMounts ?? []).map((m) => m.mountPath);

interface Case {
  name: string;
  fixture: string;
  profile: keyof typeof PROFILES;
  /** false: admitted without a patch (no golden files). */
  patched: boolean;
  warnings?: RegExp[];
  check?: (pod: Pod) => void;
}

const cases: Case[] = [
  {
    name: 'issuer mode airlock: the agent as a native sidecar, an in-memory volume, the env of AWS and Azure',
    fixture: 'airlock-basic',
    profile: 'airlock',
    patched: true,
    check: (pod) => {
      const agent = pod.spec.initContainers![0];
      assert.equal(agent.name, 'airlock-agent');
      assert.equal(agent.restartPolicy, 'Always');
      assert.deepEqual(agent.args.slice(0, 4), ['agent', '--cluster', SAMPLE_PROFILE.cluster.id, '--kubernetes-token-file']);
      assert.equal(agent.args[agent.args.indexOf('--file-mode') + 1], '0644');
      assert.equal(agent.securityContext.runAsUser, 65532);
      assert.deepEqual(volume(pod, 'airlock-token').emptyDir, { medium: 'Memory', sizeLimit: '1Mi' });
      const attest = volume(pod, 'airlock-attest').projected.sources[0].serviceAccountToken;
      assert.equal(attest.audience, SAMPLE_PROFILE.attestationAudience);
      const env = envOf(pod.spec.containers[0]);
      assert.equal(env.AWS_ROLE_ARN, 'arn:aws:iam::123456789012:role/etl-reader');
      assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, `${TOKEN_MOUNT_PATH}/tokens/aws/token`);
      assert.equal(env.AWS_ROLE_SESSION_NAME, 'etl-worker');
      assert.equal(env.AWS_REGION, 'us-east-1');
      assert.equal(env.AZURE_FEDERATED_TOKEN_FILE, `${TOKEN_MOUNT_PATH}/tokens/azure/token`);
      assert.equal(env.AZURE_AUTHORITY_HOST, 'https://login.microsoftonline.com/');
      assert.equal(env.GOOGLE_APPLICATION_CREDENTIALS, undefined, 'no variable of a cloud the identity is not in');
      assert.deepEqual(mounts(pod.spec.containers[0]), [TOKEN_MOUNT_PATH]);
      assert.equal(pod.spec.containers[0].volumeMounts?.[0]?.readOnly, true);
    },
  },
  {
    name: 'issuer mode kubernetes: projected tokens with the audience and expirationSeconds, no sidecar',
    fixture: 'kubernetes-basic',
    profile: 'kubernetes',
    patched: true,
    check: (pod) => {
      assert.equal(pod.spec.initContainers, undefined);
      const src = volume(pod, 'airlock-token').projected.sources;
      assert.deepEqual(src, [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 3600, path: 'tokens/aws/token' } }]);
      assert.equal(envOf(pod.spec.containers[0]).AWS_WEB_IDENTITY_TOKEN_FILE, `${TOKEN_MOUNT_PATH}/tokens/aws/token`);
    },
  },
  {
    name: 'issuer mode kubernetes with GCP: the credential config is projected from an annotation by the downward API',
    fixture: 'kubernetes-gcp',
    profile: 'kubernetes-gcp',
    patched: true,
    check: (pod) => {
      const cfg = JSON.parse(pod.metadata.annotations!['airlock.dev/gcp-credential-config']) as { credential_source: { file: string } };
      assert.equal(cfg.credential_source.file, `${TOKEN_MOUNT_PATH}/tokens/gcp/token`);
      const src = volume(pod, 'airlock-token').projected.sources;
      assert.deepEqual(src[2], { downwardAPI: { items: [{ path: 'gcp/credential-config.json', fieldRef: { fieldPath: "metadata.annotations['airlock.dev/gcp-credential-config']" } }] } });
      assert.equal(envOf(pod.spec.containers[0]).GOOGLE_APPLICATION_CREDENTIALS, `${TOKEN_MOUNT_PATH}/gcp/credential-config.json`);
      assert.equal(pod.spec.volumes![0].name, 'logs', 'existing volumes are kept, ours appended');
    },
  },
  {
    name: 'pod annotations: a custom audience and a longer expiration',
    fixture: 'kubernetes-annotations',
    profile: 'kubernetes',
    patched: true,
    check: (pod) => {
      const src = volume(pod, 'airlock-token').projected.sources;
      assert.deepEqual(
        src.map((s) => [s.serviceAccountToken.audience, s.serviceAccountToken.expirationSeconds, s.serviceAccountToken.path]),
        [
          ['sts.amazonaws.com', 7200, 'tokens/aws/token'],
          ['vault.example.com', 7200, 'tokens/custom/0/token'],
        ],
      );
    },
  },
  {
    name: 'skip-containers: the named container gets neither env nor mount',
    fixture: 'skip-containers',
    profile: 'airlock',
    patched: true,
    check: (pod) => {
      assert.ok(envOf(pod.spec.containers[0]).AWS_ROLE_ARN);
      assert.equal(pod.spec.containers[1].env, undefined);
      assert.equal(pod.spec.containers[1].volumeMounts, undefined);
    },
  },
  {
    name: "existing env: the user's values are kept, and static keys that would win are reported",
    fixture: 'existing-env',
    profile: 'airlock',
    patched: true,
    warnings: [/AWS_ACCESS_KEY_ID set in the pod take precedence/],
    check: (pod) => {
      const c = pod.spec.containers[0];
      const env = envOf(c);
      assert.equal(env.AWS_REGION, 'eu-west-1');
      assert.equal(env.AZURE_CLIENT_ID, '11111111-2222-3333-4444-555555555555');
      assert.equal(env.AWS_ACCESS_KEY_ID, '(valueFrom)');
      assert.equal(c.env!.filter((e) => e.name === 'AWS_REGION').length, 1, 'never a second entry of a name');
      assert.equal(env.AWS_DEFAULT_REGION, 'us-east-1', 'names the user did not set are added');
      assert.deepEqual(mounts(c), ['/usr/local/airflow/dags', TOKEN_MOUNT_PATH]);
    },
  },
  {
    name: 'non-root with an fsGroup: the agent runs as the pod user and writes 0640 files for the fsGroup',
    fixture: 'non-root',
    profile: 'airlock',
    patched: true,
    check: (pod) => {
      const agent = pod.spec.initContainers![0];
      assert.equal(agent.args[agent.args.indexOf('--file-mode') + 1], '0640');
      assert.equal(agent.securityContext.runAsUser, undefined, 'inherits runAsUser 50000');
      assert.equal(agent.securityContext.runAsNonRoot, true);
    },
  },
  {
    name: 'init containers get the env too; the sidecar goes first so it runs before them',
    fixture: 'init-containers',
    profile: 'airlock',
    patched: true,
    check: (pod) => {
      assert.deepEqual(
        pod.spec.initContainers!.map((c) => c.name),
        ['airlock-agent', 'wait-for-db', 'skip-me'],
      );
      assert.ok(envOf(pod.spec.initContainers![1]).AWS_ROLE_ARN);
      assert.equal(pod.spec.initContainers![2].env, undefined);
    },
  },
  { name: "a service account that is no Deployment component's: admitted, no patch, no lookup", fixture: 'non-deployment-sa', profile: 'airlock', patched: false },
  { name: 'the opt-out label: admitted, no patch', fixture: 'opt-out-label', profile: 'airlock', patched: false },
  { name: 'a pod already injected: no second patch', fixture: 'already-injected', profile: 'airlock', patched: false },
];

void describe('webhook review: golden fixtures', () => {
  for (const c of cases) {
    void it(c.name, async () => {
      const pod = JSON.parse(readFileSync(join(DIR, c.fixture, 'pod.json'), 'utf8')) as Pod;
      const source = sourceOf(PROFILES[c.profile]);
      const r = await review(reviewOf(pod), source, SETTINGS);
      assert.equal(r.apiVersion, 'admission.k8s.io/v1');
      assert.equal(r.kind, 'AdmissionReview');
      assert.equal(r.response.uid, 'c2a6a3a4-0b5e-4b8e-9f1c-2f6f1b7f0a11');
      assert.equal(r.response.allowed, true);
      for (const w of c.warnings ?? []) assert.ok(r.response.warnings?.some((x) => w.test(x)), `a warning matching ${w}: ${JSON.stringify(r.response.warnings)}`);
      if (!c.patched) {
        assert.equal(r.response.patch, undefined);
        assert.equal(r.response.patchType, undefined);
        if (c.fixture === 'non-deployment-sa') assert.equal(source.lookups, 0);
        return;
      }
      assert.equal(r.response.patchType, 'JSONPatch');
      const patch = decode(r);
      assert.ok(patch.every((o) => o.op === 'add'));
      matchGoldenJson(join(DIR, c.fixture, 'patch.json'), patch);
      // The wire form is concatenated from pre-serialised values; it must say exactly what the op objects say.
      const direct = mutatePod(pod, planInjection(PROFILES[c.profile], SETTINGS, podRequests(pod.metadata.annotations)));
      assert.deepEqual(direct.patch, patch);
      assert.deepEqual(JSON.parse(direct.patchJson), direct.patch);
      const mutated = applyPatch(pod, patch);
      matchGoldenJson(join(DIR, c.fixture, 'pod.mutated.json'), mutated);
      c.check?.(mutated);
      // Reviewing the mutated pod again changes nothing (reinvocation, or a pod re-created from its own YAML).
      const again = await review(reviewOf(mutated), source, SETTINGS);
      assert.equal(again.response.patch, undefined);
    });
  }
});

void describe('webhook review: refusals and pass-throughs', () => {
  const pod = () => JSON.parse(readFileSync(join(DIR, 'airlock-basic', 'pod.json'), 'utf8')) as Pod;
  const rows: { name: string; body: () => unknown; source?: WorkloadSource; allowed: boolean; code?: number; message?: RegExp; warning?: RegExp }[] = [
    {
      name: 'a malformed token-expiration annotation refuses the pod with 400 and names the annotation',
      body: () => reviewOf({ ...pod(), metadata: { ...pod().metadata, annotations: { 'airlock.dev/token-expiration': '60' } } }),
      allowed: false,
      code: 400,
      message: /airlock\.dev\/token-expiration must be a whole number of seconds from 600 to 86400/,
    },
    {
      name: 'an audience the workload may not have refuses the pod with 400',
      body: () => reviewOf({ ...pod(), metadata: { ...pod().metadata, annotations: { 'airlock.dev/audiences': 'https://evil.example.com' } } }),
      allowed: false,
      code: 400,
      message: /audience "https:\/\/evil\.example\.com" is not one this workload may ask for/,
    },
    {
      name: 'a lookup that fails refuses the pod with 503 (never admitted without its identity)',
      body: () => reviewOf(pod()),
      source: {
        get() {
          return Promise.reject(new DeliveryError('ERR_UNREACHABLE', 'cannot reach the Airlock server at https://airlock.internal.example.com (ECONNREFUSED)'));
        },
      },
      allowed: false,
      code: 503,
      message: /cannot look up service account quasar-etl-1234\/quasar-etl-1234-worker-serviceaccount \(ERR_UNREACHABLE/,
    },
    {
      name: 'a Deployment without identity: admitted unchanged, with a warning saying why',
      body: () => reviewOf(pod()),
      source: sourceOf({ ...SAMPLE_PROFILE, clouds: [], audiences: ['vault.example.com'], identityReason: 'the Deployment has no workload identity in force' }),
      allowed: true,
      warning: /has no cloud identity to deliver: the Deployment has no workload identity in force; nothing injected/,
    },
    { name: 'an UPDATE is admitted unchanged', body: () => reviewOf(pod(), { operation: 'UPDATE' }), allowed: true },
    { name: 'a subresource is admitted unchanged', body: () => reviewOf(pod(), { subResource: 'ephemeralcontainers' }), allowed: true },
    { name: 'another kind is admitted unchanged', body: () => reviewOf(pod(), { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), allowed: true },
    { name: 'a dry run is reviewed like any request (no side effects either way)', body: () => reviewOf(pod(), { dryRun: true }), allowed: true },
  ];
  for (const row of rows) {
    void it(row.name, async () => {
      const r = await review(row.body(), row.source ?? sourceOf(SAMPLE_PROFILE), SETTINGS);
      assert.equal(r.response.allowed, row.allowed);
      if (row.code !== undefined) assert.equal(r.response.status?.code, row.code);
      if (row.message) assert.match(r.response.status?.message ?? '', row.message);
      if (row.warning) assert.ok(r.response.warnings?.some((w) => row.warning!.test(w)), JSON.stringify(r.response.warnings));
      if (!row.allowed) assert.equal(r.response.patch, undefined);
    });
  }

  const malformed: { name: string; body: unknown; field: string }[] = [
    { name: 'not an object', body: 'hello', field: 'body' },
    { name: 'an AdmissionReview v1beta1', body: { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }, field: 'apiVersion' },
    { name: 'another kind', body: { apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }, field: 'kind' },
    { name: 'no request', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, field: 'request' },
    { name: 'no uid', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } }, field: 'request.uid' },
    { name: 'an object that is an array', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', object: [] } }, field: 'request.object' },
  ];
  for (const m of malformed) {
    void it(`a malformed envelope (${m.name}) is ERR_VALIDATION naming ${m.field}`, async () => {
      await assert.rejects(
        async () => review(m.body, sourceOf(SAMPLE_PROFILE), SETTINGS),
        (e: unknown) => e instanceof DeliveryError && e.code === 'ERR_VALIDATION' && e.field === m.field && e.example !== undefined,
      );
    });
  }
});
