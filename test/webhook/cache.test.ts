/**
 * The webhook's workload cache: a miss is looked up (never answered "no"), concurrent misses share
 * one lookup, "not a workload" is never cached (the EKS webhook's service-account race), a stale
 * entry is served while one background lookup renews it, and a failed lookup refuses the pod.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryError } from '../../src/delivery/errors.ts';
import type { WorkloadProfile } from '../../src/delivery/profile.ts';
import { review } from '../../src/delivery/webhook/review.ts';
import { createWorkloadCache, type WorkloadFetcher } from '../../src/delivery/webhook/workload-cache.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { SAMPLE_PROFILE } from '../helpers/fake-workload-server.ts';

const SETTINGS = { agentImage: 'ghcr.io/airlock-dev/airlock:0.1.0', serverUrl: 'https://airlock.internal.example.com' };
const NS = SAMPLE_PROFILE.deployment.namespace;
const SA = SAMPLE_PROFILE.serviceAccount;

function harness() {
  const clock = createManualClock();
  const state: { profile: WorkloadProfile | undefined; fail: boolean; calls: number; gate?: Promise<void> } = { profile: SAMPLE_PROFILE, fail: false, calls: 0 };
  const fetch: WorkloadFetcher = async () => {
    state.calls++;
    if (state.gate) await state.gate;
    if (state.fail) throw new DeliveryError('ERR_UNREACHABLE', 'cannot reach the Airlock server at https://airlock.internal.example.com (ECONNREFUSED)');
    return state.profile;
  };
  const logs: string[] = [];
  const cache = createWorkloadCache({ fetch, settings: SETTINGS, clock, logger: createLogger('debug', (l) => logs.push(l)), freshMs: 30_000, maxStaleMs: 600_000 });
  return { clock, state, cache, logs };
}

const podReview = (uid: string) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: NS, operation: 'CREATE', object: { metadata: { namespace: NS }, spec: { serviceAccountName: SA, containers: [{ name: 'worker' }] } } },
});

void describe('webhook workload cache', () => {
  void it('a miss is looked up, and 200 concurrent pods of one service account share the one lookup', async () => {
    const h = harness();
    let open!: () => void;
    h.state.gate = new Promise((r) => (open = r));
    const all = Promise.all(Array.from({ length: 200 }, (_, i) => review(podReview(`u${i}`), h.cache, SETTINGS)));
    open();
    const rs = await all;
    assert.equal(h.state.calls, 1);
    assert.ok(rs.every((r) => r.response.allowed && r.response.patch !== undefined));
    assert.equal(h.cache.stats().misses, 200);
  });

  void it('"no such workload" is never cached: a Deployment created after a miss is found on the next pod', async () => {
    const h = harness();
    h.state.profile = undefined;
    const first = await review(podReview('a'), h.cache, SETTINGS);
    assert.equal(first.response.allowed, true);
    assert.equal(first.response.patch, undefined);
    h.state.profile = SAMPLE_PROFILE; // the Deployment now exists
    const second = await review(podReview('b'), h.cache, SETTINGS);
    assert.ok(second.response.patch, 'the very next pod is injected');
    assert.equal(h.state.calls, 2);
  });

  void it('a fresh entry is served without a lookup; a stale one is served while one background lookup renews it', async () => {
    const h = harness();
    await h.cache.get(NS, SA);
    h.clock.advance(29_000);
    assert.ok(h.cache.get(NS, SA) && !(h.cache.get(NS, SA) instanceof Promise), 'fresh: answered synchronously');
    assert.equal(h.state.calls, 1);
    h.clock.advance(2_000);
    const renamed = { ...SAMPLE_PROFILE, clouds: [{ ...SAMPLE_PROFILE.clouds[0], roleArn: 'arn:aws:iam::123456789012:role/renamed' }] } as WorkloadProfile;
    h.state.profile = renamed;
    const stale = h.cache.get(NS, SA);
    assert.ok(!(stale instanceof Promise), 'stale: still answered at once');
    void h.cache.get(NS, SA);
    assert.equal(h.state.calls, 2, 'one renewal however many pods');
    await new Promise((r) => setImmediate(r));
    const renewed = h.cache.get(NS, SA);
    assert.ok(!(renewed instanceof Promise));
    assert.equal(renewed?.injection?.env.find((e) => e.name === 'AWS_ROLE_ARN')?.value, 'arn:aws:iam::123456789012:role/renamed');
  });

  void it('a stale entry whose renewal fails keeps being served (and the failure is logged)', async () => {
    const h = harness();
    await h.cache.get(NS, SA);
    h.clock.advance(60_000);
    h.state.fail = true;
    const r = await review(podReview('c'), h.cache, SETTINGS);
    assert.ok(r.response.patch);
    await new Promise((res) => setImmediate(res));
    assert.ok(h.logs.some((l) => l.includes('renewing a cached workload failed') && l.includes('ERR_UNREACHABLE')));
  });

  void it('past maxStale, or on a miss, a failed lookup refuses the pod with 503 and the reason', async () => {
    const h = harness();
    await h.cache.get(NS, SA);
    h.clock.advance(700_000);
    h.state.fail = true;
    const r = await review(podReview('d'), h.cache, SETTINGS);
    assert.equal(r.response.allowed, false);
    assert.equal(r.response.status?.code, 503);
    assert.match(r.response.status?.message ?? '', /ERR_UNREACHABLE: cannot reach the Airlock server/);
    assert.equal(h.cache.stats().lookupFailures, 1);
  });
});
