import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CelSyntaxError, evaluateCondition, parseCel, references, type CelActivation } from './cel.ts';

// A Kubernetes projected service-account token as Airlock mints it, with the attributes a
// typical mapping derives from it.
const env: CelActivation = {
  assertion: {
    iss: 'http://127.0.0.1:8080/clusters/cl_1',
    sub: 'system:serviceaccount:etl:loader',
    aud: ['//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/airlock/providers/k8s'],
    iat: 1700000000,
    admin: false,
    groups: ['data', 'etl'],
    'kubernetes.io': { namespace: 'etl', serviceaccount: { name: 'loader', uid: 'u-1' } },
  },
  attribute: { namespace: 'etl', sa: 'loader', teams: ['data', 'ops'] },
  google: { subject: 'system:serviceaccount:etl:loader' },
};

describe('CEL subset: evaluation', () => {
  const cases: { name: string; expr: string; pass: boolean; reason?: RegExp }[] = [
    { name: 'string equality on a claim', expr: "assertion.sub == 'system:serviceaccount:etl:loader'", pass: true },
    { name: 'double-quoted literals', expr: 'assertion.sub == "system:serviceaccount:etl:loader"', pass: true },
    { name: 'inequality', expr: "assertion.sub != 'system:serviceaccount:etl:other'", pass: true },
    { name: 'bracket selection of a dotted key', expr: "assertion['kubernetes.io']['namespace'] == 'etl'", pass: true },
    { name: 'mixed bracket and dot selection', expr: "assertion['kubernetes.io'].serviceaccount.name == 'loader'", pass: true },
    { name: 'mapped attribute', expr: "attribute.namespace == 'etl'", pass: true },
    { name: 'google.subject', expr: "google.subject.startsWith('system:serviceaccount:etl:')", pass: true },
    { name: 'startsWith false', expr: "attribute.sa.startsWith('web-')", pass: false, reason: /false/ },
    { name: 'endsWith', expr: "assertion.sub.endsWith(':loader')", pass: true },
    { name: 'in a list literal', expr: "attribute.sa in ['loader', 'writer']", pass: true },
    { name: 'not in a list literal', expr: "attribute.sa in ['writer']", pass: false },
    { name: 'list membership in a claim', expr: "'etl' in assertion.groups", pass: true },
    { name: 'list membership in a list attribute', expr: "'ops' in attribute.teams", pass: true },
    { name: 'key membership in a map', expr: "'namespace' in assertion['kubernetes.io']", pass: true },
    { name: '&& both true', expr: "attribute.namespace == 'etl' && attribute.sa == 'loader'", pass: true },
    { name: '&& one false', expr: "attribute.namespace == 'etl' && attribute.sa == 'writer'", pass: false },
    { name: '|| one true', expr: "attribute.namespace == 'web' || attribute.sa == 'loader'", pass: true },
    { name: '&& binds tighter than ||', expr: "attribute.sa == 'x' && attribute.sa == 'y' || attribute.namespace == 'etl'", pass: true },
    { name: 'parentheses override precedence', expr: "attribute.sa == 'x' && (attribute.sa == 'y' || attribute.namespace == 'etl')", pass: false },
    { name: 'negation', expr: "!(attribute.namespace == 'kube-system')", pass: true },
    { name: 'integer claim', expr: 'assertion.iat == 1700000000', pass: true },
    { name: 'boolean claim', expr: 'assertion.admin == false', pass: true },
    { name: 'bare boolean claim', expr: '!assertion.admin', pass: true },
    { name: 'string and int are never equal', expr: "assertion.iat == '1700000000'", pass: false },
    // CEL: selecting an absent field is an error, which fails the condition...
    { name: 'missing claim is an error, not null', expr: "assertion.repository == 'x'", pass: false, reason: /no such key: repository/ },
    { name: 'missing claim compared with != is still an error', expr: "assertion.repository != 'x'", pass: false, reason: /no such key/ },
    // ...unless the other side of && / || decides the result (CEL's commutative error absorption).
    { name: 'error || true is true', expr: "assertion.repository == 'x' || attribute.sa == 'loader'", pass: true },
    { name: 'true || error is true', expr: "attribute.sa == 'loader' || assertion.repository == 'x'", pass: true },
    { name: 'false && error is false', expr: "attribute.sa == 'x' && assertion.repository == 'x'", pass: false, reason: /false/ },
    { name: 'error && true is an error', expr: "assertion.repository == 'x' && attribute.sa == 'loader'", pass: false, reason: /no such key/ },
    { name: 'unmapped attribute is an error', expr: "attribute.team == 'x'", pass: false, reason: /no such key: team/ },
    { name: 'startsWith on a non-string', expr: "assertion.iat.startsWith('1')", pass: false, reason: /no matching overload/ },
    { name: 'a non-bool result does not pass', expr: 'assertion.sub', pass: false, reason: /not a bool/ },
    { name: 'the literal true passes', expr: 'true', pass: true },
    { name: 'escape sequences in literals', expr: "'it\\'s' == \"it's\"", pass: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = evaluateCondition(parseCel(c.expr), env);
      assert.equal(r.pass, c.pass, `${c.expr} → ${JSON.stringify(r)}`);
      if (!r.pass && c.reason) assert.match(r.reason, c.reason);
    });
  }
});

