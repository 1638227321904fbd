import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { matchGolden, updatingGolden } from '../../../test/helpers/golden.ts';
import { parse } from '@cdktf/hcl2json';
import { componentIdentities } from '../../deployments/components.ts';
import { AppError } from '../../errors/index.ts';
import { applyMapping, compileMapping } from '../../emulators/gcp/attribute-mapping.ts';
import { evaluateCondition, parseCel } from '../../emulators/gcp/cel.ts';
import type { SetupInput, SetupResult } from '../types.ts';
import {
  ATTRIBUTE_MAPPING,
  attributeMappingFlag,
  clusterCondition,
  deriveId,
  gcpProvider,
  GCP_PLACEHOLDERS,
  isValidPoolOrProviderId,
  namespaceCondition,
  planGcpSetup,
  poolIdForCluster,
  providerIdForNamespace,
  quoteWord,
  shellVar,
  TERRAFORM_PLACEHOLDERS,
  WILDCARD_PROVIDER_ID,
} from './index.ts';
import { tfJsonString } from '../../../test/helpers/terraform.ts';

// --- Inputs ----------------------------------------------------------------------------------------

const NS = 'cosmic-nebula-4821';
const ISSUER = 'https://airlock.example.com/clusters/cl_7h2k9q';
const CUSTOMER_SA = 'lake-loader@data-lake-prod.iam.gserviceaccount.com';
const CUSTOMER_NUMBER = '498127360554';
const PLATFORM_PROJECT = 'airlock-platform';
const DEFAULT_SA = `airlock-${NS}@${PLATFORM_PROJECT}.iam.gserviceaccount.com`;
const TARGET_SA = 'bq-reader@analytics-prod.iam.gserviceaccount.com';

type Route = 'attach' | 'impersonation' | 'direct-grant';

interface Case {
  route: Route;
  clusterType: 'standard' | 'dedicated';
  wildcard: boolean;
  /** attach: whether the customer gave the project number; default routes: whether the target is given. */
  known: boolean;
}

function inputFor(c: Case, over: { issuer?: string; namespace?: string; clusterName?: string; deploymentId?: string } = {}): SetupInput {
  const namespace = over.namespace ?? NS;
  const base = {
    deployment: { id: over.deploymentId ?? 'dep_01hv3k', name: 'Lake loader', namespace, runtimeVersion: '12.1.0' },
    cluster: { id: 'cl_7h2k9q', name: over.clusterName ?? 'prod-gcp', cloud: 'gcp' as const, type: c.clusterType, region: 'us-central1', oidcIssuerUrl: over.issuer ?? ISSUER },
    components: componentIdentities(namespace),
    wildcard: c.wildcard,
  };
  if (c.route === 'attach') {
    return {
      ...base,
      identity: { mode: 'customer-managed', identity: { cloud: 'gcp', serviceAccountEmail: CUSTOMER_SA, projectNumber: c.known ? CUSTOMER_NUMBER : undefined } },
    };
  }
  const identity = { mode: 'default' as const, identity: { cloud: 'gcp' as const, projectId: PLATFORM_PROJECT, serviceAccountEmail: `airlock-${namespace}@${PLATFORM_PROJECT}.iam.gserviceaccount.com`, accountId: `airlock-${namespace}` } };
  if (c.route === 'impersonation') {
    return { ...base, identity, target: c.known ? { gcpRoute: 'impersonation', gcpServiceAccount: TARGET_SA } : { gcpRoute: 'impersonation' } };
  }
  return { ...base, identity, target: c.known ? { gcpRoute: 'direct-grant', gcpProjectId: 'analytics-prod', gcpRole: 'roles/bigquery.dataViewer' } : undefined };
}

const CASES: Case[] = [];
for (const route of ['attach', 'impersonation', 'direct-grant'] as const) {
  for (const clusterType of ['standard', 'dedicated'] as const) {
    for (const wildcard of clusterType === 'dedicated' ? [false, true] : [false]) {
      for (const known of [true, false]) CASES.push({ route, clusterType, wildcard, known });
    }
  }
}
const caseName = (c: Case) => `${c.route}, ${c.clusterType}${c.wildcard ? ', wildcard' : ''}, ${c.known ? 'all values known' : 'with placeholders'}`;

// --- Helpers ---------------------------------------------------------------------------------------

const POOL_ID = /[a-z][a-z0-9-]{2,30}[a-z0-9]/.source;
const NUMBER = /(?:[1-9][0-9]*|\$\{PROJECT_NUMBER\}|\$\{PLATFORM_PROJECT_NUMBER\})/.source;
const POOL_PATH = `projects/${NUMBER}/locations/global/workloadIdentityPools/${POOL_ID}`;
const AUDIENCE_FORMAT = new RegExp(`^//iam\\.googleapis\\.com/${POOL_PATH}/providers/${POOL_ID}$`);
const PRINCIPAL_FORMAT = new RegExp(`^principal://iam\\.googleapis\\.com/${POOL_PATH}/subject/system:serviceaccount:[a-z0-9-]+:[a-z0-9-]+$`);
const POOL_SET_FORMAT = new RegExp(`^principalSet://iam\\.googleapis\\.com/${POOL_PATH}/\\*$`);

