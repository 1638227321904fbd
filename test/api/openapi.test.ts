import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ERRORS } from '../../src/errors/index.ts';
import { startServer, type TestServer } from '../helpers/app.ts';

describe('OpenAPI document', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  it('lists every route in the table with its auth, generated from the validating schemas', async () => {
    const res = await s.api('GET', '/api/v1/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.body;
    assert.equal(doc.openapi, '3.0.3');
    for (const r of s.app.routes) {
      const op = doc.paths[r.path.replace(/:([A-Za-z]+)/g, '{$1}')]?.[r.method.toLowerCase()];
      assert.ok(op, `${r.method} ${r.path} is documented`);
      assert.deepEqual(op.security, r.auth === 'token' ? [{ bearer: [] }] : r.auth === 'workload' ? [{ workload: [] }] : []);
    }
    const create = doc.paths['/api/v1/clusters'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(create.required.sort(), ['cloud', 'name', 'region']);
    assert.equal(create.additionalProperties, false, 'unknown fields are rejected, and the document says so');
    assert.equal(create.properties.name.pattern, '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$');
  });

  it('docs/api.md has a row for every route, with its method', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'api.md'), 'utf8');
    const shape = (path: string) => path.replace(/:[A-Za-z]+|\{[A-Za-z]+\}/g, '{}');
    const rows = new Map<string, Set<string>>();
    for (const line of doc.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      if (cells.length < 4 || !/^[A-Z, ]+$/.test(cells[1]!)) continue;
      for (const [, path] of cells[2]!.matchAll(/`([^`]+)`/g)) {
        const set = rows.get(shape(path!)) ?? new Set();
        for (const m of cells[1]!.split(',')) set.add(m.trim());
        rows.set(shape(path!), set);
      }
    }
    const missing = s.app.routes.filter((r) => !rows.get(shape(r.path))?.has(r.method)).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(missing, [], 'routes without a row in docs/api.md');
  });
});

describe('error catalogue', () => {
  it('every code is documented in docs/errors.md', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
    for (const [code, { status }] of Object.entries(ERRORS)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} (${status}) has a row in docs/errors.md`);
    }
  });
});
