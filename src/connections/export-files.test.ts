import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors/index.ts';
import { formatOfFileName, parseConnectionsExport, type ExportFormat } from './export-files.ts';

const SECRET = 'Sup3r-s3cret-value';

describe('reading airflow connections export files', () => {
  const accepted: { name: string; format: ExportFormat; content: string; expect: Record<string, unknown>[] }[] = [
    {
      name: 'Airflow 2 JSON: extra as a JSON string',
      format: 'json',
      content: JSON.stringify({ pg: { conn_type: 'postgres', description: '', login: 'u', password: 'p', host: 'h', port: 5432, schema: 's', extra: '{"sslmode": "require"}' } }),
      expect: [{ connId: 'pg', description: '', fields: { conn_type: 'postgres', host: 'h', login: 'u', password: 'p', schema: 's', port: 5432, extra: { sslmode: 'require' } } }],
    },
    {
      name: 'Airflow 3 JSON: conn_id inside, extra as an object, nulls',
      format: 'json',
      content: JSON.stringify({ a: { conn_id: 'a', conn_type: 'aws', description: null, host: null, login: null, password: null, schema: null, port: null, extra: { region_name: 'us-east-1' } } }),
      expect: [{ connId: 'a', description: null, fields: { conn_type: 'aws', host: null, login: null, password: null, schema: null, port: null, extra: { region_name: 'us-east-1' } } }],
    },
    {
      name: 'extra_dejson, an empty extra string, a numeric-string port',
      format: 'json',
      content: JSON.stringify({ x: { conn_type: 'http', extra_dejson: { k: [1] }, port: '8080' }, y: { conn_type: 'http', extra: '' } }),
      expect: [
        { connId: 'x', description: null, fields: { conn_type: 'http', host: null, login: null, password: null, schema: null, port: 8080, extra: { k: [1] } } },
        { connId: 'y', description: null, fields: { conn_type: 'http', host: null, login: null, password: null, schema: null, port: null, extra: {} } },
      ],
    },
    {
      name: 'a value that is a URI, and a dict with uri',
      format: 'json',
      content: JSON.stringify({ u: 'postgres://a:b%40c@h:1/d', v: { uri: 'mysql://h', description: 'd' } }),
      expect: [
        { connId: 'u', description: null, fields: { conn_type: 'postgres', host: 'h', login: 'a', password: 'b@c', schema: 'd', port: 1, extra: {} } },
        { connId: 'v', description: 'd', fields: { conn_type: 'mysql', host: 'h', login: null, password: null, schema: '', port: null, extra: {} } },
      ],
    },
    {
      name: "YAML as PyYAML's yaml.dump writes it (sorted keys, quoted extra)",
      format: 'yaml',
      content: "g:\n  conn_type: google_cloud_platform\n  description: null\n  extra: '{\"project\": \"p\"}'\n  host: null\n  login: null\n  password: null\n  port: null\n  schema: null\n",
      expect: [{ connId: 'g', description: null, fields: { conn_type: 'google_cloud_platform', host: null, login: null, password: null, schema: null, port: null, extra: { project: 'p' } } }],
    },
    {
      name: 'env: URI and JSON values, comments, blank lines, trimmed',
      format: 'env',
      content: '# c\n\n  a = aws://?region_name=us-east-1  \nb={"conn_type": "http", "host": "h"}\n',
      expect: [
        { connId: 'a', description: null, fields: { conn_type: 'aws', host: '', login: null, password: null, schema: '', port: null, extra: { region_name: 'us-east-1' } } },
        { connId: 'b', description: null, fields: { conn_type: 'http', host: 'h', login: null, password: null, schema: null, port: null, extra: {} } },
      ],
    },
    { name: 'an empty YAML file', format: 'yaml', content: '', expect: [] },
  ];
  for (const c of accepted) {
    it(`reads ${c.name}`, () => assert.deepEqual(parseConnectionsExport(c.content, c.format), c.expect));
  }

  const refused: { name: string; format: ExportFormat; content: string; field: string }[] = [
    { name: 'an unknown key', format: 'json', content: JSON.stringify({ a: { conn_type: 'http', password: SECRET, bogus: 1 } }), field: 'connections.a.bogus' },
    { name: 'extra and extra_dejson together', format: 'json', content: JSON.stringify({ a: { extra: '{}', extra_dejson: {} } }), field: 'connections.a.extra_dejson' },
    { name: 'a conn_id differing from its key', format: 'json', content: JSON.stringify({ a: { conn_id: 'b' } }), field: 'connections.a.conn_id' },
    { name: 'uri beside other fields', format: 'json', content: JSON.stringify({ a: { uri: 'http://h', password: SECRET } }), field: 'connections.a.uri' },
    { name: 'extra that is not JSON', format: 'json', content: JSON.stringify({ a: { extra: `{${SECRET}` } }), field: 'connections.a.extra' },
    { name: 'extra that is a JSON list', format: 'json', content: JSON.stringify({ a: { extra: '[1]' } }), field: 'connections.a.extra' },
    { name: 'a port out of range', format: 'json', content: JSON.stringify({ a: { port: 70000 } }), field: 'connections.a.port' },
    { name: 'a conn_id Airflow refuses', format: 'json', content: JSON.stringify({ 'a b': { conn_type: 'http' } }), field: 'connections.a b' },
    { name: 'a top-level list', format: 'json', content: '[]', field: 'content' },
    { name: 'JSON that does not parse', format: 'json', content: `{"a": "${SECRET}"`, field: 'content' },
    { name: 'YAML with a key given twice', format: 'yaml', content: `a: x\na: ${SECRET}\n`, field: 'content' },
    { name: 'an env line without =', format: 'env', content: `a=http://h\n${SECRET}\n`, field: 'line.2' },
    { name: 'an env line with an empty value', format: 'env', content: 'a=\n', field: 'line.1' },
    { name: 'an env conn_id given twice', format: 'env', content: `a=http://h\na=http://u:${SECRET}@h\n`, field: 'line.2' },
    { name: 'an env URI Airflow rejects', format: 'env', content: `a=http://u:${SECRET}@h:notaport\n`, field: 'line.1' },
  ];
  for (const c of refused) {
    it(`refuses ${c.name} (ERR_VALIDATION on ${c.field}, never echoing a value)`, () => {
      assert.throws(
        () => parseConnectionsExport(c.content, c.format),
        (err: unknown) => {
          assert.ok(err instanceof AppError);
          assert.equal(err.code, 'ERR_VALIDATION');
          assert.equal(err.field, c.field);
          assert.notEqual(err.example, undefined);
          assert.equal(JSON.stringify({ m: err.message, d: err.details, e: err.example }).includes(SECRET), false, 'the error shows no value');
          return true;
        },
      );
    });
  }

  it('tells the format from the file name', () => {
    assert.deepEqual(['a.json', 'b.YAML', 'c.yml', 'd.env', 'e.txt'].map(formatOfFileName), ['json', 'yaml', 'yaml', 'env', undefined]);
  });
});