describe('CEL subset: refused at configuration time', () => {
  const cases: { name: string; expr: string; error: RegExp }[] = [
    { name: 'unknown root name', expr: "request.auth == 'x'", error: /unknown name "request"/ },
    { name: 'other functions', expr: "assertion.sub.contains('etl')", error: /function "contains".*not in the supported CEL subset/ },
    { name: 'global functions', expr: "size(assertion.groups) == 2", error: /function "size"/ },
    { name: 'has() macro', expr: 'has(assertion.sub)', error: /function "has"/ },
    { name: 'extract', expr: "assertion.sub.extract('{x}')", error: /function "extract"/ },
    { name: 'ordering comparisons', expr: 'assertion.iat > 5', error: /ordering comparisons/ },
    { name: 'concatenation', expr: "assertion.sub + 'x' == 'y'", error: /concatenation/ },
    { name: 'ternary', expr: "assertion.admin ? true : false", error: /conditional operator/ },
    { name: 'map literal', expr: "{'a': 1} == assertion.x", error: /map literals/ },
    { name: 'negative numbers', expr: 'assertion.n == -1', error: /arithmetic|negative/ },
    { name: 'floats', expr: 'assertion.n == 1.5', error: /plain decimal integers/ },
    { name: 'non-string index', expr: 'assertion.groups[0] == "x"', error: /only string keys/ },
    { name: 'unterminated string', expr: "assertion.sub == 'x", error: /unterminated string/ },
    { name: 'trailing operator', expr: "assertion.sub == 'x' &&", error: /expected a value, found end of expression/ },
    { name: 'trailing garbage', expr: "assertion.sub == 'x' 'y'", error: /expected an operator or the end/ },
    { name: 'chained comparison', expr: "assertion.a == assertion.b == true", error: /chained comparison/ },
    { name: 'bare root', expr: "assertion == 'x'", error: /must be followed by a field/ },
    { name: 'field of an attribute', expr: "attribute.team.name == 'x'", error: /attribute.team is a string or a list/ },
    { name: 'constant string', expr: "'true'", error: /constant, not a condition/ },
    { name: 'list', expr: "['a']", error: /a list, not a condition/ },
    { name: 'empty', expr: '   ', error: /empty/ },
    { name: 'two arguments', expr: "assertion.sub.startsWith('a', 'b')", error: /exactly one argument/ },
    { name: 'unsupported escape', expr: "assertion.sub == '\\u0041'", error: /unsupported escape/ },
    { name: 'too deep', expr: `${'('.repeat(70)}true${')'.repeat(70)}`, error: /nests deeper/ },
    { name: 'too long', expr: `assertion.sub == '${'x'.repeat(5000)}'`, error: /longer than 4096/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(() => parseCel(c.expr), (err: unknown) => {
        assert.ok(err instanceof CelSyntaxError, String(err));
        assert.match(err.message, c.error);
        return true;
      });
    });
  }
});

describe('CEL subset: references', () => {
  it('lists every path an expression reads, for checking against the mapping', () => {
    const refs = references(parseCel("attribute.ns == 'etl' && google.subject.startsWith(assertion['kubernetes.io'].namespace) || 'x' in attribute.teams"));
    assert.deepEqual(refs, [
      { root: 'attribute', path: ['ns'] },
      { root: 'google', path: ['subject'] },
      { root: 'assertion', path: ['kubernetes.io', 'namespace'] },
      { root: 'attribute', path: ['teams'] },
    ]);
  });
});
