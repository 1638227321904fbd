/**
 * The trust-policy case table (src/aws-policy/trust-policy.cases.ts) run through an evaluator
 * written by others, @cloud-copilot/iam-simulate, so that Airlock's evaluator does not only grade
 * itself: one misreading of AWS's docs shared by the evaluator and the table that tests it would
 * pass both the setup checks and the sandbox's STS.
 *
 * iam-simulate and iam-policy are AGPL-3.0 devDependencies: imported here, under test/, and nowhere
 * under src/ (test/architecture/boundaries.test.ts checks that), so nothing shipped links them.
 *
 * How a case becomes an iam-simulate request:
 * - the trust policy is the resource policy of a role in ACCOUNT (`TARGET_ROLE`), sent as it would
 *   go over the wire (a JSON round trip, so a key set to `undefined` is absent);
 * - the principal is the request's principal id (a provider ARN, an IAM/STS ARN, or a service
 *   name), the action and the condition context are the request's own;
 * - an AWS caller also holds an identity policy allowing the action on the role. AWS asks both
 *   sides for AssumeRole: across accounts always; in the same account whenever the trust policy
 *   names the account (`123456789012`, `:root`), which delegates to the account's IAM; only a
 *   principal named by its own ARN (or `*`) in the same account needs no identity grant. Airlock's
 *   evaluator answers the trust-policy side alone, and the sandbox has no identity policies ("that
 *   half always passes", docs/sandbox-aws.md), so the faithful comparison gives every AWS caller
 *   the grant. A test below shows the harness does model that side (without the grant the answers
 *   change exactly as AWS documents). Web identity is unsigned and a service principal has no
 *   identity policies: those callers get none.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createValidatedPolicy, validateTrustPolicy } from '@cloud-copilot/iam-policy';
import { runUnsafeSimulation, type EvaluationResult } from '@cloud-copilot/iam-simulate';
import { ACCOUNT, OTHER_ACCOUNT, ROLE, ROLE_SESSION, TRUST_CASES, USER, allowAws, caller, doc, type TrustCase } from '../../src/aws-policy/trust-policy.cases.ts';
import { evaluateTrustPolicy, parseTrustPolicy, type TrustDecision, type TrustRequest } from '../../src/aws-policy/trust-policy.ts';

type Decision = TrustDecision['decision'];

/** The role whose trust policy each case is; in ACCOUNT, so callers of ACCOUNT are same-account. */
const TARGET_ROLE = `arn:aws:iam::${ACCOUNT}:role/trusting-role`;

const FROM_SIMULATE: Record<EvaluationResult, Decision> = {
  Allowed: 'allow',
  ImplicitlyDenied: 'implicit-deny',
  ExplicitlyDenied: 'explicit-deny',
};

/** Cases left out of the comparison, with why. */
const EXCLUDED = new Map<string, string>([
  [
    'StringLike with many stars against a long value answers (no exponential backtracking)',
    "iam-simulate's StringLike backtracks exponentially on `*a*a…*b` against 20,000 `a`s and does not finish; Airlock's matcher is linear by design, which is what the case is there to prove",
  ],
]);

/**
 * Where iam-simulate answers differently and Airlock's answer stands, each with the reason (the same
 * list is in docs/sandbox-aws.md, "Checked against an independent evaluator"). The test asserts the
 * disagreements are exactly these: a new one, or one that goes away, fails it.
 */
const KNOWN_DISAGREEMENTS = new Map<string, string>([
  [
    'a multi-valued aud satisfies StringEquals when any audience matches (no set prefix = any)',
    'AWS documents that multivalued keys "require" a set operator but not what an unprefixed operator does with one; iam-simulate never matches (its author cites AWS at re:Inforce 2025), Airlock matches any value, so a token with several audiences passes the usual `StringEquals <issuer>:aud`',
  ],
  ['Null treats an empty array as absent', 'AWS calls an empty value a "null dataset" (ForAllValues is true over it); Airlock treats an empty list as absent for Null too, iam-simulate as present'],
  ['in a 2008-10-17 document ${...} is literal text', 'AWS: policy variables are recognised only in version 2012-10-17 documents and are literal text otherwise; iam-simulate substitutes them in any version'],
  [
    'Principal AWS "*" does not match a federated caller',
    'iam-simulate treats {"AWS": "*"} as "*" for every caller; AWS does not document it for a web-identity caller, and Airlock keeps the AWS key to AWS principals (only "*" or Federated admits a provider)',
  ],
  ['the account root ARN does not match another partition', 'iam-simulate compares the account id only; an account id names an account within one partition, so arn:aws-cn:…:123456789012 is another account'],
  [
    'a provider ARN presented as an AWS principal does not match Federated',
    "iam-simulate's request principal is a bare string with no type, so it cannot tell an AWS caller from the Federated provider of the same ARN",
  ],
  [
    'in NotPrincipal a role ARN does not cover its sessions (AWS: list the session ARN too)',
    "AWS's NotPrincipal docs: a Deny with NotPrincipal must list the assumed-role session ARN as well as the role ARN to spare the session; iam-simulate lets the role ARN cover its sessions there too",
  ],
]);

