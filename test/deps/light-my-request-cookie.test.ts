/**
 * package.json pins light-my-request's `cookie` to 1.x (an `overrides` entry): cookie 2 declares
 * Node >= 22 and made `npm install` warn (EBADENGINE) on the Node 20 we support. This proves the
 * pinned version does what light-my-request asks of it — `stringifySetCookie`, used to encode
 * `inject({ cookies })` — and that fastify's inject and its Set-Cookie parsing work with it.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import Fastify from 'fastify';

test('fastify inject encodes cookies and parses Set-Cookie with the pinned cookie 1.x', async () => {
  const require = createRequire(createRequire(import.meta.url).resolve('light-my-request'));
  const version = (require('cookie/package.json') as { version: string }).version;
  assert.match(version, /^1\./, `light-my-request resolves cookie ${version}; the override in package.json should pin 1.x`);

  const app = Fastify();
  app.get('/echo', async (req, reply) => {
    reply.header('set-cookie', ['session=abc; Path=/; HttpOnly', 'theme=dark%20blue; Max-Age=60']);
    return { cookie: req.headers.cookie ?? null };
  });
  try {
    const res = await app.inject({ method: 'GET', url: '/echo', cookies: { a: '1', b: 'x y', scoped: { value: 'no', path: '/elsewhere' } as never } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { cookie: 'a=1; b=x%20y' }, `Cookie header as sent: ${res.body}`);
    assert.deepEqual(
      res.cookies.map((c) => ({ name: c.name, value: c.value })),
      [
        { name: 'session', value: 'abc' },
        { name: 'theme', value: 'dark blue' },
      ],
      JSON.stringify(res.cookies),
    );
  } finally {
    await app.close();
  }
});
