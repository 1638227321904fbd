import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { airlock } from '../helpers/cli.ts';

// A pure command: no AIRLOCK_URL, no token, no server anywhere.
const NO_SERVER = {};

void describe('airlock connection convert (CLI, no server)', () => {
  void it("--uri … -o json prints Airflow's fields (issue 9's example)", async () => {
    const r = await airlock(['connection', 'convert', '--uri', 'postgresql://user:p%40ss@host:5432/db?sslmode=require', '-o', 'json'], NO_SERVER);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      JSON.stringify({ conn_type: 'postgres', host: 'host', login: 'user', password: 'p@ss', schema: 'db', port: 5432, extra: { sslmode: 'require' } }, null, 2) + '\n',
    );
  });

  void it('extra is {} when the URI has none', async () => {
    const r = await airlock(['connection', 'convert', '--uri', 'aws://', '-o', 'json'], NO_SERVER);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { conn_type: 'aws', host: '', login: null, password: null, schema: '', port: null, extra: {} });
  });

  void it("--json … --to uri prints get_uri(); --to json prints as_json()", async () => {
    const json = '{"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::123456789012:role/etl", "region_name": "us-east-1"}}';
    const uri = await airlock(['connection', 'convert', '--json', json, '--to', 'uri'], NO_SERVER);
    assert.equal(uri.code, 0, uri.stderr);
    assert.equal(uri.stdout, 'aws:///?role_arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fetl&region_name=us-east-1\n');
    const back = await airlock(['connection', 'convert', '--uri', uri.stdout.trim(), '--to', 'json'], NO_SERVER);
    assert.equal(back.stdout, '{"conn_type": "aws", "host": "", "schema": "", "extra": {"role_arn": "arn:aws:iam::123456789012:role/etl", "region_name": "us-east-1"}}\n');
    const nested = await airlock(['connection', 'convert', '--json', '{"conn_type": "google_cloud_platform", "extra": {"impersonation_chain": ["a@p.iam.gserviceaccount.com"]}}', '--to', 'uri'], NO_SERVER);
    assert.equal(nested.stdout, 'google-cloud-platform:///?__extra__=%7B%22impersonation_chain%22%3A+%5B%22a%40p.iam.gserviceaccount.com%22%5D%7D\n');
  });

  void it('--from-env reads an AIRFLOW_CONN_* value as Airflow does (JSON when it starts with {)', async () => {
    const env = { AIRFLOW_CONN_WAREHOUSE: ' {"conn_type": "postgresql", "host": "db", "port": "5432"} ', AIRFLOW_CONN_API: 'http://api.example.com/?timeout=5' };
    const fromJson = await airlock(['connection', 'convert', '--from-env', 'AIRFLOW_CONN_WAREHOUSE', '--to', 'uri'], env);
    assert.equal(fromJson.stdout, 'postgres://db:5432\n', fromJson.stderr);
    const fromUri = await airlock(['connection', 'convert', '--from-env', 'AIRFLOW_CONN_API', '--to', 'json'], env);
    assert.equal(fromUri.stdout, '{"conn_type": "http", "host": "api.example.com", "schema": "", "extra": {"timeout": "5"}}\n', fromUri.stderr);
  });

  void it('the table shows every field but never the password', async () => {
    const r = await airlock(['connection', 'convert', '--uri', 'mysql://etl:Zq9vTopSecret@db.internal:3306/sales'], NO_SERVER);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^conn_type\s+mysql$/m);
    assert.match(r.stdout, /^host\s+db\.internal$/m);
    assert.match(r.stdout, /^password\s+\*+ \(set/m);
    assert.equal(r.stdout.includes('Zq9vTopSecret'), false, r.stdout);
  });

  void it("a URI Airflow rejects: Airflow's reason, field, an accepted example, exit 1, no piece of the password", async () => {
    const r = await airlock(['connection', 'convert', '--uri', 'mysql://etl:Zq9v/TopSecret@db.internal/sales'], NO_SERVER);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: ERR_VALIDATION: Airflow rejects this connection URI: Port could not be cast to integer value/);
    assert.match(r.stderr, /\n {2}field: uri\n {2}example: postgres:\/\/user:p%40ss@db\.example\.com:5432\/analytics\?sslmode=require\n$/);
    for (const piece of ['Zq9v', 'TopSecret']) assert.equal(r.stderr.includes(piece), false, r.stderr);
    const j = await airlock(['connection', 'convert', '--json', '{"conn_type": "aws", "extra": "not json"}', '-o', 'json'], NO_SERVER);
    assert.equal(j.code, 1);
    assert.match(j.stderr, /Encountered non-JSON in `extra` field[\s\S]*field: json/);
  });

  void it('usage errors exit 2', async () => {
    for (const args of [[], ['--uri', 'aws://', '--json', '{}'], ['--uri', 'aws://', '--to', 'yaml'], ['--uri', 'aws://', '--to', 'uri', '-o', 'json'], ['--from-env', 'AIRFLOW_CONN_NOT_SET']]) {
      const r = await airlock(['connection', 'convert', ...args], NO_SERVER);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: ERR_VALIDATION: /, args.join(' '));
    }
  });
});
