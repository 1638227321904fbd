import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock } from '../helpers/cli.ts';

describe('airlock deployment credentials / cluster Kubernetes flags (CLI)', () => {
  let s: TestServer;
  let env: Record<string, string>;
  before(async () => {
    s = await startServer();
    env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    const c = await airlock(
      ['cluster', 'create', '--name', 'prod-aws', '--cloud', 'aws', '--region', 'us-east-1', '--kubernetes-issuer-url', 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC', '--audience', 'vault.example.com', '--audience', 'svc.internal', '-o', 'json'],
      env,
    );
    assert.equal(c.code, 0, c.stderr);
    const cluster = JSON.parse(c.stdout);
    assert.deepEqual([cluster.kubernetesIssuerUrl, cluster.audiences], ['https://oidc.eks.us-east-1.amazonaws.com/id/ABC', ['vault.example.com', 'svc.internal']]);
    const d = await airlock(['deployment', 'create', '--name', 'etl', '--cluster', 'prod-aws', '--runtime-version', '12.1.0', '--workload-identity', 'arn:aws:iam::123456789012:role/etl-reader'], env);
    assert.equal(d.code, 0, d.stderr);
  });
  after(() => s.close());

  it('create prints the secret once with the exec line; list and revoke never show it', async () => {
    const c = await airlock(['deployment', 'credentials', 'create', 'etl', '--component', 'worker', '--ttl', '7d', '--description', 'vm pool'], env);
    assert.equal(c.code, 0, c.stderr);
    const secret = /(alj_[0-9a-z]{20}_[A-Za-z0-9_-]{43})/.exec(c.stdout)?.[1];
    assert.ok(secret, c.stdout);
    assert.match(c.stdout, /AIRLOCK_JOIN_CREDENTIAL=<secret> airlock exec --deployment etl --component worker -- <command>/);
    const json = JSON.parse((await airlock(['deployment', 'credentials', 'create', 'etl', '--component', 'kpo', '-o', 'json'], env)).stdout);
    assert.match(json.secret, /^alj_/);
    const list = await airlock(['deployment', 'credentials', 'list', 'etl'], env);
    assert.match(list.stdout, /^ID\s+COMPONENT\s+STATUS\s+EXPIRES\s+LAST USED\s+DESCRIPTION/);
    assert.match(list.stdout, /jc_[0-9a-z]{20}\s+worker\s+live\s+\S+\s+-\s+vm pool/);
    assert.equal(list.stdout.includes(secret.slice(25)), false);
    const id = `jc_${secret.slice(4, 24)}`;
    const one = await airlock(['deployment', 'credentials', 'revoke', 'etl', id], env);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, `revoked ${id} (etl/worker)\n`);
    const listed = JSON.parse((await airlock(['deployment', 'credentials', 'list', 'etl', '-o', 'json'], env)).stdout);
    assert.deepEqual(listed.map((x: { id: string; status: string }) => [x.id === id, x.status]).sort(), [[false, 'live'], [true, 'revoked']]);
    const all = await airlock(['deployment', 'credentials', 'revoke', 'etl', '--all'], env);
    assert.equal(all.stdout, 'revoked 1 credential(s) of etl\n');
  });

  it('bad input: a clear error and a non-zero exit', async () => {
    const both = await airlock(['deployment', 'credentials', 'revoke', 'etl'], env);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /name one credential id, or pass --all/);
    const comp = await airlock(['deployment', 'credentials', 'create', 'etl', '--component', 'celery'], env);
    assert.notEqual(comp.code, 0);
    assert.match(comp.stderr, /component/);
    const ttl = await airlock(['deployment', 'credentials', 'create', 'etl', '--component', 'worker', '--ttl', '2y'], env);
    assert.match(ttl.stderr, /ttl must be a duration from 1m to 365d/);
  });

  it('cluster update replaces and clears custom audiences and the Kubernetes issuer', async () => {
    const set = JSON.parse((await airlock(['cluster', 'update', 'prod-aws', '--audience', 'only.example.com', '-o', 'json'], env)).stdout);
    assert.deepEqual(set.audiences, ['only.example.com']);
    const cleared = JSON.parse((await airlock(['cluster', 'update', 'prod-aws', '--audience', 'none', '--kubernetes-issuer-url', 'none', '-o', 'json'], env)).stdout);
    assert.deepEqual([cleared.audiences, cleared.kubernetesIssuerUrl], [[], null]);
    const missing = await airlock(['cluster', 'update', 'prod-aws', '--kubernetes-ca-cert', '/nonexistent/ca.pem'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read --kubernetes-ca-cert/);
  });
});
