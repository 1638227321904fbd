import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';

/** Each malformed request → the right 4xx, a stable code and the field at fault; state untouched. */
const cases: {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  contentType?: string;
  status: number;
  code: string;
  field?: string;
  example?: boolean;
}[] = [
  { name: 'malformed JSON', method: 'POST', path: '/api/v1/clusters', raw: '{"name": "x",', contentType: 'application/json', status: 400, code: 'ERR_MALFORMED_JSON', field: 'body' },
  { name: 'empty JSON body', method: 'POST', path: '/api/v1/clusters', raw: '', contentType: 'application/json', status: 400, code: 'ERR_MALFORMED_JSON', field: 'body' },
  { name: 'text body', method: 'POST', path: '/api/v1/clusters', raw: 'name=x', contentType: 'text/plain', status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'form body', method: 'POST', path: '/api/v1/clusters', raw: 'name=x', contentType: 'application/x-www-form-urlencoded', status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'body is an array', method: 'POST', path: '/api/v1/clusters', body: [], status: 400, code: 'ERR_VALIDATION', field: 'body' },
  { name: 'missing name', method: 'POST', path: '/api/v1/clusters', body: { cloud: 'aws', region: 'us-east-1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.name', example: true },
  { name: 'name not DNS-1123', method: 'POST', path: '/api/v1/clusters', body: { name: 'Prod_AWS', cloud: 'aws', region: 'us-east-1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.name', example: true },
  { name: 'name too long', method: 'POST', path: '/api/v1/clusters', body: { name: 'a'.repeat(64), cloud: 'aws', region: 'us-east-1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.name' },
  { name: 'unknown cloud', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'oracle', region: 'us-east-1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.cloud', example: true },
  { name: 'unknown type', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', type: 'shared', region: 'us-east-1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.type' },
  { name: 'region of another cloud', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-central1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.region', example: true },
  { name: 'unknown field', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-east-1', color: 'red' }, status: 400, code: 'ERR_UNKNOWN_FIELD', field: 'body.color', example: true },
  { name: 'wrong type of field', method: 'POST', path: '/api/v1/clusters', body: { name: 5, cloud: 'aws', region: 'us-east-1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.name' },
  { name: 'kubernetes issuer mode without the issuer', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-east-1', issuerMode: 'kubernetes' }, status: 400, code: 'ERR_VALIDATION', field: 'body.kubernetesIssuerUrl', example: true },
  { name: 'kubernetes issuer over plain http', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-east-1', kubernetesIssuerUrl: 'http://oidc.example.com/id/1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.kubernetesIssuerUrl', example: true },
  { name: 'kubernetes issuer not a URL', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-east-1', kubernetesIssuerUrl: 'oidc.example.com' }, status: 400, code: 'ERR_VALIDATION', field: 'body.kubernetesIssuerUrl', example: true },
  { name: 'kubernetes issuer with a query', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-east-1', kubernetesIssuerUrl: 'https://oidc.example.com/?a=1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.kubernetesIssuerUrl' },
  { name: 'CA that is not PEM', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-east-1', kubernetesCaCert: 'not a cert' }, status: 400, code: 'ERR_VALIDATION', field: 'body.kubernetesCaCert', example: true },
  { name: 'too many custom audiences', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-east-1', audiences: Array.from({ length: 11 }, (_, i) => `a${i}`) }, status: 400, code: 'ERR_VALIDATION', field: 'body.audiences' },
  { name: 'custom audience with a space', method: 'POST', path: '/api/v1/clusters', body: { name: 'x', cloud: 'aws', region: 'us-east-1', audiences: ['my service'] }, status: 400, code: 'ERR_VALIDATION', field: 'body.audiences', example: true },
  { name: 'duplicate name', method: 'POST', path: '/api/v1/clusters', body: { name: 'existing', cloud: 'gcp', region: 'us-central1' }, status: 409, code: 'ERR_CONFLICT', field: 'body.name' },
  { name: 'unknown cluster', method: 'GET', path: '/api/v1/clusters/nope', status: 404, code: 'ERR_NOT_FOUND', field: 'cluster' },
  { name: 'unknown cluster id', method: 'DELETE', path: '/api/v1/clusters/cl_00000000000000000000', status: 404, code: 'ERR_NOT_FOUND' },
  { name: 'limit out of range', method: 'GET', path: '/api/v1/clusters?limit=1000', status: 400, code: 'ERR_VALIDATION', field: 'query.limit', example: true },
  { name: 'limit not a number', method: 'GET', path: '/api/v1/clusters?limit=ten', status: 400, code: 'ERR_VALIDATION', field: 'query.limit' },
  { name: 'forged cursor', method: 'GET', path: '/api/v1/clusters?cursor=Zm9vIGJhcg', status: 400, code: 'ERR_VALIDATION', field: 'query.cursor' },
  { name: 'unknown query parameter', method: 'GET', path: '/api/v1/clusters?sort=name', status: 400, code: 'ERR_UNKNOWN_FIELD', field: 'query.sort' },
  { name: 'update with unknown field', method: 'PATCH', path: '/api/v1/clusters/existing', body: { cloud: 'gcp' }, status: 400, code: 'ERR_UNKNOWN_FIELD', field: 'body.cloud' },
  { name: 'update with a bad region', method: 'PATCH', path: '/api/v1/clusters/existing', body: { region: 'narnia-1' }, status: 400, code: 'ERR_VALIDATION', field: 'body.region' },
  { name: 'rotate with a non-boolean', method: 'POST', path: '/api/v1/clusters/existing/rotate-keys', body: { immediate: 'yes' }, status: 400, code: 'ERR_VALIDATION', field: 'body.immediate' },
  { name: 'unknown route', method: 'GET', path: '/api/v1/nothing-here', status: 404, code: 'ERR_ROUTE_NOT_FOUND' },
  { name: 'discovery for a name (ids only)', method: 'GET', path: '/clusters/existing/.well-known/openid-configuration', status: 404, code: 'ERR_NOT_FOUND' },
  { name: 'JWKS of an unknown cluster', method: 'GET', path: '/clusters/cl_00000000000000000000/openid/v1/jwks', status: 404, code: 'ERR_NOT_FOUND' },
];

describe('bad input is a clear 4xx and loses nothing', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    await s.app.clusters.create({ name: 'existing', cloud: 'aws', region: 'us-east-1' });
  });
  after(() => s.close());

  for (const c of cases) {
    it(c.name, async () => {
      const before = await s.api('GET', '/api/v1/clusters?limit=100');
      const opts: { headers?: Record<string, string>; raw?: string } = {};
      if (c.contentType !== undefined) opts.headers = { 'content-type': c.contentType };
      if (c.raw !== undefined) opts.raw = c.raw;
      const res = await s.api(c.method, c.path, c.body, opts);
      assert.equal(res.status, c.status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, c.code);
      assert.equal(typeof res.body.error.message, 'string');
      assert.doesNotMatch(res.body.error.message, /\bat .*\.ts:\d+/, 'no stack traces');
      if (c.field) assert.equal(res.body.error.field, c.field);
      if (c.example) assert.notEqual(res.body.error.example, undefined, 'an example of the accepted form');
      const after = await s.api('GET', '/api/v1/clusters?limit=100');
      assert.deepEqual(after.body, before.body, 'state is unchanged');
    });
  }

  it('an unexpected failure is an opaque 500 naming only a request id', async () => {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back as it was, by identity
    const original = s.app.store.clusters.list;
    s.app.store.clusters.list = async () => {
      throw new Error('connection reset: secret=hunter2');
    };
    try {
      const res = await s.api('GET', '/api/v1/clusters');
      assert.equal(res.status, 500);
      assert.equal(res.body.error.code, 'ERR_INTERNAL');
      assert.doesNotMatch(JSON.stringify(res.body), /hunter2|connection reset/);
    } finally {
      s.app.store.clusters.list = original;
    }
  });
});