/** Every `${NAME}` in a JSON value. */
function placeholdersIn(v: unknown): Set<string> {
  return new Set([...JSON.stringify(v).matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!));
}

/** Seeded PRNG (mulberry32): the property tests are random but repeatable. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random DNS-1123 label of the given length. */
function dnsLabel(next: () => number, length: number): string {
  const alnum = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const mid = `${alnum}-`;
  let s = '';
  for (let i = 0; i < length; i++) {
    const set = i === 0 || i === length - 1 ? alnum : mid;
    s += set[Math.floor(next() * set.length)];
  }
  return s;
}

/** Claims as Airlock's minter writes them (src/issuer/minter.ts). */
function claims(namespace: string, serviceAccount: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    aud: ['//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q'],
    iat: 1_700_000_000,
    exp: 1_700_003_600,
    'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: '6a1f0d2e-0000-4000-8000-000000000000' } },
    ...extra,
  };
}

/**
 * Runs an attribute condition the way Google (and the sandbox) does: map the claims with the
 * provider's mapping, then evaluate the CEL condition on assertion/attribute/google. Uses the
 * sandbox's strict CEL subset, which refuses what it cannot evaluate exactly as Google would.
 */
function admits(condition: string, tokenClaims: Record<string, unknown>): boolean {
  const compiled = compileMapping({ ...ATTRIBUTE_MAPPING });
  assert.deepEqual(compiled.problems, []);
  const mapped = applyMapping(compiled.mapping!, tokenClaims);
  return evaluateCondition(parseCel(condition), { assertion: tokenClaims, attribute: mapped.attributes, google: mapped.google }).pass;
}

const RECORD = '\x1e';
const FIELD = '\x1f';
const FAKE = { PROJECT_NUMBER: '111122223333', PLATFORM_PROJECT_NUMBER: '444455556666', TARGET_SERVICE_ACCOUNT: 'env-target@env-proj.iam.gserviceaccount.com', GOOGLE_CLOUD_PROJECT: 'env-proj', SECRET_MANAGER_PROJECT: 'env-secrets' };
const substitute = (s: string) => s.replace(/\$\{([A-Z_]+)\}/g, (_, n: string) => FAKE[n as keyof typeof FAKE] ?? `\${${n}}`);

/**
 * Runs every command of a setup in bash, with gcloud, npx and airflow replaced by functions that
 * record their arguments, and returns one argv per invocation. `set -u` makes any variable the
 * commands reference but setup did not declare a hard failure; `describe` answers "not found" so
 * the create branch of each `describe || create` runs too.
 */
function runCommands(result: SetupResult, cwd: string): string[][] {
  const script = [
    'set -eu',
    `rec() { printf '%s' "$1"; shift; for a in "$@"; do printf '${FIELD}%s' "$a"; done; printf '${RECORD}'; }`,
    // `gcloud projects describe <id>` answers the fake number of that project.
    `gcloud() { if [ "$1" = projects ] && [ "$2" = describe ]; then if [ "$3" = ${PLATFORM_PROJECT} ]; then printf '%s' ${FAKE.PLATFORM_PROJECT_NUMBER}; else printf '%s' ${FAKE.PROJECT_NUMBER}; fi; return 0; fi; rec gcloud "$@"; for a in "$@"; do [ "$a" = describe ] && return 1; done; return 0; }`,
    'npx() { rec npx "$@"; }',
    'airflow() { rec airflow "$@"; }',
    // Placeholders without a lookup command are the user's to set; the lookups set their own.
    ...Object.entries(FAKE)
      .filter(([k]) => !k.endsWith('PROJECT_NUMBER'))
      .map(([k, v]) => `${k}=${quoteWord(v)}`),
    ...result.steps.flatMap((s) => s.commands),
    // What the secrets-backend step exported, as one more record.
    'rec env "${AIRFLOW__SECRETS__BACKEND-}" "${AIRFLOW__SECRETS__BACKEND_KWARGS-}"',
  ].join('\n');
  const r = spawnSync('bash', ['--noprofile', '--norc', '-c', script], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  assert.equal(r.status, 0, `bash failed: ${r.stderr}`);
  return r.stdout
    .split(RECORD)
    .filter(Boolean)
    .map((rec) => rec.split(FIELD));
}

const TF_REFS = new Map(Object.entries(TERRAFORM_PLACEHOLDERS).map(([name, parts]) => [parts!.join('.'), name]));

/**
 * Resolves a parsed Terraform string back into setup's JSON form: `${format("…%s…", ref, …)}`
 * becomes the text with each reference replaced by the placeholder it stands for.
 */
function fromTerraform(s: string): string {
  const m = /^\$\{format\(("(?:[^"\\]|\\.)*"), ([^)]*)\)\}$/s.exec(s);
  if (!m) return tfJsonString(s);
  const names = m[2]!.split(', ').map((r) => TF_REFS.get(r) ?? assert.fail(`unexpected reference ${r}`));
  let i = 0;
  return tfJsonString(JSON.parse(m[1]!) as string).replace(/%%|%s/g, (t) => (t === '%%' ? '%' : `\${${names[i++]}}`));
}

function fromTerraformDeep(v: unknown): unknown {
  if (typeof v === 'string') return fromTerraform(v);
  if (Array.isArray(v)) return v.map(fromTerraformDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromTerraformDeep(x)]));
  return v;
}

