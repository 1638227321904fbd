import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../errors/index.ts';
import { ACCOUNT, GENERATED, ISSUER, NS, PROVIDER, SUB, SUBJECTS, TRUST_CASES, USER, caller, doc } from './trust-policy.cases.ts';
import { evaluateTrustPolicy, parseTrustPolicy, type PolicyStatement, type TrustRequest } from './trust-policy.ts';

// The evaluation table (fixtures and cases) is in trust-policy.cases.ts, shared with the
// independent-evaluator check in test/aws-policy/.

describe('evaluateTrustPolicy', () => {
  for (const c of TRUST_CASES) {
    test(c.name, { timeout: 5000 }, () => {
      const decision = evaluateTrustPolicy(parseTrustPolicy(c.policy), c.req);
      assert.equal(decision.decision, c.expect, JSON.stringify(decision));
      if (c.statement !== undefined) assert.equal('statement' in decision ? decision.statement : undefined, c.statement);
      if (c.reason) assert.match('reason' in decision ? decision.reason : '', c.reason);
    });
  }

  test('validates an unparsed object the same way parseTrustPolicy does', () => {
    const bad = doc({ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Condition: { StringEqualz: { k: 'v' } } });
    assert.throws(() => evaluateTrustPolicy(bad as never, caller(USER)), (e: unknown) => e instanceof AppError && e.code === 'ERR_VALIDATION' && e.field === 'Statement[0].Condition.StringEqualz');
  });
});

// ---- parseTrustPolicy: rejected documents --------------------------------------------------------

/** The product guide's "specify service accounts" example, verbatim apart from its placeholders. */
const SEED_CONDITION_VERBATIM = `{
"Condition": {
"StringLike": {
"<issuer>:aud": "sts.amazonaws.com",
"<issuer>:sub": "system:serviceaccount:<ns>:<ns>-kpo"
"<issuer>:sub": "system:serviceaccount:<ns>:<ns>-dag-processor-serviceaccount"
"<issuer>:sub": "system:serviceaccount:<ns>:<ns>-scheduler-serviceaccount"
"<issuer>:sub": "system:serviceaccount:<ns>:<ns>-triggerer-serviceaccount"
"<issuer>:sub": "system:serviceaccount:<ns>:<ns>-webserver-serviceaccount"
"<issuer>:sub": "system:serviceaccount:<ns>:<ns>-worker-serviceaccount"
}
}
}`
  .replaceAll('<issuer>', ISSUER)
  .replaceAll('<ns>', NS);

/** The seed's condition placed in a whole trust policy: with the commas fixed, or as printed. */
function seedPolicy(withCommas: boolean): string {
  const condition = withCommas ? SEED_CONDITION_VERBATIM.replace(/"\n"/g, '",\n"') : SEED_CONDITION_VERBATIM;
  const inner = condition.trim().slice(1, -1); // drop the outer braces: "Condition": {...}
  return `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": { "Federated": "${PROVIDER}" },
      "Action": "sts:AssumeRoleWithWebIdentity",
      ${inner}
    }
  ]
}`;
}

interface Rejection {
  name: string;
  input: string | object;
  field: string | undefined;
  message: RegExp;
}

