/**
 * The Airflow connection codec against test/fixtures/connections/airflow-vectors.json. Cases whose
 * `source` names an apache/airflow file are that file's own cases:
 *   - tests/always/test_connection.py (Airflow 2.x; airflow-core/tests/unit/always/test_connection.py
 *     in Airflow 3): test_from_uri_params, test_connection_from_with_auth_info, test_from_json_*,
 *     test_as_json_from_connection, test_get_uri_no_conn_type, test_connection_mixed,
 *     test_extra_warnings_* (which Airflow 3 raises and 2.x only warned about);
 *   - airflow-core/tests/unit/models/test_connection.py: test_parse_from_uri, test_get_uri,
 *     test_sanitize_conn_id, test_connection_uri_recovery.
 * The others are ours. Every vector was also run through a transcription of Airflow's Connection
 * on CPython 3.11 (not part of the suite, which must not need Airflow or Python).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AppError } from '../errors/index.ts';
import {
  isValidConnId,
  parseConnectionJson,
  parseConnectionUri,
  renderConnectionJson,
  renderConnectionUri,
  type AirflowConnectionFields,
} from './codec.ts';

interface Vectors {
  uri: { name: string; source: string; uri: string; fields: AirflowConnectionFields; rendered?: string }[];
  uriRejected: { name: string; source: string; uri: string; reason: string }[];
  json: { name: string; source: string; json: string; fields: AirflowConnectionFields }[];
  jsonRejected: { name: string; source: string; json: string; reason: string }[];
  render: { name: string; source: string; fields: AirflowConnectionFields; uri?: string; json?: string }[];
  connIds: { id: string; valid: boolean; source: string }[];
}

const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'connections', 'airflow-vectors.json'), 'utf8')) as Vectors;

function rejection(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection, got a value');
}

/**
 * Airflow's own round trips lose exactly these, and so do ours: get_uri() and from_json() skip a
 * port 0 (`if self.port:` / `if port:`), get_uri() writes no empty login without a password,
 * from_json() drops an empty conn_type, and urlsplit lower-cases a host that only kept its case
 * because it was read with a `/` in it (`k8s%3A%2F%2FH` → `k8s://H` → `k8s://h`).
 */
function assertSameButAirflowLoss(before: AirflowConnectionFields, after: AirflowConnectionFields, what: string): void {
  const lost = (k: keyof AirflowConnectionFields): boolean => {
    const [a, b] = [before[k], after[k]];
    if (k === 'port') return a === 0 && b === null;
    if (k === 'login') return a === '' && b === null && before.password === null;
    if (k === 'conn_type') return a === '' && b === null;
    if (k === 'host') return typeof a === 'string' && a !== b && b === a.toLowerCase();
    return false;
  };
  for (const k of Object.keys(before) as (keyof AirflowConnectionFields)[]) {
    if (!lost(k)) assert.deepEqual(after[k], before[k], `${what}: ${k} was ${JSON.stringify(before[k])}, read back ${JSON.stringify(after[k])}`);
  }
}

void describe('parseConnectionUri: as Connection(uri=...)', () => {
  for (const v of vectors.uri) {
    void it(`${v.name} [${v.source.split(' ')[1] ?? v.source}]`, () => {
      const got = parseConnectionUri(v.uri);
      assert.deepEqual(got, v.fields, `${v.uri} parsed as ${JSON.stringify(got)}`);
      if (v.rendered !== undefined) assert.equal(renderConnectionUri(got), v.rendered);
    });
  }
});

void describe('parseConnectionUri: what Airflow rejects, with its reason', () => {
  for (const v of vectors.uriRejected) {
    void it(v.name, () => {
      const err = rejection(() => parseConnectionUri(v.uri));
      assert.equal(err.code, 'ERR_VALIDATION');
      assert.equal(err.field, 'uri');
      assert.ok(err.message.includes(v.reason), `message: ${err.message}`);
      assert.equal(typeof err.example, 'string');
      // The example is itself accepted.
      parseConnectionUri(err.example as string);
    });
  }

  void it('never repeats the URI or a piece of its password', () => {
    for (const uri of ['mysql://user:pa/xq7zk@host/db', 'a://user:s3cr3tpw@b://c://d', 'x://u:s3cr3tpw@h?__extra__=s3cr3tpw', 'mysql://user:s3#cr3tpw@host/db']) {
      const err = rejection(() => parseConnectionUri(uri));
      for (const secret of ['xq7zk', 's3cr3tpw', 'cr3tpw']) assert.equal(err.message.includes(secret), false, `${uri} → ${err.message}`);
      assert.equal(JSON.stringify(err.details).includes('s3cr3t'), false, JSON.stringify(err.details));
    }
  });
});

