import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { JOIN_CREDENTIAL_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../../src/delivery/profile.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startKubeIssuer, type KubeIssuer } from '../delivery/kube-issuer.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';
import { killAll, spawnGroup } from '../helpers/processes.ts';

const DOC = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

/** The fenced block under the doc's `<!-- example: <name> … -->` marker. */
function docExample(name: string): string {
  const m = new RegExp(`<!-- example: ${name.replace('.', '\\.')}[^>]*-->\\n\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``).exec(DOC);
  assert.ok(m, `docs/metrics.md has no example ${name}`);
  return m[1]!;
}

/** One sample per series of the exposition text: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

function run(cmd: string, args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    p.stdin!.end(stdin ?? '');
  });
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** `GET /metrics` as Prometheus sends it. */
describe('Prometheus metrics (GET /metrics)', () => {
  const clock = createManualClock(Date.UTC(2026, 11, 7, 9));
  let s: TestServer;
  let kube: KubeIssuer;
  let dir: string;
  let memberToken: string;
  let cluster: { id: string; attestationAudience: string };
  let namespace: string;
  const scrape = async (token = memberToken) => {
    const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  const exchange = async (clusterId: string, subjectToken: string, type: string, ...audiences: string[]) => {
    const form = new URLSearchParams([['grant_type', TOKEN_EXCHANGE_GRANT_TYPE], ['subject_token', subjectToken], ['subject_token_type', type], ...audiences.map((a) => ['audience', a])]);
    const res = await fetch(`${s.url}/clusters/${clusterId}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    return { status: res.status, body: (await res.json()) as { error?: string } };
  };
  const credential = async (component = 'worker') => {
    const r = await s.api('POST', '/api/v1/deployments/etl/credentials', { component });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { id: string; secret: string };
  };
  const token = async (body: Record<string, unknown>) => {
    const r = await s.api('POST', '/api/v1/tokens', body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { id: string; token: string };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-metrics-'));
    s = await startServer({ clock });
    kube = await startKubeIssuer();
    const c = await s.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', type: 'dedicated', region: 'us-east-1', kubernetesIssuerUrl: kube.url });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    cluster = c.body;
    const d = await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-aws', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/etl-reader' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    namespace = d.body.namespace;
    // As docs/metrics.md says to: `airlock token create --name prometheus --role member -o json`.
    const created = await airlock(['token', 'create', '--name', 'prometheus', '--role', 'member', '-o', 'json'], { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token });
    assert.equal(created.code, 0, created.stderr);
    const t = JSON.parse(created.stdout) as { token: string; role: string };
    assert.equal(t.role, 'organization-member');
    memberToken = t.token;
  });
  after(async () => {
    await killAll();
    await s?.close();
    await kube?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs a token with metrics.read: the organization owner and member have it, workspace and Deployment roles do not', async () => {
    const none = await fetch(`${s.url}/metrics`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'ERR_UNAUTHENTICATED');
    for (const body of [
      { name: 'viewer', role: 'workspace-viewer', workspace: 'default' },
      { name: 'owner', role: 'workspace-owner', workspace: 'default' },
      { name: 'dep', role: 'deployment-admin', workspace: 'default', deployment: 'etl' },
    ]) {
      const r = await scrape((await token(body)).token);
      assert.equal(r.status, 403, `${body.role}: ${r.text}`);
      assert.match(r.text, /metrics\.read/);
    }
    for (const t of [memberToken, s.token]) {
      const r = await scrape(t);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
      assert.match(r.text, /^airlock_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
      assert.match(r.text, /^process_cpu_seconds_total /m);
    }
  });

  it('counts exchanges by cluster, attestation and result, and why join credentials were refused', async () => {
    const before = samples((await scrape()).text);
    const at = (result: string, attestation = 'join-credential', c = cluster.id) => `airlock_token_exchanges_total{cluster="${c}",attestation="${attestation}",result="${result}"}`;
    const delta = (after: Map<string, number>, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    assert.equal(before.get('airlock_join_credential_refusals_total{reason="revoked"}'), 0, 'every reason exists at 0 from the start');

    const c = await credential();
    assert.equal((await exchange(cluster.id, c.secret, JOIN_CREDENTIAL_TOKEN_TYPE, 'sts.amazonaws.com')).status, 200);
    assert.equal((await exchange(cluster.id, c.secret, JOIN_CREDENTIAL_TOKEN_TYPE, 'sts.amazonaws.com')).status, 200);
    assert.equal((await exchange(cluster.id, c.secret, JOIN_CREDENTIAL_TOKEN_TYPE, 'vault.example.com')).body.error, 'invalid_target');
    assert.equal((await exchange(cluster.id, `${c.secret.slice(0, -4)}AAAA`, JOIN_CREDENTIAL_TOKEN_TYPE, 'sts.amazonaws.com')).body.error, 'invalid_grant');
    const pod = await kube.token({ namespace, serviceAccount: `${namespace}-worker-serviceaccount`, audience: cluster.attestationAudience, now: clock.now() });
    assert.equal((await exchange(cluster.id, pod, JWT_TOKEN_TYPE, 'sts.amazonaws.com')).status, 200);
    const stranger = await kube.token({ namespace: 'default', serviceAccount: 'default', audience: cluster.attestationAudience, now: clock.now() });
    assert.equal((await exchange(cluster.id, stranger, JWT_TOKEN_TYPE, 'sts.amazonaws.com')).body.error, 'invalid_grant');
    assert.equal((await exchange(cluster.id, c.secret, 'urn:example:unknown', 'sts.amazonaws.com')).body.error, 'invalid_request');
    // Made-up cluster ids in the URL all count under one empty cluster label: no new series each.
    for (const made of ['cl_aaaaaaaaaaaaaaaaaaaa', 'cl_bbbbbbbbbbbbbbbbbbbb', 'cl_cccccccccccccccccccc']) {
      assert.equal((await exchange(made, c.secret, JOIN_CREDENTIAL_TOKEN_TYPE, 'sts.amazonaws.com')).body.error, 'invalid_request');
    }
    assert.equal((await s.api('DELETE', `/api/v1/deployments/etl/credentials/${c.id}`)).status, 200);
    assert.equal((await exchange(cluster.id, c.secret, JOIN_CREDENTIAL_TOKEN_TYPE, 'sts.amazonaws.com')).body.error, 'invalid_grant');

    const text = (await scrape()).text;
    const after = samples(text);
    assert.equal(delta(after, at('issued')), 2);
    assert.equal(delta(after, at('invalid_target')), 1);
    assert.equal(delta(after, at('invalid_grant')), 2, 'a wrong secret and a revoked credential');
    assert.equal(delta(after, at('issued', 'kubernetes')), 1);
    assert.equal(delta(after, at('invalid_grant', 'kubernetes')), 1);
    assert.equal(delta(after, at('invalid_request', 'none', '')), 1, 'refused before the cluster was looked up');
    assert.equal(delta(after, at('invalid_request', 'join-credential', '')), 3);
    assert.doesNotMatch(text, /cl_aaaa|cl_bbbb|cl_cccc/);
    assert.equal(delta(after, 'airlock_join_credential_refusals_total{reason="wrong-secret"}'), 1);
    assert.equal(delta(after, 'airlock_join_credential_refusals_total{reason="revoked"}'), 1);
    // Route templates, never raw paths.
    assert.ok(delta(after, 'airlock_http_requests_total{method="POST",route="/clusters/:clusterId/token",status="200"}') >= 3);
    assert.ok((after.get('airlock_http_request_duration_seconds_count{method="POST",route="/clusters/:clusterId/token"}') ?? 0) >= 11);
    assert.doesNotMatch(text, new RegExp(`route="/clusters/${cluster.id}`));
    // Every issued token and refusal was audited (the group commit counts its records).
    assert.ok(delta(after, 'airlock_audit_records_total') >= 6);
    assert.equal(after.get('airlock_audit_write_failures_total'), 0);
  });

  it('counts refused API tokens by reason, and unknown paths as one unmatched route', async () => {
    const t = await token({ name: 'short-lived', role: 'organization-member' });
    assert.equal((await s.api('DELETE', `/api/v1/tokens/${t.id}`)).status, 200);
    const before = samples((await scrape()).text);
    assert.equal((await scrape(t.token)).status, 401);
    assert.equal((await scrape('alk_not-a-token')).status, 401);
    for (const p of ['/nope', '/nope/again', '/../etc/passwd']) assert.equal((await fetch(`${s.url}${p}`)).status, 404);
    const text = (await scrape()).text;
    const after = samples(text);
    assert.equal((after.get('airlock_api_token_refusals_total{reason="revoked"}') ?? 0) - (before.get('airlock_api_token_refusals_total{reason="revoked"}') ?? 0), 1);
    assert.equal((after.get('airlock_api_token_refusals_total{reason="malformed"}') ?? 0) - (before.get('airlock_api_token_refusals_total{reason="malformed"}') ?? 0), 1);
    assert.ok((after.get('airlock_http_requests_total{method="GET",route="unmatched",status="404"}') ?? 0) >= 3);
    assert.doesNotMatch(text, /nope|passwd/);
  });

  it("reports each cluster's signing keys when scraped, and forgets a deleted cluster", async () => {
    const second = await s.api('POST', '/api/v1/clusters', { name: 'gcp-east', cloud: 'gcp', region: 'us-east1' });
    assert.equal(second.status, 201);
    const id = second.body.id as string;
    clock.advance(3600_000);
    assert.equal((await s.api('POST', `/api/v1/clusters/${id}/rotate-keys`, {})).status, 200);
    let m = samples((await scrape()).text);
    assert.equal(m.get(`airlock_cluster_info{cluster="${id}",name="gcp-east",cloud="gcp",issuer_mode="airlock"}`), 1);
    assert.equal(m.get(`airlock_signing_keys{cluster="${id}",state="active"}`), 1);
    assert.equal(m.get(`airlock_signing_keys{cluster="${id}",state="pending"}`), 1, 'the rotation published its successor');
    assert.equal(m.get(`airlock_signing_key_age_seconds{cluster="${id}"}`), 3600);
    assert.ok((m.get(`airlock_signing_key_age_seconds{cluster="${cluster.id}"}`) ?? 0) >= 3600);
    assert.equal((await s.api('DELETE', `/api/v1/clusters/${id}`)).status, 204);
    m = samples((await scrape()).text);
    assert.equal([...m.keys()].filter((k) => k.includes(id)).length, 0, 'no series of a deleted cluster');
  });

  it("passes promtool's lint, except the three gauges prom-client's process metrics name *_total", async () => {
    const r = await run(PROMTOOL, ['check', 'metrics'], (await scrape()).text);
    const flagged = r.stdout.concat(r.stderr).trim().split('\n').filter(Boolean).sort();
    assert.deepEqual(
      flagged,
      ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'].map((n) => `${n} non-counter metrics should not have "_total" suffix`),
    );
  });

  it('documents every airlock_ metric with its type', async () => {
    const text = (await scrape()).text;
    const types = [...text.matchAll(/^# TYPE (airlock_\w+) (\w+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    assert.ok(types.length >= 13);
    for (const [name, type] of types) assert.match(DOC, new RegExp(`^\\| \`${name}\` \\| ${type} \\|`, 'm'), `${name} (${type}) in docs/metrics.md's table`);
    const documented = [...DOC.matchAll(/^\| `(airlock_\w+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), types.map(([n]) => n).sort(), 'and nothing the server does not export');
  });

  it("the docs' scrape config and alert rules run in a real Prometheus: it scrapes with the token file, and the alerts fire", async () => {
    const tokenFile = join(dir, 'airlock-token');
    writeFileSync(tokenFile, `${memberToken}\n`, { mode: 0o600 });
    const rulesFile = join(dir, 'airlock-rules.yml');
    writeFileSync(rulesFile, docExample('airlock-rules.yml'));
    const checked = await run(PROMTOOL, ['check', 'rules', rulesFile]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /SUCCESS: 11 rules found/);

    // The documented job, pointed at this server: plain HTTP on loopback, the token file written above.
    const config = parse(docExample('prometheus.yml')) as { scrape_configs: Record<string, any>[] };
    const job = config.scrape_configs[0]!;
    assert.equal(job.authorization.type, 'Bearer');
    job.scheme = 'http';
    job.authorization.credentials_file = tokenFile;
    job.static_configs = [{ targets: [new URL(s.url).host] }];
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(promConfig, stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, rule_files: [rulesFile], ...config }));
    const port = await freePort();
    const prom = spawnGroup(PROMETHEUS, [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      env: { PATH: process.env.PATH ?? '', HOME: dir },
      cwd: dir,
    });
    const api = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return (await res.json()) as { status: string; data: any };
    };
    const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
      for (let i = 0; i < 240; i++) {
        const v = await probe().catch(() => undefined);
        if (v !== undefined) return v;
        await sleep(250);
      }
      throw new Error(`Prometheus: ${what} did not happen\n${prom.stderr()}`);
    };
    // Prometheus is up and has scraped Airlock (with the token: a refused scrape is up 0).
    await until('a successful scrape', async () => {
      const r = await api('/api/v1/query?query=up%7Bjob%3D%22airlock%22%7D');
      return r.data.result[0]?.value[1] === '1' ? true : undefined;
    });
    const health = await api('/api/v1/targets');
    assert.equal(health.data.activeTargets[0].lastError, '');

    // A revoked credential in use: refused, counted, and the documented alert fires.
    const c = await credential('scheduler');
    assert.equal((await s.api('DELETE', `/api/v1/deployments/etl/credentials/${c.id}`)).status, 200);
    assert.equal((await exchange(cluster.id, c.secret, JOIN_CREDENTIAL_TOKEN_TYPE, 'sts.amazonaws.com')).body.error, 'invalid_grant');
    // A key that has signed for 50 days: the schedule stopped (this server's rotation is driven by hand).
    clock.advance(50 * 86400_000);
    const firing = await until('both alerts firing', async () => {
      const alerts = (await api('/api/v1/alerts')).data.alerts as { labels: Record<string, string>; state: string }[];
      const names = alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname);
      return names.includes('AirlockRevokedJoinCredentialInUse') && names.includes('AirlockSigningKeyNotRotating') ? alerts : undefined;
    });
    const stale = firing.find((a) => a.labels.alertname === 'AirlockSigningKeyNotRotating')!;
    assert.equal(stale.labels.cluster, cluster.id);
    assert.equal(stale.labels.severity, 'warning');
    // Nothing else is wrong, and Prometheus says so.
    assert.deepEqual(firing.map((a) => a.labels.alertname).sort(), ['AirlockRevokedJoinCredentialInUse', 'AirlockSigningKeyNotRotating']);
    const rules = (await api('/api/v1/rules')).data.groups[0].rules as { name: string; health: string }[];
    assert.equal(rules.length, 11);
    for (const r of rules) assert.equal(r.health, 'ok', `${r.name} evaluates`);
  });
});