const base = (): Record<string, unknown> => ({ Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity' });
const withStatement = (patch: Record<string, unknown>) => {
  const s = { ...base(), ...patch };
  for (const [k, v] of Object.entries(s)) if (v === undefined) delete s[k];
  return { Version: '2012-10-17', Statement: [s] };
};

const rejections: Rejection[] = [
  {
    name: "the seed's repeated :sub keys (commas fixed) are rejected, naming the key and asking for one array",
    input: seedPolicy(true),
    field: 'Statement[0].Condition.StringLike',
    message: /names the condition key "127\.0\.0\.1:8080\/clusters\/cl_abc:sub" 6 times.*belong in one key as an array/s,
  },
  {
    name: 'the seed printed without commas is rejected at the missing comma, also naming the repeated key',
    input: seedPolicy(false),
    field: 'Statement[0].Condition.StringLike',
    message: /not valid JSON: expected "," after the value of "127\.0\.0\.1:8080\/clusters\/cl_abc:sub" \(a comma is missing.*"127\.0\.0\.1:8080\/clusters\/cl_abc:sub" is already a key.*one key as an array\) at line 13, column 1/s,
  },
  { name: 'a repeated statement key in JSON text', input: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}`, field: 'Statement[0].Effect', message: /appears 2 times in the same object/ },
  { name: 'a repeated Statement key', input: `{"Version":"2012-10-17","Statement":[${JSON.stringify(base())}],"Statement":[${JSON.stringify(base())}]}`, field: 'Statement', message: /Put all statements in one "Statement" array/ },
  { name: 'a repeated operator block', input: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"a:b":"1"},"StringEquals":{"a:c":"2"}}}]}`, field: 'Statement[0].Condition.StringEquals', message: /appears 2 times.*operator blocks belong in one/ },
  { name: 'condition keys differing only in case in one block', input: withStatement({ Condition: { StringEquals: { [SUB]: 'a', [SUB.toUpperCase()]: 'b' } } }), field: 'Statement[0].Condition.StringEquals', message: /names the condition key .* 2 times .*not case-sensitive/ },
  { name: 'text that is not JSON, with a position', input: '{"Version": "2012-10-17", "Statement": [ {"Effect": "Allow",} ]}', field: 'Statement[0]', message: /not valid JSON: expected a key in double quotes at line 1, column 61/ },
  { name: 'trailing text after the document', input: `${JSON.stringify(GENERATED)} x`, field: undefined, message: /unexpected text after the end/ },
  { name: 'a document that is an array', input: [GENERATED], field: undefined, message: /must be a JSON object/ },
  { name: 'an unknown top-level key, with a suggestion', input: { Version: '2012-10-17', Statements: [base()] }, field: 'Statements', message: /not a known key.*did you mean "Statement"/ },
  { name: 'an unknown Version', input: { Version: '2012-10-18', Statement: [base()] }, field: 'Version', message: /must be "2012-10-17"/ },
  { name: 'a missing Statement', input: { Version: '2012-10-17' }, field: 'Statement', message: /is missing/ },
  { name: 'an empty Statement array', input: { Version: '2012-10-17', Statement: [] }, field: 'Statement', message: /at least one statement/ },
  { name: 'a missing Effect', input: withStatement({ Effect: undefined }), field: 'Statement[0].Effect', message: /is missing/ },
  { name: 'a lower-case Effect, with a suggestion', input: withStatement({ Effect: 'allow' }), field: 'Statement[0].Effect', message: /did you mean "Allow"/ },
  { name: 'a missing Action', input: withStatement({ Action: undefined }), field: 'Statement[0].Action', message: /is missing/ },
  { name: 'both Action and NotAction', input: withStatement({ NotAction: 'sts:TagSession' }), field: 'Statement[0].NotAction', message: /together with Action/ },
  { name: 'an Action without a service prefix', input: withStatement({ Action: ['sts:TagSession', 'AssumeRole'] }), field: 'Statement[0].Action[1]', message: /"service:Action"/ },
  { name: 'a missing Principal', input: withStatement({ Principal: undefined }), field: 'Statement[0].Principal', message: /is missing/ },
  { name: 'a partial wildcard in a principal', input: withStatement({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/*` } }), field: 'Statement[0].Principal.AWS', message: /wildcards are not allowed inside a principal/ },
  { name: 'an unknown principal type', input: withStatement({ Principal: { Federate: PROVIDER } }), field: 'Statement[0].Principal.Federate', message: /did you mean "Federated"/ },
  { name: 'an AWS principal that is neither an account nor an ARN', input: withStatement({ Principal: { AWS: 'my-role' } }), field: 'Statement[0].Principal.AWS', message: /not an account id or an IAM\/STS ARN/ },
  { name: 'a Resource element (prohibited in trust policies)', input: withStatement({ Resource: '*' }), field: 'Statement[0].Resource', message: /Has prohibited field Resource/ },
  { name: 'an unknown statement key', input: withStatement({ Conditions: {} }), field: 'Statement[0].Conditions', message: /did you mean "Condition"/ },
  { name: 'a Sid with punctuation', input: withStatement({ Sid: 'allow-airlock' }), field: 'Statement[0].Sid', message: /only the letters/ },
  { name: 'a repeated Sid', input: { Version: '2012-10-17', Statement: [{ ...base(), Sid: 'A' }, { ...base(), Sid: 'A' }] }, field: 'Statement[1].Sid', message: /must be unique/ },
  { name: 'an unknown operator, with a suggestion', input: withStatement({ Condition: { StringEqual: { [SUB]: 'x' } } }), field: 'Statement[0].Condition.StringEqual', message: /not a condition operator; did you mean "StringEquals"/ },
  { name: 'an unknown operator under a set prefix', input: withStatement({ Condition: { 'ForAnyValue:StringLikes': { [SUB]: 'x' } } }), field: 'Statement[0].Condition.ForAnyValue:StringLikes', message: /not a condition operator/ },
  { name: 'Null with IfExists', input: withStatement({ Condition: { NullIfExists: { [SUB]: 'true' } } }), field: 'Statement[0].Condition.NullIfExists', message: /cannot combine Null/ },
  { name: 'an operator block with no keys', input: withStatement({ Condition: { StringEquals: {} } }), field: 'Statement[0].Condition.StringEquals', message: /has no condition keys/ },
  { name: 'an empty array of condition values', input: withStatement({ Condition: { StringEquals: { [SUB]: [] } } }), field: `Statement[0].Condition.StringEquals[${JSON.stringify(SUB)}]`, message: /at least one value/ },
  { name: 'an object as a condition value', input: withStatement({ Condition: { StringEquals: { [SUB]: { nested: 'x' } } } }), field: `Statement[0].Condition.StringEquals[${JSON.stringify(SUB)}]`, message: /must be a string, a number or a boolean/ },
  { name: 'a Bool value that is not true/false', input: withStatement({ Condition: { Bool: { 'aws:SecureTransport': 'yes' } } }), field: 'Statement[0].Condition.Bool["aws:SecureTransport"]', message: /must be true or false/ },
  { name: 'a numeric operator with a non-number', input: withStatement({ Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': ['60', 'an hour'] } } }), field: 'Statement[0].Condition.NumericLessThan["aws:MultiFactorAuthAge"][1]', message: /must be a number/ },
  { name: 'an IpAddress value that is not a range', input: withStatement({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }), field: 'Statement[0].Condition.IpAddress["aws:SourceIp"]', message: /IP address or CIDR/ },
  { name: 'an ARN operator value that is not an ARN', input: withStatement({ Condition: { ArnLike: { 'aws:SourceArn': 'role/x' } } }), field: 'Statement[0].Condition.ArnLike["aws:SourceArn"]', message: /six colon-separated parts/ },
];

describe('parseTrustPolicy rejects', () => {
  for (const r of rejections) {
    test(r.name, () => {
      assert.throws(
        () => parseTrustPolicy(r.input),
        (e: unknown) => {
          assert.ok(e instanceof AppError, `expected an AppError, got ${String(e)}`);
          assert.equal(e.code, 'ERR_VALIDATION');
          assert.equal(e.status, 400);
          assert.equal(e.field, r.field);
          assert.match(e.message, r.message);
          assert.notEqual(e.example, undefined, 'every rejection shows an accepted form');
          return true;
        },
      );
    });
  }

  test("the seed's repeated keys come back as the one-array example, in order, with the aud untouched", () => {
    try {
      parseTrustPolicy(seedPolicy(true));
      assert.fail('expected a rejection');
    } catch (e) {
      assert.ok(e instanceof AppError);
      assert.deepEqual(e.example, { [SUB]: SUBJECTS });
      assert.deepEqual(e.details, { key: SUB, occurrences: 6 });
    }
  });
});

// ---- parseTrustPolicy: accepted documents ---------------------------------------------------------

describe('parseTrustPolicy accepts', () => {
  test('the generated policy, as text or object, unchanged', () => {
    assert.deepEqual(parseTrustPolicy(GENERATED), GENERATED);
    assert.deepEqual(parseTrustPolicy(JSON.stringify(GENERATED)), GENERATED);
  });

  test('returns a copy: changing it does not change the input', () => {
    const input = structuredClone(GENERATED);
    const out = parseTrustPolicy(input) as typeof GENERATED;
    (out.Statement[0] as { Condition: { StringEquals: Record<string, unknown> } }).Condition.StringEquals[SUB] = ['x'];
    assert.deepEqual(input, GENERATED);
  });

  test('fills in the Version AWS assumes when it is absent, and turns numbers into text', () => {
    const out = parseTrustPolicy({ Statement: { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': 3600 }, Bool: { 'aws:SecureTransport': true } } } });
    assert.deepEqual(out, {
      Version: '2008-10-17',
      Statement: { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' }, Bool: { 'aws:SecureTransport': true } } },
    });
  });

  test('a "__proto__" condition key stays an ordinary key', () => {
    const text = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"__proto__":"x"}}}]}`;
    const out = parseTrustPolicy(text);
    const block = (out.Statement as PolicyStatement[])[0]?.Condition?.StringEquals as object;
    assert.equal(Object.getPrototypeOf(block), Object.prototype);
    assert.deepEqual(Object.keys(block), ['__proto__']);
    const req: TrustRequest = { ...caller(USER), context: Object.fromEntries([['__proto__', 'x']]) };
    assert.equal(evaluateTrustPolicy(out, req).decision, 'allow');
  });

  test('a byte-order mark and surrounding whitespace', () => {
    assert.deepEqual(parseTrustPolicy(`\uFEFF\n  ${JSON.stringify(GENERATED)}\n`), GENERATED);
  });
});