void describe('parseConnectionJson: as Connection.from_json', () => {
  for (const v of vectors.json) {
    void it(`${v.name} [${v.source.split(' ')[1] ?? v.source}]`, () => {
      const got = parseConnectionJson(v.json);
      assert.deepEqual(got, v.fields, `${v.json} parsed as ${JSON.stringify(got)}`);
    });
  }
  void it('every JSON vector renders with as_json() and reads back the same, but for what Airflow itself drops', () => {
    for (const v of vectors.json) {
      const json = renderConnectionJson(v.fields);
      assertSameButAirflowLoss(v.fields, parseConnectionJson(json), `${v.name}: ${json}`);
    }
  });
  for (const v of vectors.jsonRejected) {
    void it(`rejects: ${v.name}`, () => {
      const err = rejection(() => parseConnectionJson(v.json));
      assert.equal(err.code, 'ERR_VALIDATION');
      assert.equal(err.field, 'json');
      assert.ok(err.message.includes(v.reason), `message: ${err.message}`);
      assert.equal(err.message.includes('s3cr3t'), false, err.message);
      parseConnectionJson(err.example as string);
    });
  }
});

void describe('renderConnectionUri / renderConnectionJson: as get_uri() / as_json()', () => {
  for (const v of vectors.render) {
    void it(v.name, () => {
      if (v.uri !== undefined) assert.equal(renderConnectionUri(v.fields), v.uri);
      if (v.json !== undefined) assert.equal(renderConnectionJson(v.fields), v.json);
    });
  }

  void it('every parsed vector renders to a URI and JSON that read back the same, but for what Airflow itself drops', () => {
    for (const v of vectors.uri) {
      const uri = renderConnectionUri(v.fields);
      const fromUri = parseConnectionUri(uri);
      assertSameButAirflowLoss(v.fields, fromUri, `${v.name}: ${v.uri} → ${uri}`);
      const again = renderConnectionUri(fromUri);
      assert.equal(renderConnectionUri(parseConnectionUri(again)), again, `${v.name}: get_uri is a fixed point after one pass`);
      const json = renderConnectionJson(v.fields);
      assertSameButAirflowLoss(v.fields, parseConnectionJson(json), `${v.name}: ${json}`);
    }
  });
});