type Parsed = {
  resource?: Record<string, Record<string, Record<string, unknown>[]>>;
  locals?: Record<string, unknown>[];
  output?: Record<string, { value: unknown }[]>;
  variable?: Record<string, unknown[]>;
  data?: Record<string, Record<string, Record<string, unknown>[]>>;
};

function resources(p: Parsed, type: string): Record<string, unknown>[] {
  return Object.values(p.resource?.[type] ?? {}).flat();
}

// --- Tests -----------------------------------------------------------------------------------------

describe('GCP setup: routes × cluster types × wildcard × known values', () => {
  for (const c of CASES) {
    it(caseName(c), () => {
      const input = inputFor(c);
      const r = gcpProvider.setup(input);
      const plan = planGcpSetup(input);
      const subjects = input.components.map((x) => x.subject);

      assert.equal(r.cloud, 'gcp');
      assert.equal(r.mode, c.route === 'attach' ? 'customer-managed' : 'default');
      assert.equal(r.gcp?.route, c.route);
      assert.equal(r.issuerUrl, ISSUER);
      assert.deepEqual(r.subjects, subjects, 'subjects always list every component, wildcard or not');

      // Members: one principal per component subject, or the pool's principalSet for wildcard.
      const wip = r.gcp!.workloadIdentityPool!;
      const poolPath = `projects/${wip.projectNumber}/locations/global/workloadIdentityPools/${wip.poolId}`;
      assert.equal(wip.resourceName, poolPath);
      const federationMembers = plan.federation.bindings.map((b) => b.member);
      if (c.route === 'attach' && c.wildcard) {
        assert.deepEqual(r.gcp!.members, [`principalSet://iam.googleapis.com/${poolPath}/*`]);
        assert.match(r.gcp!.members[0]!, POOL_SET_FORMAT);
      } else {
        assert.equal(federationMembers.length, subjects.length);
        assert.deepEqual(
          federationMembers,
          subjects.map((s) => `principal://iam.googleapis.com/${poolPath}/subject/${s}`),
        );
        for (const m of federationMembers) assert.match(m, PRINCIPAL_FORMAT);
      }
      if (c.route === 'attach') assert.deepEqual(r.gcp!.members, federationMembers);
      else assert.deepEqual(r.gcp!.members, [`serviceAccount:${DEFAULT_SA}`]);
      assert.ok(plan.federation.bindings.every((b) => b.role === 'roles/iam.workloadIdentityUser'));

      // Pool, provider and audience.
      assert.ok(isValidPoolOrProviderId(wip.poolId) && isValidPoolOrProviderId(wip.providerId));
      assert.equal(wip.poolId, 'airlock-prod-gcp');
      assert.equal(wip.providerId, c.route === 'attach' && c.wildcard ? WILDCARD_PROVIDER_ID : `ns-${NS}`);
      assert.equal(wip.projectId, c.route === 'attach' ? 'data-lake-prod' : PLATFORM_PROJECT);
      assert.equal(r.audience, `//iam.googleapis.com/${poolPath}/providers/${wip.providerId}`);
      assert.match(r.audience, AUDIENCE_FORMAT);
      if (c.route === 'attach') assert.equal(wip.projectNumber, c.known ? CUSTOMER_NUMBER : '${PROJECT_NUMBER}');
      else assert.equal(wip.projectNumber, '${PLATFORM_PROJECT_NUMBER}');

      // Credential configuration.
      const cfg = r.gcp!.credentialConfig!;
      const sa = c.route === 'attach' ? CUSTOMER_SA : DEFAULT_SA;
      assert.deepEqual(cfg, {
        universe_domain: 'googleapis.com',
        type: 'external_account',
        audience: r.audience,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: 'https://sts.googleapis.com/v1/token',
        credential_source: { file: '/var/run/secrets/airlock/tokens/gcp/token', format: { type: 'text' } },
        service_account_impersonation_url: `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`,
      });
      if (c.route === 'attach' && c.known) assert.deepEqual([...placeholdersIn(cfg)], [], 'no placeholders once the project number is known');

      // Connection and environment.
      assert.equal(r.connection.conn_type, 'google_cloud_platform');
      if (c.route === 'attach') {
        assert.deepEqual(r.connection.extra, { credential_config_file: cfg, project: 'data-lake-prod' });
      } else if (c.route === 'impersonation') {
        assert.deepEqual(r.connection.extra, c.known ? { impersonation_chain: TARGET_SA, project: 'analytics-prod' } : { impersonation_chain: '${TARGET_SERVICE_ACCOUNT}' });
      } else {
        assert.deepEqual(r.connection.extra, { project: c.known ? 'analytics-prod' : '${GOOGLE_CLOUD_PROJECT}' });
      }
      if (c.route === 'direct-grant') {
        assert.equal(r.environment, undefined);
      } else {
        // Only the kwargs: inert until the user names the backend, so applying environment never switches it on.
        assert.deepEqual(Object.keys(r.environment!), ['AIRFLOW__SECRETS__BACKEND_KWARGS']);
        const kwargs = JSON.parse(r.environment!.AIRFLOW__SECRETS__BACKEND_KWARGS!);
        assert.equal(kwargs.connections_prefix, 'airflow-connections');
        assert.equal(kwargs.variables_prefix, 'airflow-variables');
        if (c.route === 'impersonation') {
          assert.deepEqual(Object.keys(kwargs), ['connections_prefix', 'variables_prefix', 'project_id', 'impersonation_chain']);
          assert.equal(kwargs.impersonation_chain, c.known ? TARGET_SA : '${TARGET_SERVICE_ACCOUNT}');
          assert.equal(kwargs.project_id, c.known ? 'analytics-prod' : '${SECRET_MANAGER_PROJECT}');
        } else {
          assert.deepEqual(kwargs.gcp_credential_config_file, cfg);
          assert.equal(kwargs.project_id, 'data-lake-prod');
        }
      }

      // Customer-side grants of the default routes.
      if (c.route === 'impersonation') {
        assert.deepEqual(plan.grants, [
          { resource: 'serviceAccount', serviceAccountEmail: c.known ? TARGET_SA : '${TARGET_SERVICE_ACCOUNT}', role: 'roles/iam.serviceAccountTokenCreator', member: `serviceAccount:${DEFAULT_SA}`, label: 'token_creator' },
        ]);
      } else if (c.route === 'direct-grant') {
        assert.deepEqual(plan.grants, [
          { resource: 'project', projectId: c.known ? 'analytics-prod' : '${GOOGLE_CLOUD_PROJECT}', role: c.known ? 'roles/bigquery.dataViewer' : 'roles/viewer', member: `serviceAccount:${DEFAULT_SA}`, label: 'direct_grant' },
        ]);
      }

      // Every placeholder used is declared, and every declared one is used.
      const declared = new Set(r.placeholders.map((p) => p.name));
      assert.deepEqual(placeholdersIn({ ...r, placeholders: [] }), declared);
      for (const p of r.placeholders) assert.ok((GCP_PLACEHOLDERS as readonly string[]).includes(p.name) && p.description.length > 0);
      const numberVar = c.route === 'attach' ? 'PROJECT_NUMBER' : 'PLATFORM_PROJECT_NUMBER';
      const lookup = r.placeholders.find((p) => p.name === numberVar);
      if (c.route === 'attach' && c.known) assert.equal(lookup, undefined);
      else assert.match(lookup!.description, /gcloud projects describe [a-z0-9-]+ --format='value\(projectNumber\)'/);
    });
  }
});

