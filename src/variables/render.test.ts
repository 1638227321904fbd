import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parseConnectionUri } from '../connections/codec.ts';
import { dotenvValue, renderEnvironment, type EnvConnection } from './render.ts';
import { parseDotenv } from './rules.ts';

/** Values a .env writer gets wrong: each must come back byte for byte through our --load. */
const TRICKY = [
  'plain',
  'False',
  'with spaces',
  'x#y',
  ' leading and trailing ',
  "it's",
  'say "hi"',
  'line1\nline2',
  'back\\slash',
  '{"connections_prefix": "airflow-connections", "project_id": "p"}',
  'postgres://u:p%40ss@h:5432/db?sslmode=require',
  '$HOME',
  "both ' and \" and \\n",
];

describe('rendering a Deployment environment', () => {
  it('dotenv: every tricky value round-trips through the .env reader (airlock … --load)', () => {
    const variables = TRICKY.map((value, i) => ({ key: `V${String(i).padStart(2, '0')}`, value }));
    const r = renderEnvironment('dotenv', { variables, connections: [] });
    assert.deepEqual(r.withheld, []);
    assert.deepEqual(parseDotenv(r.content), variables);
  });

  const golden: [string, string][] = [
    ['False', 'False'],
    ['with spaces', "'with spaces'"],
    ["it's", `"it's"`],
    ['a\nb', '"a\\nb"'],
    ['arn:aws:iam::123456789012:role/etl', 'arn:aws:iam::123456789012:role/etl'],
  ];
  for (const [v, want] of golden) it(`dotenv writes ${JSON.stringify(v)} as ${want}`, () => assert.equal(dotenvValue(v), want));

  it('a withheld value is left out and named: a comment in dotenv, absent in JSON', () => {
    const env = { variables: [{ key: 'B_PLAIN', value: 'x' }, { key: 'A_SECRET', value: null }], connections: [] };
    const d = renderEnvironment('dotenv', env);
    assert.equal(d.content, "B_PLAIN=x\n# withheld (secret, delivered only to the Deployment's workloads): A_SECRET\n");
    assert.deepEqual(d.withheld, ['A_SECRET']);
    const j = renderEnvironment('json', env);
    assert.deepEqual(JSON.parse(j.content), { B_PLAIN: 'x' });
    assert.deepEqual(j.withheld, ['A_SECRET']);
  });

  const connections: EnvConnection[] = [
    { connId: 'aws_default', fields: { conn_type: 'aws', host: null, login: null, password: null, schema: null, port: null, extra: { role_arn: 'arn:aws:iam::123456789012:role/etl', region_name: 'us-east-1', assume_role_method: 'assume_role_with_web_identity' } } },
    { connId: 'pg', fields: parseConnectionUri('postgres://etl:p%40ss@db.internal:5432/lake?sslmode=require') },
    // Strings YAML 1.1 would read as something else.
    { connId: 'tricky', fields: { conn_type: 'http', host: 'on', login: 'yes', password: null, schema: '1:20', port: null, extra: { verify: false, n: 'null' } } },
  ];

  it('airflow-connections-json: the LocalFilesystemBackend mapping (null fields out, extra an object, port a number)', () => {
    const r = renderEnvironment('airflow-connections-json', { variables: [], connections });
    assert.deepEqual(JSON.parse(r.content), {
      aws_default: { conn_type: 'aws', extra: { role_arn: 'arn:aws:iam::123456789012:role/etl', region_name: 'us-east-1', assume_role_method: 'assume_role_with_web_identity' } },
      pg: { conn_type: 'postgres', host: 'db.internal', login: 'etl', password: 'p@ss', schema: 'lake', port: 5432, extra: { sslmode: 'require' } },
      tricky: { conn_type: 'http', host: 'on', login: 'yes', schema: '1:20', extra: { verify: false, n: 'null' } },
    });
  });

  it('a withheld password is left out of the file and named', () => {
    const pg = connections[1]!;
    const r = renderEnvironment('airflow-connections-json', { variables: [], connections: [{ ...pg, fields: { ...pg.fields, password: null }, passwordWithheld: true }] });
    assert.ok(!('password' in JSON.parse(r.content).pg));
    assert.deepEqual(r.withheld, ['pg.password']);
  });

  let pyyaml = false;
  try {
    execFileSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' });
    pyyaml = true;
  } catch {
    /* no python3 with PyYAML here */
  }
  it('airflow-connections-yaml: PyYAML (what Airflow reads it with) loads exactly the JSON file’s mapping', { skip: pyyaml ? false : 'python3 with PyYAML is not installed' }, () => {
    const yaml = renderEnvironment('airflow-connections-yaml', { variables: [], connections }).content;
    const json = renderEnvironment('airflow-connections-json', { variables: [], connections }).content;
    const loaded = execFileSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: yaml }).toString();
    assert.deepEqual(JSON.parse(loaded), JSON.parse(json));
    assert.equal(renderEnvironment('airflow-connections-yaml', { variables: [], connections: [] }).content, '{}\n');
  });
});