/** The connections `deployment identity setup` prints for each cloud and route (src/cloud/*). */
const SEED_CONNECTIONS: { name: string; conn_type: string; extra: Record<string, unknown>; uri: string }[] = [
  {
    name: 'aws: IAM role chained from the default identity (role_arn, region_name)',
    conn_type: 'aws',
    extra: { role_arn: 'arn:aws:iam::123456789012:role/etl-reader', region_name: 'us-east-1' },
    uri: 'aws:///?role_arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fetl-reader&region_name=us-east-1',
  },
  {
    name: 'aws: customer role by web identity',
    conn_type: 'aws',
    extra: {
      role_arn: 'arn:aws:iam::123456789012:role/etl-reader',
      region_name: 'eu-west-1',
      assume_role_method: 'assume_role_with_web_identity',
      assume_role_with_web_identity_federation: 'file',
      assume_role_with_web_identity_token_file: '/var/run/secrets/airlock/aws/token',
    },
    uri:
      'aws:///?role_arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fetl-reader&region_name=eu-west-1&assume_role_method=assume_role_with_web_identity' +
      '&assume_role_with_web_identity_federation=file&assume_role_with_web_identity_token_file=%2Fvar%2Frun%2Fsecrets%2Fairlock%2Faws%2Ftoken',
  },
  { name: 'google_cloud_platform: default identity (project only)', conn_type: 'google_cloud_platform', extra: { project: 'my-proj' }, uri: 'google-cloud-platform:///?project=my-proj' },
  {
    name: 'google_cloud_platform: impersonation chain as a string',
    conn_type: 'google_cloud_platform',
    extra: { impersonation_chain: 'sa@my-proj.iam.gserviceaccount.com', project: 'my-proj' },
    uri: 'google-cloud-platform:///?impersonation_chain=sa%40my-proj.iam.gserviceaccount.com&project=my-proj',
  },
  {
    name: 'google_cloud_platform: impersonation chain as a list (nested: __extra__)',
    conn_type: 'google_cloud_platform',
    extra: { impersonation_chain: ['a@p.iam.gserviceaccount.com', 'b@p.iam.gserviceaccount.com'], project: 'p' },
    uri: 'google-cloud-platform:///?__extra__=%7B%22impersonation_chain%22%3A+%5B%22a%40p.iam.gserviceaccount.com%22%2C+%22b%40p.iam.gserviceaccount.com%22%5D%2C+%22project%22%3A+%22p%22%7D',
  },
  {
    name: 'google_cloud_platform: credential configuration object (nested: __extra__)',
    conn_type: 'google_cloud_platform',
    extra: {
      credential_config_file: {
        universe_domain: 'googleapis.com',
        type: 'external_account',
        audience: '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/airlock/providers/airlock',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: 'https://sts.googleapis.com/v1/token',
        credential_source: { file: '/var/run/secrets/airlock/gcp/token', format: { type: 'text' } },
        service_account_impersonation_url: 'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken',
      },
      project: 'p',
    },
    uri: '',
  },
  {
    name: 'azure: managed identity',
    conn_type: 'azure',
    extra: {
      managed_identity_client_id: '00000000-0000-0000-0000-0000000000aa',
      workload_identity_tenant_id: '00000000-0000-0000-0000-0000000000bb',
      subscriptionId: '00000000-0000-0000-0000-0000000000cc',
    },
    uri:
      'azure:///?managed_identity_client_id=00000000-0000-0000-0000-0000000000aa&workload_identity_tenant_id=00000000-0000-0000-0000-0000000000bb' +
      '&subscriptionId=00000000-0000-0000-0000-0000000000cc',
  },
];

void describe("round-trips of the seeds' cloud connections", () => {
  for (const s of SEED_CONNECTIONS) {
    void it(s.name, () => {
      // As Airflow holds it after reading a URI: host and schema empty strings, the rest null.
      const c: AirflowConnectionFields = { conn_type: s.conn_type, host: '', login: null, password: null, schema: '', port: null, extra: s.extra };
      const uri = renderConnectionUri(c);
      if (s.uri) assert.equal(uri, s.uri);
      assert.deepEqual(parseConnectionUri(uri), c, uri);
      const json = renderConnectionJson(c);
      assert.deepEqual(parseConnectionJson(json), c, json);
      // As created from fields (Connection(conn_type=..., extra=...)): no host, no schema.
      const bare: AirflowConnectionFields = { ...c, host: null, schema: null };
      const bareJson = renderConnectionJson(bare);
      assert.equal(bareJson, `{"conn_type": "${s.conn_type}", "extra": ${bareJson.slice(bareJson.indexOf('"extra": ') + 9, -1)}}`);
      assert.deepEqual(parseConnectionJson(bareJson), bare, bareJson);
      assert.equal(renderConnectionUri(bare), uri, 'a URI cannot tell an empty host from none');
      // URI → JSON → URI is stable byte for byte.
      assert.equal(renderConnectionUri(parseConnectionJson(renderConnectionJson(parseConnectionUri(uri)))), uri);
    });
  }
});

void describe('isValidConnId: RE_SANITIZE_CONN_ID, at most 250 characters', () => {
  for (const v of vectors.connIds) {
    void it(`${JSON.stringify(v.id.length > 40 ? `${v.id.slice(0, 10)}…(${v.id.length})` : v.id)} → ${v.valid}`, () => {
      assert.equal(isValidConnId(v.id), v.valid);
    });
  }
});
