import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/app.ts';

/**
 * HTTP preconditions over the versions the API already keeps: every answer with a `version`
 * carries it as its ETag, and `If-Match` with that ETag guards a change the way `version` in the
 * request does, answering 412 when someone changed the resource meanwhile — and changing nothing.
 */
describe('ETag and If-Match', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    assert.equal((await s.api('POST', '/api/v1/clusters', { name: 'one', cloud: 'aws', region: 'us-east-1' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'one', runtimeVersion: '12.1.0' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/connections', { connId: 'pg', connType: 'postgres', host: 'db1' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments/etl/variables', { variables: [{ key: 'MODE', value: 'a' }] })).status, 201);
  });
  after(() => s.close());
  const ifMatch = (v: string) => ({ headers: { 'if-match': v } });

  it('a connection: its ETag is its version; If-Match with it applies the change and answers the next ETag', async () => {
    const got = await s.api('GET', '/api/v1/connections/pg');
    assert.equal(got.headers.get('etag'), `"${got.body.version}"`);
    const r = await s.api('PATCH', '/api/v1/connections/pg', { host: 'db2' }, ifMatch(got.headers.get('etag')!));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.host, r.headers.get('etag')], ['db2', `"${got.body.version + 1}"`]);
  });

  it('a stale If-Match is 412 ERR_PRECONDITION_FAILED at headers.if-match, and the connection is left as it was', async () => {
    const before = (await s.api('GET', '/api/v1/connections/pg')).body;
    const r = await s.api('PATCH', '/api/v1/connections/pg', { host: 'db3' }, ifMatch(`"${before.version - 1}"`));
    assert.equal(r.status, 412, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'ERR_PRECONDITION_FAILED');
    assert.equal(r.body.error.field, 'headers.if-match');
    assert.match(r.body.error.message, /changed by someone else/);
    const now = (await s.api('GET', '/api/v1/connections/pg')).body;
    assert.deepEqual([now.host, now.version], [before.host, before.version]);
    await s.app.audit.flush();
    const last = (await s.app.store.audit.list({ newestFirst: {}, limit: 1 }))[0]!;
    assert.deepEqual([last.action, last.result], ['connection.update', 'ERR_PRECONDITION_FAILED'], 'the refused change is in the audit log');
  });

  const refused: [string, Record<string, string>, unknown, RegExp][] = [
    ['a weak ETag (versions are compared exactly)', { 'if-match': 'W/"2"' }, { host: 'x' }, /If-Match must be one ETag this API sent/],
    ['a list of ETags', { 'if-match': '"1", "2"' }, { host: 'x' }, /If-Match must be one ETag this API sent/],
    ['an unquoted version', { 'if-match': '2' }, { host: 'x' }, /If-Match must be one ETag this API sent/],
    ['If-Match and a body version that disagree', { 'if-match': '"2"' }, { host: 'x', version: 1 }, /body\.version \(1\) and If-Match \("2"\) name different versions/],
  ];
  for (const [name, headers, body, message] of refused) {
    it(`refuses ${name} with 400 at headers.if-match, changing nothing`, async () => {
      const before = (await s.api('GET', '/api/v1/connections/pg')).body;
      const r = await s.api('PATCH', '/api/v1/connections/pg', body, { headers });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.deepEqual([r.body.error.code, r.body.error.field], ['ERR_VALIDATION', 'headers.if-match']);
      assert.match(r.body.error.message, message);
      assert.ok(r.body.error.example, 'with an example of the accepted form');
      assert.equal((await s.api('GET', '/api/v1/connections/pg')).body.version, before.version);
    });
  }

  it('If-Match: * sets no precondition', async () => {
    const r = await s.api('PATCH', '/api/v1/connections/pg', { description: 'any version' }, ifMatch('*'));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  it('a change that has no version to compare refuses If-Match instead of ignoring it', async () => {
    const r = await s.api('DELETE', '/api/v1/connections/pg', undefined, ifMatch('"1"'));
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.error.message, /takes no If-Match/);
    assert.equal((await s.api('GET', '/api/v1/connections/pg')).status, 200, 'not deleted');
  });

  it('a variable: PATCH and DELETE take If-Match (DELETE in place of ?version=); stale ones change nothing', async () => {
    const list = async () => (await s.api('GET', '/api/v1/deployments/etl/variables')).body.items as { key: string; value: string; version: number }[];
    const v = (await list())[0]!;
    const stale = await s.api('PATCH', '/api/v1/deployments/etl/variables/MODE', { value: 'b' }, ifMatch(`"${v.version + 1}"`));
    assert.deepEqual([stale.status, stale.body.error.code], [412, 'ERR_PRECONDITION_FAILED']);
    const ok = await s.api('PATCH', '/api/v1/deployments/etl/variables/MODE', { value: 'b' }, ifMatch(`"${v.version}"`));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.headers.get('etag'), `"${v.version + 1}"`);
    const staleDelete = await s.api('DELETE', '/api/v1/deployments/etl/variables/MODE', undefined, ifMatch(`"${v.version}"`));
    assert.deepEqual([staleDelete.status, staleDelete.body.error.code], [412, 'ERR_PRECONDITION_FAILED']);
    assert.deepEqual((await list()).map((x) => [x.key, x.value]), [['MODE', 'b']]);
    const del = await s.api('DELETE', '/api/v1/deployments/etl/variables/MODE', undefined, ifMatch(ok.headers.get('etag')!));
    assert.ok(del.status < 300, JSON.stringify(del.body));
    assert.deepEqual(await list(), []);
  });

  it('the OpenAPI document names If-Match on the routes that take it', async () => {
    const doc = (await s.api('GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { parameters: { name: string; in: string }[] }>> };
    const has = (path: string, method: string) => doc.paths[path]![method]!.parameters.some((p) => p.name === 'If-Match' && p.in === 'header');
    assert.deepEqual(
      [has('/api/v1/connections/{connection}', 'patch'), has('/api/v1/deployments/{deployment}/variables/{key}', 'patch'), has('/api/v1/deployments/{deployment}/variables/{key}', 'delete'), has('/api/v1/connections/{connection}', 'delete')],
      [true, true, true, false],
    );
  });
});