describe('pool and provider IDs', () => {
  const next = rng(20240611);
  const clusterNames = [
    'prod-gcp',
    'a',
    'gcp',
    'gcp-east',
    '0-starts-with-digit',
    'x'.repeat(24),
    'x'.repeat(25),
    'a'.repeat(63),
    `${'a-'.repeat(31)}a`,
    `a${'-'.repeat(61)}a`,
    '9'.repeat(63),
    ...Array.from({ length: 400 }, () => dnsLabel(next, 1 + Math.floor(next() * 63))),
  ];

  it('are always valid for Google, whatever the cluster name or namespace (63-character names included)', () => {
    for (const name of clusterNames) {
      for (const id of [poolIdForCluster(name), providerIdForNamespace(name)]) {
        assert.ok(isValidPoolOrProviderId(id), `${JSON.stringify(id)} from ${JSON.stringify(name)}`);
        assert.ok(id.length >= 4 && id.length <= 32 && /^[a-z][a-z0-9-]*[a-z0-9]$/.test(id) && !id.startsWith('gcp-'), id);
      }
    }
  });

  it('are deterministic, readable when the name fits, and distinct for distinct names', () => {
    assert.equal(poolIdForCluster('prod-gcp'), 'airlock-prod-gcp');
    assert.equal(providerIdForNamespace('etl'), 'ns-etl');
    assert.equal(poolIdForCluster('x'.repeat(24)), `airlock-${'x'.repeat(24)}`);
    assert.match(poolIdForCluster('x'.repeat(25)), /^airlock-x{15}-[0-9a-f]{8}$/);
    assert.match(poolIdForCluster('a'.repeat(63)), /^airlock-a{15}-[0-9a-f]{8}$/);
    assert.notEqual(poolIdForCluster(`${'a'.repeat(40)}1`), poolIdForCluster(`${'a'.repeat(40)}2`), 'same head, different tail');
    const seen = new Map<string, string>();
    for (const name of new Set(clusterNames)) {
      const id = poolIdForCluster(name);
      assert.equal(poolIdForCluster(name), id);
      assert.equal(seen.get(id) ?? name, name, `${name} and ${seen.get(id)} both map to ${id}`);
      seen.set(id, name);
    }
  });

  it('never use the reserved gcp- prefix or other prefixes Google refuses', () => {
    assert.equal(isValidPoolOrProviderId('gcp-pool'), false);
    assert.equal(isValidPoolOrProviderId('abc'), false);
    assert.equal(isValidPoolOrProviderId('1pool'), false);
    assert.equal(isValidPoolOrProviderId('pool-'), false);
    assert.match(deriveId('ns-', '--'), /^ns-[0-9a-f]{8}$/);
  });

  it('setup accepts a 63-character cluster name', () => {
    const r = gcpProvider.setup(inputFor({ route: 'attach', clusterType: 'standard', wildcard: false, known: true }, { clusterName: 'c'.repeat(63) }));
    assert.ok(isValidPoolOrProviderId(r.gcp!.workloadIdentityPool!.poolId));
    assert.match(r.audience, AUDIENCE_FORMAT);
  });
});