/** The document as it would be sent: parsed if text, and without keys whose value is undefined. */
function wireDocument(policy: object | string): unknown {
  return JSON.parse(typeof policy === 'string' ? policy : JSON.stringify(policy));
}

function simulate(policy: object | string, req: TrustRequest, o: { identityGrant: boolean }): Decision {
  const identityPolicies =
    o.identityGrant && req.principal.type === 'AWS'
      ? [{ name: 'caller-grant', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: req.action, Resource: TARGET_ROLE }] } }]
      : [];
  const result = runUnsafeSimulation(
    {
      request: { principal: req.principal.id, action: req.action, resource: { resource: TARGET_ROLE, accountId: ACCOUNT }, contextVariables: req.context },
      identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      // runUnsafeSimulation loads a resource policy without a name and then reads metadata().name:
      // a validated policy carries its name with it.
      resourcePolicy: createValidatedPolicy(wireDocument(policy), validateTrustPolicy, { name: 'trust-policy' }),
    },
    {},
  );
  return FROM_SIMULATE[result];
}

const ours = (c: TrustCase): Decision => evaluateTrustPolicy(parseTrustPolicy(c.policy), c.req).decision;
const compared = TRUST_CASES.filter((c) => !EXCLUDED.has(c.name));

describe('the trust-policy case table against @cloud-copilot/iam-simulate', () => {
  it('leaves out only cases that are in the table', () => {
    const names = new Set(TRUST_CASES.map((c) => c.name));
    for (const name of [...EXCLUDED.keys(), ...KNOWN_DISAGREEMENTS.keys()]) assert.ok(names.has(name), `no case named ${JSON.stringify(name)} in trust-policy.cases.ts`);
    assert.ok(compared.length >= 100, `only ${compared.length} cases compared`);
  });

  it("every policy in the table is also valid to iam-policy's trust-policy validator", () => {
    const invalid = compared.flatMap((c) => {
      const errors = validateTrustPolicy(wireDocument(c.policy));
      return errors.length ? [`${c.name}: ${JSON.stringify(errors)}`] : [];
    });
    assert.deepEqual(invalid, []);
  });

  it('agrees on every case but the known disagreements, which are exactly those listed', (t) => {
    const rows = compared.map((c) => ({ name: c.name, ours: ours(c), theirs: simulate(c.policy, c.req, { identityGrant: true }) }));
    const disagreements = rows.filter((r) => r.ours !== r.theirs);
    t.diagnostic(`agreement: ${rows.length - disagreements.length}/${rows.length} cases (${EXCLUDED.size} left out)`);
    const show = (list: typeof rows) => list.map((r) => `  ${r.name}\n    airlock: ${r.ours}, iam-simulate: ${r.theirs}`).join('\n');
    const unexpected = disagreements.filter((r) => !KNOWN_DISAGREEMENTS.has(r.name));
    const seen = new Set(disagreements.map((r) => r.name));
    const nowAgreeing = rows.filter((r) => KNOWN_DISAGREEMENTS.has(r.name) && !seen.has(r.name));
    assert.ok(
      unexpected.length === 0 && nowAgreeing.length === 0,
      [
        unexpected.length ? `new disagreements (decide who is right per AWS's docs; fix ours or list it with the reason):\n${show(unexpected)}` : '',
        nowAgreeing.length ? `listed disagreements that now agree (remove them from the list and the docs):\n${show(nowAgreeing)}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
    assert.equal(disagreements.length, KNOWN_DISAGREEMENTS.size);
  });

  it("models the caller's identity side: without it the answers change as AWS documents", () => {
    const byAccount = doc(allowAws({ AWS: ACCOUNT }));
    const byRoot = doc(allowAws({ AWS: `arn:aws:iam::${ACCOUNT}:root` }));
    const byRole = doc(allowAws({ AWS: ROLE }));
    const byUser = doc(allowAws({ AWS: USER }));
    const anyone = doc(allowAws({ AWS: '*' }));
    const stranger = caller(`arn:aws:iam::${OTHER_ACCOUNT}:user/bob`);
    const table: [string, object, TrustRequest, Decision, Decision][] = [
      // [what, trust policy, caller, without the identity grant, with it]
      ['same account, trust names the account id: delegated to IAM', byAccount, caller(ROLE_SESSION), 'implicit-deny', 'allow'],
      ['same account, trust names the account root: delegated to IAM', byRoot, caller(USER), 'implicit-deny', 'allow'],
      ['same account, trust names the role: its session needs no grant', byRole, caller(ROLE_SESSION), 'allow', 'allow'],
      ['same account, trust names the user: no grant needed', byUser, caller(USER), 'allow', 'allow'],
      ['another account, trust names "*": the caller\'s account must grant too', anyone, stranger, 'implicit-deny', 'allow'],
    ];
    const seen = table.map(([what, policy, req]) => [what, simulate(policy, req, { identityGrant: false }), simulate(policy, req, { identityGrant: true })]);
    assert.deepEqual(
      seen,
      table.map(([what, , , without, withGrant]) => [what, without, withGrant]),
    );
  });
});
