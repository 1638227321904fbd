import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';
import { airlock, type CliResult } from '../helpers/cli.ts';

const SECRET = 'abc-Secret-Value-77';
const FILE_SECRET = 'from-dotenv-S3cret-88';

/** `airlock deployment variable …` as a user types it, through the real binary. */
describe('airlock deployment variable', () => {
  let s: TestServer;
  let env: Record<string, string>;
  const outputs: CliResult[] = [];
  const cli = async (args: string[]) => {
    const r = await airlock(args, env);
    outputs.push(r);
    return r;
  };
  const dir = mkdtempSync(join(tmpdir(), 'airlock-dotenv-'));
  before(async () => {
    s = await startServer();
    env = { AIRLOCK_URL: s.url, AIRLOCK_TOKEN: s.token };
    assert.equal((await s.api('POST', '/api/v1/clusters', { name: 'prod-aws', cloud: 'aws', region: 'us-east-1', defaultIdentityAccount: '210987654321' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'prod-aws', runtimeVersion: '12.1.0' })).status, 201);
  });
  after(() => s.close());

  it('create KEY=VALUE pairs (split on the first "="), --secret masks in the table', async () => {
    const a = await cli(['deployment', 'variable', 'create', '-d', 'etl', 'AIRFLOW__CORE__LOAD_EXAMPLES=False', 'DSN=host=db port=5432']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^KEY\s+VALUE\s+SECRET\s+VERSION\n/);
    assert.match(a.stdout, /DSN\s+host=db port=5432\s+no\s+1/);
    const b = await cli(['deployment', 'variable', 'create', '-d', 'etl', '--secret', `API_KEY=${SECRET}`]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /API_KEY\s+\*{8}\s+yes\s+1/);
  });

  it('create skips existing keys and says which, on stderr', async () => {
    const r = await cli(['deployment', 'variable', 'create', '-d', 'etl', 'API_KEY=other', 'FRESH=1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /FRESH\s+1\s+no\s+1/);
    assert.match(r.stderr, /skipped 1 that already exist .*: API_KEY/);
  });

  it('--load --env reads a .env file: quotes and whitespace trimmed, # comments, export prefix', async () => {
    const file = join(dir, 'prod.env');
    writeFileSync(
      file,
      ['# settings for prod', '', '  QUOTED = "a value with spaces"  ', "SINGLE='x#y'", 'export EXPORTED=yes', `FILE_TOKEN=${FILE_SECRET}`, '   # indented comment'].join('\n'),
    );
    const r = await cli(['deployment', 'variable', 'create', '-d', 'etl', '--secret', '--load', '--env', file, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const created = JSON.parse(r.stdout).created as { key: string; value: string | null; secret: boolean }[];
    assert.deepEqual(created.map((v) => v.key), ['QUOTED', 'SINGLE', 'EXPORTED', 'FILE_TOKEN']);
    assert.ok(created.every((v) => v.secret && v.value === null));
    const plain = join(dir, 'plain.env');
    writeFileSync(plain, 'QUOTED2 = "a value with spaces"\nSINGLE2=\'x#y\'\n');
    const p = await cli(['deployment', 'variable', 'create', '-d', 'etl', '--load', '--env', plain, '-o', 'json']);
    assert.deepEqual(JSON.parse(p.stdout).created.map((v: { value: string }) => v.value), ['a value with spaces', 'x#y']);
  });

  const refused: { name: string; args: () => string[]; code: number; match: RegExp }[] = [
    { name: 'an empty value', args: () => ['X='], code: 2, match: /X has an empty value/ },
    { name: 'an empty key', args: () => ['=v'], code: 2, match: /variable name is empty/ },
    { name: 'no "="', args: () => ['JUSTKEY'], code: 2, match: /"JUSTKEY" is not KEY=VALUE/ },
    { name: 'nothing at all', args: () => [], code: 2, match: /give at least one KEY=VALUE/ },
    { name: 'a duplicate key in one .env file', args: () => (writeFileSync(join(dir, 'dup.env'), `A=1\n# c\nA=${SECRET}\n`), ['--load', '--env', join(dir, 'dup.env')]), code: 2, match: /sets A twice \(lines 1 and 3\)/ },
    { name: 'a .env line without "="', args: () => (writeFileSync(join(dir, 'bad.env'), 'GOOD=1\nnot an assignment\n'), ['--load', '--env', join(dir, 'bad.env')]), code: 2, match: /line 2 is not KEY=VALUE/ },
    { name: 'a missing .env file', args: () => ['--load', '--env', join(dir, 'nope.env')], code: 2, match: /cannot read .*nope\.env: ENOENT/ },
    { name: 'kwargs that are not a JSON object (the server)', args: () => ['AIRFLOW__SECRETS__BACKEND_KWARGS=[1]'], code: 1, match: /ERR_VALIDATION: AIRFLOW__SECRETS__BACKEND_KWARGS must be a JSON object/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name} (exit ${c.code}, nothing written)`, async () => {
      const before = (await s.api('GET', '/api/v1/deployments/etl/variables')).body.items.length;
      const r = await cli(['deployment', 'variable', 'create', '-d', 'etl', ...c.args()]);
      assert.equal(r.code, c.code, r.stderr);
      assert.match(r.stderr, c.match);
      assert.equal((await s.api('GET', '/api/v1/deployments/etl/variables')).body.items.length, before);
    });
  }

  it('update: --version guards against a stale write (ERR_CONFLICT); a secret stays secret', async () => {
    const ok = await cli(['deployment', 'variable', 'update', '-d', 'etl', 'FRESH=2', '--version', '1']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /FRESH\s+2\s+no\s+2/);
    const stale = await cli(['deployment', 'variable', 'update', '-d', 'etl', 'FRESH=3', '--version', '1']);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /ERR_CONFLICT: variable FRESH of Deployment etl is at version 2, not 1/);
    const sec = await cli(['deployment', 'variable', 'update', '-d', 'etl', `API_KEY=${SECRET}-v2`]);
    assert.equal(sec.code, 0, sec.stderr);
    assert.match(sec.stdout, /API_KEY\s+\*{8}\s+yes\s+2/);
    const made = await cli(['deployment', 'variable', 'update', '-d', 'etl', '--secret', 'DSN=host=db2']);
    assert.match(made.stdout, /DSN\s+\*{8}\s+yes\s+2/);
  });

  it('list (table and json) never shows a secret; delete removes', async () => {
    const t = await cli(['deployment', 'variable', 'list', '-d', 'etl']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /AIRFLOW__CORE__LOAD_EXAMPLES\s+False\s+no\s+1/);
    assert.match(t.stdout, /API_KEY\s+\*{8}\s+yes/);
    const j = JSON.parse((await cli(['deployment', 'variable', 'list', '-d', 'etl', '-o', 'json'])).stdout);
    assert.equal(j.find((v: { key: string }) => v.key === 'API_KEY').value, null);
    const d = await cli(['deployment', 'variable', 'delete', '-d', 'etl', 'FRESH', 'SINGLE2']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'variable FRESH deleted\nvariable SINGLE2 deleted\n');
    const again = await cli(['deployment', 'variable', 'delete', '-d', 'etl', 'FRESH']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ERR_NOT_FOUND: Deployment etl has no variable FRESH/);
  });

  it('deployment env: dotenv and json carry plain values, secrets are withheld and named on stderr', async () => {
    const d = await cli(['deployment', 'env', 'etl']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^AIRFLOW__CORE__LOAD_EXAMPLES=False$/m);
    assert.match(d.stdout, /^QUOTED2='a value with spaces'$/m);
    assert.match(d.stdout, /^# withheld \(secret, delivered only to the Deployment's workloads\): API_KEY, DSN, EXPORTED, FILE_TOKEN, QUOTED, SINGLE$/m);
    assert.match(d.stderr, /withheld .*: API_KEY, DSN, EXPORTED, FILE_TOKEN, QUOTED, SINGLE/);
    const j = await cli(['deployment', 'env', 'etl', '--format', 'json']);
    assert.deepEqual(JSON.parse(j.stdout), { AIRFLOW__CORE__LOAD_EXAMPLES: 'False', QUOTED2: 'a value with spaces' });
    const c = await cli(['deployment', 'env', 'etl', '--format', 'airflow-connections-yaml']);
    assert.equal(c.code, 0, c.stderr);
    const bad = await cli(['deployment', 'env', 'etl', '--format', 'toml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown --format "toml"/);
  });

  it('the secret scan: no secret value in any output above', () => {
    assert.ok(outputs.length > 15);
    for (const o of outputs) {
      for (const secret of [SECRET, FILE_SECRET]) {
        assert.ok(!o.stdout.includes(secret) && !o.stderr.includes(secret), `found in the output of a command: ${o.stdout}${o.stderr}`);
      }
    }
  });
});