describe('attribute mapping and condition', () => {
  const sa = (ns: string) => `${ns}-worker-serviceaccount`;

  it('maps the subject and the namespace from Airlock tokens', () => {
    const compiled = compileMapping({ ...ATTRIBUTE_MAPPING });
    assert.deepEqual(compiled.problems, []);
    const mapped = applyMapping(compiled.mapping!, claims(NS, sa(NS)));
    assert.equal(mapped.subject, `system:serviceaccount:${NS}:${sa(NS)}`);
    assert.deepEqual(mapped.attributes, { namespace: NS, service_account_name: sa(NS) });
  });

  it("the Deployment's provider admits its own namespace and nothing else", () => {
    const cond = planGcpSetup(inputFor({ route: 'attach', clusterType: 'standard', wildcard: false, known: true })).federation.attributeCondition;
    assert.equal(cond, namespaceCondition(NS));
    for (const c of componentIdentities(NS)) assert.equal(admits(cond, claims(NS, c.serviceAccount)), true, c.serviceAccount);
    assert.equal(admits(cond, claims('other-ns', sa('other-ns'))), false, 'another namespace');
    assert.equal(admits(cond, claims(`${NS}-2`, sa(`${NS}-2`))), false, 'a namespace that merely starts with ours');
    assert.equal(admits(cond, claims(NS.slice(0, -1), sa(NS.slice(0, -1)))), false, 'a prefix of ours');
    const noK8s = claims(NS, sa(NS));
    delete noK8s['kubernetes.io'];
    assert.equal(admits(cond, noK8s), false, 'a token without the kubernetes.io claim');
    // A forged sub naming our namespace does not help: the condition reads the namespace claim.
    assert.equal(admits(cond, { ...claims('intruder', 'x'), sub: `system:serviceaccount:${NS}:${sa(NS)}` }), false);
  });

  it('the wildcard provider admits every service account of the cluster, and only service accounts', () => {
    const cond = planGcpSetup(inputFor({ route: 'attach', clusterType: 'dedicated', wildcard: true, known: true })).federation.attributeCondition;
    assert.equal(cond, clusterCondition());
    assert.equal(admits(cond, claims(NS, sa(NS))), true);
    assert.equal(admits(cond, claims('another-deployment', 'another-deployment-kpo')), true);
    assert.equal(admits(cond, { ...claims(NS, sa(NS)), sub: 'user:alice' }), false);
  });

  it("gcloud's --attribute-mapping value round-trips to the same mapping", () => {
    const flag = attributeMappingFlag();
    const back = Object.fromEntries(flag.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    assert.deepEqual(back, ATTRIBUTE_MAPPING);
    assert.ok(Object.values(ATTRIBUTE_MAPPING).every((v) => !v.includes(',')), 'gcloud splits KEY=VALUE pairs on commas');
  });
});

describe('commands are safely quoted', () => {
  // Valid-looking issuer URLs that would run commands if quoting failed: one with every quote
  // character (single-quoted), one without double quotes (double-quote candidates must still not expand).
  const HOSTILE_ISSUERS = [
    `https://issuer.example.com/o'$(touch\${IFS}pwned)"\`touch\${IFS}pwned2\`;x!\${HOME}%{y}`,
    'https://issuer.example.com/$(touch${IFS}pwned)/${HOME}',
  ];
  const HOSTILE_ID = `dep'; touch pwned3; echo '$(touch pwned4)`;

  for (const [i, HOSTILE_ISSUER] of HOSTILE_ISSUERS.entries()) for (const c of CASES) {
    it(`${caseName(c)}: every argument reaches the program intact (hostile issuer ${i + 1})`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'airlock-gcp-'));
      try {
        const input = inputFor(c, { issuer: HOSTILE_ISSUER, deploymentId: HOSTILE_ID });
        const r = gcpProvider.setup(input);
        const plan = planGcpSetup(input);
        const calls = runCommands(r, dir);
        for (const f of ['pwned', 'pwned2', 'pwned3', 'pwned4']) assert.equal(existsSync(join(dir, f)), false, `${f} was created`);
        const args = calls.flat();

        assert.ok(args.includes(`--issuer-uri=${HOSTILE_ISSUER}`), 'the issuer reaches gcloud unchanged');
        assert.ok(args.includes(`--attribute-mapping=${attributeMappingFlag()}`));
        assert.ok(args.includes(`--attribute-condition=${plan.federation.attributeCondition}`));
        for (const b of [...plan.federation.bindings, ...plan.grants]) {
          const call = calls.find((a) => a.includes(`--member=${substitute(b.member)}`) && a.includes(`--role=${b.role}`));
          assert.ok(call, `a binding of ${b.member} with ${b.role}`);
          assert.equal(call[0], 'gcloud');
          assert.ok(call.includes(b.resource === 'serviceAccount' ? substitute(b.serviceAccountEmail) : substitute(b.projectId)));
        }
        const conn = calls.find((a) => a[0] === 'airflow')!;
        assert.deepEqual(conn.slice(0, 5), ['airflow', 'connections', 'add', 'google_cloud_default', '--conn-json']);
        assert.deepEqual(JSON.parse(conn[5]!), JSON.parse(substitute(JSON.stringify({ conn_type: r.connection.conn_type, extra: r.connection.extra }))));
        const env = calls.find((a) => a[0] === 'env')!;
        if (r.environment) {
          assert.equal(env[1], 'airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend');
          assert.equal(env[2], substitute(r.environment.AIRFLOW__SECRETS__BACKEND_KWARGS!));
          JSON.parse(env[2]!);
        } else {
          assert.deepEqual(env.slice(1), ['', '']);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('quotes words so that nothing inside them is interpreted', () => {
    assert.equal(quoteWord('plain-value_1.2/x:y@z'), 'plain-value_1.2/x:y@z');
    assert.equal(quoteWord('--display-name=Airlock prod'), '--display-name="Airlock prod"');
    assert.equal(quoteWord("it's"), `"it's"`);
    assert.equal(quoteWord('a"$b'), `'a"$b'`);
    assert.equal(quoteWord(`a'$b`), `'a'\\''$b'`);
    assert.equal(quoteWord(''), "''");
    assert.equal(quoteWord(['--member=projects/', shellVar('PROJECT_NUMBER'), '/x']), '--member="projects/${PROJECT_NUMBER}/x"');
    assert.equal(quoteWord(['"', shellVar('X'), '"']), `'"'"\${X}"'"'`);
    assert.throws(() => shellVar('$(id)'), TypeError);
  });

  it('a placeholder left unset stops the commands with a message instead of running with an empty value', () => {
    const r = gcpProvider.setup(inputFor({ route: 'impersonation', clusterType: 'standard', wildcard: false, known: false }));
    const guard = r.steps.find((s) => s.title.startsWith('Set '))!;
    const res = spawnSync('bash', ['--noprofile', '--norc', '-c', guard.commands.join('\n')], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /TARGET_SERVICE_ACCOUNT: set TARGET_SERVICE_ACCOUNT to the email/);
  });
});

describe('Terraform', () => {
  for (const c of CASES) {
    it(`${caseName(c)}: parses, and carries the same ids, members and condition as the JSON`, async () => {
      const input = inputFor(c, { issuer: `${ISSUER}/\${not-an-interpolation}/%{nor-a-directive}"quoted"` });
      const r = gcpProvider.setup(input);
      const plan = planGcpSetup(input);
      const text = gcpProvider.terraform(input);
      const p = (await parse('main.tf', text)) as Parsed;
      const wip = r.gcp!.workloadIdentityPool!;

      const [pool] = resources(p, 'google_iam_workload_identity_pool');
      const [provider] = resources(p, 'google_iam_workload_identity_pool_provider');
      if (c.route === 'attach') {
        assert.equal(pool!.workload_identity_pool_id, wip.poolId);
        assert.equal(pool!.project, wip.projectId);
        assert.equal(provider!.workload_identity_pool_id, wip.poolId);
        assert.equal(provider!.workload_identity_pool_provider_id, wip.providerId);
        assert.deepEqual(provider!.attribute_mapping, ATTRIBUTE_MAPPING);
        assert.equal(fromTerraform(provider!.attribute_condition as string), plan.federation.attributeCondition);
        assert.deepEqual(fromTerraformDeep(provider!.oidc), [{ issuer_uri: input.cluster.oidcIssuerUrl }]);
        assert.equal((provider as { oidc: { allowed_audiences?: unknown }[] }).oidc[0]!.allowed_audiences, undefined, 'the default audience is the provider name');
      }

      const saMembers = resources(p, 'google_service_account_iam_member').map((b) => ({
        sa: fromTerraform(b.service_account_id as string),
        role: b.role,
        member: fromTerraform(b.member as string),
      }));
      const projectMembers = resources(p, 'google_project_iam_member').map((b) => ({ project: fromTerraform(b.project as string), role: b.role, member: fromTerraform(b.member as string) }));
      const expected = c.route === 'attach' ? plan.federation.bindings : plan.grants;
      assert.deepEqual(
        [...saMembers.map((m) => m.member), ...projectMembers.map((m) => m.member)].sort(),
        expected.map((b) => b.member).sort(),
      );
      for (const b of expected) {
        if (b.resource === 'serviceAccount') {
          const m = saMembers.find((x) => x.member === b.member && x.role === b.role);
          assert.ok(m, b.member);
          assert.match(m.sa, new RegExp(`^projects/[a-z0-9-]+/serviceAccounts/${b.serviceAccountEmail.replace(/[$.{}]/g, '\\$&')}$`));
        } else {
          assert.ok(projectMembers.some((x) => x.member === b.member && x.role === b.role && x.project === b.projectId));
        }
      }
      if (c.route === 'attach') {
        // The attach members are exactly gcp.members (hcl2json orders resources by name, so as sets),
        // and the credential config and audience agree.
        assert.deepEqual(saMembers.map((m) => m.member).sort(), [...r.gcp!.members].sort());
        assert.deepEqual(fromTerraformDeep(p.output!.members![0]!.value), r.gcp!.members);
        assert.equal(fromTerraform(p.output!.audience![0]!.value as string), r.audience);
        const locals = Object.assign({}, ...(p.locals ?? [])) as Record<string, unknown>;
        assert.deepEqual(fromTerraformDeep(locals.credential_config), r.gcp!.credentialConfig);
        assert.equal(pool!.count, '${var.pool_count}');
        assert.equal(provider!.count, c.wildcard ? '${var.provider_count}' : undefined);
        assert.equal(p.data?.google_project !== undefined, !c.known, 'the project number is read only when unknown');
      } else {
        // Default routes: only the customer's grant; the platform federates the default identity.
        assert.equal(pool, undefined);
        assert.equal(provider, undefined);
        assert.deepEqual(fromTerraformDeep(p.output!.members![0]!.value), r.gcp!.members);
        assert.equal(p.variable?.target_service_account !== undefined, c.route === 'impersonation' && !c.known);
        assert.equal(p.variable?.google_cloud_project !== undefined, c.route === 'direct-grant' && !c.known);
      }
      // No setup placeholder survives into Terraform as a bare ${NAME} (Terraform would read it as a reference).
      assert.doesNotMatch(text, new RegExp(`\\$\\{(${GCP_PLACEHOLDERS.join('|')})\\}`));
    });
  }
});

describe('refusals', () => {
  const attach = inputFor({ route: 'attach', clusterType: 'standard', wildcard: false, known: true });
  const expectCode = (fn: () => unknown, code: string, field: string) =>
    assert.throws(fn, (err: unknown) => err instanceof AppError && err.code === code && err.field === field && err.message.startsWith('cloud(gcp): '));

  const table: { name: string; input: SetupInput; code: string; field: string }[] = [
    { name: 'an AWS identity', input: { ...attach, identity: { mode: 'customer-managed', identity: { cloud: 'aws', roleArn: 'arn:aws:iam::123456789012:role/x' } } }, code: 'ERR_RULE_VIOLATION', field: 'identity' },
    {
      name: 'an AWS default identity',
      input: { ...attach, identity: { mode: 'default', identity: { cloud: 'aws', accountId: '123456789012', roleArn: 'arn:aws:iam::123456789012:role/x', roleName: 'x' } } },
      code: 'ERR_RULE_VIOLATION',
      field: 'identity',
    },
    { name: 'a namespace whose subjects exceed 127 bytes', input: inputFor({ route: 'attach', clusterType: 'standard', wildcard: false, known: true }, { namespace: 'n'.repeat(40) }), code: 'ERR_RULE_VIOLATION', field: 'deployment.namespace' },
    { name: 'a service account that is not an email', input: { ...attach, identity: { mode: 'customer-managed', identity: { cloud: 'gcp', serviceAccountEmail: 'lake-loader' } } }, code: 'ERR_VALIDATION', field: 'identity.serviceAccountEmail' },
    {
      name: 'a project ID where the number belongs',
      input: { ...attach, identity: { mode: 'customer-managed', identity: { cloud: 'gcp', serviceAccountEmail: CUSTOMER_SA, projectNumber: 'data-lake-prod' } } },
      code: 'ERR_VALIDATION',
      field: 'identity.projectNumber',
    },
    { name: 'a role that is not a role', input: { ...inputFor({ route: 'direct-grant', clusterType: 'standard', wildcard: false, known: true }), target: { gcpRoute: 'direct-grant', gcpRole: 'owner; rm -rf /' } }, code: 'ERR_VALIDATION', field: 'target.gcpRole' },
    { name: 'a target that is not a service account', input: { ...inputFor({ route: 'impersonation', clusterType: 'standard', wildcard: false, known: true }), target: { gcpRoute: 'impersonation', gcpServiceAccount: 'alice@example.com' } }, code: 'ERR_VALIDATION', field: 'target.gcpServiceAccount' },
  ];
  for (const t of table) it(`refuses ${t.name}`, () => expectCode(() => gcpProvider.setup(t.input), t.code, t.field));

  it('accepts the longest namespace whose subjects fit in 127 bytes', () => {
    const longest = 'n'.repeat(37); // 52 + 2 × 37 = 126 bytes for the dag-processor subject
    assert.doesNotThrow(() => gcpProvider.setup(inputFor({ route: 'attach', clusterType: 'standard', wildcard: false, known: true }, { namespace: longest })));
  });

  it('infers impersonation from a target service account without a route', () => {
    const input = { ...inputFor({ route: 'direct-grant', clusterType: 'standard', wildcard: false, known: false }), target: { gcpServiceAccount: TARGET_SA } };
    assert.equal(gcpProvider.setup(input).gcp!.route, 'impersonation');
  });
});

describe('determinism and golden fixtures', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const fixtures = join(here, '../../../test/fixtures/setup');
  // The fixtures are the documents others consume (as the other clouds' are): the SetupResult as
  // JSON, and the Terraform text. Their inputs are the table cases named here.
  const golden: { file: string; input: SetupInput; render: (i: SetupInput) => string }[] = [
    { file: 'gcp-attach.json', input: inputFor({ route: 'attach', clusterType: 'standard', wildcard: false, known: true }), render: (i) => json(gcpProvider.setup(i)) },
    { file: 'gcp-impersonation.json', input: inputFor({ route: 'impersonation', clusterType: 'standard', wildcard: false, known: true }), render: (i) => json(gcpProvider.setup(i)) },
    // No target: the project and the platform project number stay placeholders.
    { file: 'gcp-direct-grant.json', input: inputFor({ route: 'direct-grant', clusterType: 'standard', wildcard: false, known: false }), render: (i) => json(gcpProvider.setup(i)) },
    { file: 'gcp-attach.tf', input: inputFor({ route: 'attach', clusterType: 'standard', wildcard: false, known: true }), render: (i) => gcpProvider.terraform(i) },
  ];
  function json(v: unknown): string {
    return `${JSON.stringify(v, null, 2)}\n`;
  }

  it('the same input gives byte-identical output and is not modified', () => {
    for (const c of CASES) {
      const input = inputFor(c);
      const before = JSON.stringify(input);
      assert.equal(JSON.stringify(gcpProvider.setup(input)), JSON.stringify(gcpProvider.setup(inputFor(c))));
      assert.equal(gcpProvider.terraform(input), gcpProvider.terraform(inputFor(c)));
      assert.equal(JSON.stringify(input), before);
    }
  });

  for (const g of golden) {
    it(`matches test/fixtures/setup/${g.file}${updatingGolden() ? ' (updating)' : ''}`, () => {
      matchGolden(join(fixtures, g.file), g.render(g.input));
    });
  }

  it('the attach fixture has no placeholders at all', () => {
    const setup = JSON.parse(readFileSync(join(fixtures, 'gcp-attach.json'), 'utf8')) as SetupResult;
    assert.deepEqual(setup.placeholders, []);
    assert.deepEqual([...placeholdersIn(setup)], []);
  });
});
