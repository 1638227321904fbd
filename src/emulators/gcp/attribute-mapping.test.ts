import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyMapping, compileMapping, MappingError } from './attribute-mapping.ts';

const claims = {
  sub: 'system:serviceaccount:etl:loader',
  iat: 1700000000,
  email_verified: true,
  groups: ['data', 'etl'],
  mixed: ['a', 1],
  nested: { deep: { value: 'v' } },
  'kubernetes.io': { namespace: 'etl', serviceaccount: { name: 'loader', uid: 'u-1' } },
  empty: '',
  nothing: null,
};

describe('attribute mapping: applied to a token', () => {
  const cases: { name: string; mapping: Record<string, string>; subject: string | undefined; google?: Record<string, unknown>; attributes?: Record<string, unknown> }[] = [
    { name: 'google.subject from sub', mapping: { 'google.subject': 'assertion.sub' }, subject: 'system:serviceaccount:etl:loader', attributes: {} },
    {
      name: "Kubernetes claims through assertion['kubernetes.io']",
      mapping: {
        'google.subject': 'assertion.sub',
        'attribute.namespace': "assertion['kubernetes.io']['namespace']",
        'attribute.service_account_name': "assertion['kubernetes.io'].serviceaccount.name",
      },
      subject: 'system:serviceaccount:etl:loader',
      attributes: { namespace: 'etl', service_account_name: 'loader' },
    },
    { name: 'dotted path', mapping: { 'google.subject': 'assertion.nested.deep.value' }, subject: 'v' },
    { name: 'list of strings', mapping: { 'google.subject': 'assertion.sub', 'google.groups': 'assertion.groups' }, subject: claims.sub, google: { subject: claims.sub, groups: ['data', 'etl'] } },
    { name: 'numbers and booleans become strings', mapping: { 'google.subject': 'assertion.sub', 'attribute.iat': 'assertion.iat', 'attribute.ev': 'assertion.email_verified' }, subject: claims.sub, attributes: { iat: '1700000000', ev: 'true' } },
    { name: 'a missing claim leaves the attribute unset', mapping: { 'google.subject': 'assertion.sub', 'attribute.repo': 'assertion.repository' }, subject: claims.sub, attributes: {} },
    { name: 'a missing nested claim leaves it unset', mapping: { 'google.subject': 'assertion.nested.missing.value' }, subject: undefined },
    { name: 'a null claim leaves it unset', mapping: { 'google.subject': 'assertion.nothing' }, subject: undefined },
    { name: 'an empty subject is kept for STS to refuse', mapping: { 'google.subject': 'assertion.empty' }, subject: '' },
    { name: 'selecting into a string yields nothing', mapping: { 'google.subject': 'assertion.sub.x' }, subject: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { mapping, problems } = compileMapping(c.mapping);
      assert.deepEqual(problems, []);
      const out = applyMapping(mapping!, claims);
      assert.equal(out.subject, c.subject);
      if (c.google) assert.deepEqual(out.google, c.google);
      if (c.attributes) assert.deepEqual(out.attributes, c.attributes);
    });
  }

  const refused: { name: string; mapping: Record<string, string>; error: RegExp }[] = [
    { name: 'a map value', mapping: { 'google.subject': 'assertion.sub', 'attribute.k8s': "assertion['kubernetes.io']" }, error: /attribute.k8s must be a string or a list of strings/ },
    { name: 'a list with non-strings', mapping: { 'google.subject': 'assertion.sub', 'attribute.mixed': 'assertion.mixed' }, error: /must be a string or a list/ },
    { name: 'a list as subject', mapping: { 'google.subject': 'assertion.groups' }, error: /google.subject must be a string/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      const { mapping } = compileMapping(c.mapping);
      assert.throws(() => applyMapping(mapping!, claims), (err: unknown) => err instanceof MappingError && c.error.test(err.message));
    });
  }
});

describe('attribute mapping: checked at configuration time', () => {
  const cases: { name: string; mapping: Record<string, string>; problems: { key: string; message: RegExp }[] }[] = [
    { name: 'google.subject is required', mapping: { 'attribute.ns': 'assertion.ns' }, problems: [{ key: 'google.subject', message: /must define google.subject/ }] },
    { name: 'unsupported google attribute', mapping: { 'google.subject': 'assertion.sub', 'google.posix_username': 'assertion.u' }, problems: [{ key: 'google.posix_username', message: /not supported/ }] },
    { name: 'bad custom attribute name', mapping: { 'google.subject': 'assertion.sub', 'attribute.Team-Name': 'assertion.t' }, problems: [{ key: 'attribute.Team-Name', message: /not an attribute name/ }] },
    { name: 'target without prefix', mapping: { 'google.subject': 'assertion.sub', team: 'assertion.t' }, problems: [{ key: 'team', message: /not an attribute name/ }] },
    { name: 'an expression, not a path', mapping: { 'google.subject': "assertion.sub + ':' + assertion.aud" }, problems: [{ key: 'google.subject', message: /cannot parse.*concatenation/ }] },
    { name: 'a function call', mapping: { 'google.subject': "assertion.sub.startsWith('x')" }, problems: [{ key: 'google.subject', message: /not a path into the token/ }] },
    { name: 'extract() is refused', mapping: { 'google.subject': "assertion.sub.extract('{x}')" }, problems: [{ key: 'google.subject', message: /function "extract"/ }] },
    { name: 'a path into attributes', mapping: { 'google.subject': 'attribute.x' }, problems: [{ key: 'google.subject', message: /not a path into the token/ }] },
    { name: 'the bare assertion', mapping: { 'google.subject': 'assertion' }, problems: [{ key: 'google.subject', message: /must be followed by a field/ }] },
    { name: 'a literal', mapping: { 'google.subject': "'fixed'" }, problems: [{ key: 'google.subject', message: /constant/ }] },
    {
      name: 'every problem at once',
      mapping: { 'attribute.A': 'assertion.a', 'attribute.b': 'b' },
      problems: [
        { key: 'google.subject', message: /must define/ },
        { key: 'attribute.A', message: /not an attribute name/ },
        { key: 'attribute.b', message: /unknown name "b"/ },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { mapping, problems } = compileMapping(c.mapping);
      assert.equal(mapping, undefined);
      assert.equal(problems.length, c.problems.length, JSON.stringify(problems));
      c.problems.forEach((p, i) => {
        assert.equal(problems[i]!.key, p.key);
        assert.match(problems[i]!.message, p.message);
      });
    });
  }
});
