import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createManualClock } from '../../lib/clock.ts';
import type { OidcVerifier } from '../shared/oidc-verifier.ts';
import { createIamService } from './iam.ts';
import { createQueryApiHandler } from './service.ts';
import { createSessionStore } from './sessions.ts';
import type { RawHttpRequest } from './sigv4.ts';
import { createAwsState } from './state.ts';
import { createStsService } from './sts.ts';

/** The dispatcher with plain objects, no HTTP: envelope, namespaces and failure hiding. */
function handler(o: { verifier?: Partial<OidcVerifier> } = {}) {
  const clock = createManualClock();
  const state = createAwsState('000000000000');
  const sessions = createSessionStore({ clock, randomBytes });
  const verifier = { peekIssuer: () => 'https://issuer.example', verify: async () => ({ header: { alg: 'RS256' }, claims: {} }), ...o.verifier } as OidcVerifier;
  return createQueryApiHandler({
    iam: createIamService({ state, clock, randomBytes }),
    sts: createStsService({ state, sessions, clock, verifier }),
    sessions,
    clock,
    defaultAccountId: '000000000000',
    requestId: () => 'req-1',
  });
}

const post = (body: string): RawHttpRequest => ({ method: 'POST', path: '/', query: '', headers: [['Host', 'h']], body: Buffer.from(body) });

describe('query API dispatch', () => {
  const cases: { name: string; body: string; status: number; code: string; namespace: string }[] = [
    { name: 'no Action', body: 'Version=2011-06-15', status: 400, code: 'MissingAction', namespace: 'sts' },
    { name: 'an unknown Action', body: 'Action=Frobnicate&Version=2011-06-15', status: 400, code: 'InvalidAction', namespace: 'sts' },
    { name: 'an unsigned IAM action', body: 'Action=ListRoles', status: 403, code: 'MissingAuthenticationToken', namespace: 'iam' },
    { name: 'an unsigned GetCallerIdentity', body: 'Action=GetCallerIdentity', status: 403, code: 'MissingAuthenticationToken', namespace: 'sts' },
    { name: 'AssumeRoleWithWebIdentity without a token', body: 'Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=ab', status: 400, code: 'MissingParameter', namespace: 'sts' },
    {
      name: 'a token from an issuer no provider is registered for',
      body: 'Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=ab&WebIdentityToken=a.b.c',
      status: 400,
      code: 'InvalidIdentityToken',
      namespace: 'sts',
    },
  ];
  for (const c of cases) {
    it(`answers ${c.code} for ${c.name}, in the ${c.namespace.toUpperCase()} namespace`, async () => {
      const res = await handler()(post(c.body));
      assert.equal(res.status, c.status);
      assert.match(res.body, new RegExp(`<ErrorResponse xmlns="https://${c.namespace}\\.amazonaws\\.com/doc/[0-9-]+/"><Error><Type>Sender</Type><Code>${c.code}</Code>`));
      assert.match(res.body, /<RequestId>req-1<\/RequestId><\/ErrorResponse>$/);
    });
  }

  it('hides unexpected failures behind InternalFailure and hands the cause to the edge for logging', async () => {
    const boom = new Error('secret detail');
    const res = await handler({ verifier: { peekIssuer: () => { throw boom; } } })(
      post('Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=ab&WebIdentityToken=a.b.c'),
    );
    assert.equal(res.status, 500);
    assert.match(res.body, /<Type>Receiver<\/Type><Code>InternalFailure<\/Code>/);
    assert.doesNotMatch(res.body, /secret detail/);
    assert.equal(res.internalError, boom);
  });
});
