import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SigningKeyRecord } from '../domain/records.ts';
import { activeKey, jwksMaxAgeSeconds, keyStatuses, publishedKeys, scheduleDecision } from './key-schedule.ts';

const H = 3600_000;
const D = 24 * H;
const S = { rotationPeriodSeconds: 30 * 86400, prepublishSeconds: 86400, clockSkewSeconds: 300 };

const key = (kid: string, publishAt: number, activateAt: number, revokedAt: number | null = null): SigningKeyRecord => ({
  clusterId: 'cl_x',
  kid,
  alg: 'RS256',
  publicJwk: {},
  privateKeyEnc: '',
  createdAt: new Date(publishAt),
  publishAt: new Date(publishAt),
  activateAt: new Date(activateAt),
  maxTokenTtlSeconds: 86400,
  revokedAt: revokedAt === null ? null : new Date(revokedAt),
});

describe('key schedule', () => {
  const A = key('a', 0, 0);
  const B = key('b', 29 * D, 30 * D);

  const cases: { name: string; keys: SigningKeyRecord[]; now: number; active?: string; published: string[]; states?: Record<string, string> }[] = [
    { name: 'a lone key signs and is published', keys: [A], now: 1, active: 'a', published: ['a'] },
    { name: 'a pending key is published but does not sign', keys: [A, B], now: 29 * D + 1, active: 'a', published: ['b', 'a'], states: { a: 'active', b: 'pending' } },
    { name: 'the successor signs from its activation instant', keys: [A, B], now: 30 * D, active: 'b', published: ['b', 'a'], states: { a: 'retired', b: 'active' } },
    { name: 'the retired key stays until max TTL + skew after retiring', keys: [A, B], now: 31 * D + 300_000 - 1, active: 'b', published: ['b', 'a'] },
    { name: 'then leaves the JWKS', keys: [A, B], now: 31 * D + 300_000, active: 'b', published: ['b'], states: { a: 'removed', b: 'active' } },
    { name: 'a revoked key is neither published nor used', keys: [A, key('b', 1, 2, 3)], now: 10, active: 'a', published: ['a'], states: { b: 'revoked' } },
    { name: 'a key scheduled for later is not yet published', keys: [A, key('c', 5 * D, 6 * D)], now: 4 * D, active: 'a', published: ['a'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(activeKey(c.keys, c.now)?.kid, c.active);
      assert.deepEqual(publishedKeys(c.keys, c.now, S).map((k) => k.kid), c.published);
      if (c.states) {
        const st = Object.fromEntries(keyStatuses(c.keys, c.now, S).map((s) => [s.kid, s.state]));
        for (const [kid, state] of Object.entries(c.states)) assert.equal(st[kid], state, kid);
      }
    });
  }

  it('decides: first key now; nothing before the publication point; the next key at it', () => {
    assert.deepEqual(scheduleDecision([], 5, S), { publishAt: 5, activateAt: 5 });
    assert.equal(scheduleDecision([A], 29 * D - 1, S), undefined);
    assert.deepEqual(scheduleDecision([A], 29 * D, S), { publishAt: 29 * D, activateAt: 30 * D });
    assert.equal(scheduleDecision([A, B], 29 * D + 5, S), undefined, 'one pending key at a time');
    // A late scheduler (server was down) still gives relying parties the full lead.
    assert.deepEqual(scheduleDecision([A], 40 * D, S), { publishAt: 40 * D, activateAt: 41 * D });
  });

  it('max-age is half the time to the next change, at least 15 minutes, at most the prepublication lead', () => {
    assert.equal(jwksMaxAgeSeconds([A], 0, S), 86400, 'capped at the lead');
    assert.equal(jwksMaxAgeSeconds([A], 29 * D - 2 * H, S), 3600, 'half of the two hours to publication');
    assert.equal(jwksMaxAgeSeconds([A], 29 * D - 60_000, S), 900, 'never below 15 minutes');
    assert.equal(jwksMaxAgeSeconds([A, B], 30 * D - 4 * H, S), 7200, 'half the time to activation while pending');
  });
});
