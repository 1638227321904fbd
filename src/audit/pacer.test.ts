import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createManualClock } from '../lib/clock.ts';
import { createRefusalPacer } from './pacer.ts';

describe('refusal pacer', () => {
  it('one record per key per interval; the next one counts those left out; keys are paced apart', () => {
    const clock = createManualClock(0);
    const p = createRefusalPacer({ clock, everyMs: 1000 });
    assert.deepEqual(p.admit('a'), { record: true, suppressed: 0 });
    assert.deepEqual(p.admit('a'), { record: false });
    assert.deepEqual(p.admit('b'), { record: true, suppressed: 0 });
    clock.advance(999);
    assert.deepEqual(p.admit('a'), { record: false });
    clock.advance(1);
    assert.deepEqual(p.admit('a'), { record: true, suppressed: 2 });
    assert.deepEqual(p.admit('a'), { record: false });
  });

  it('past maxKeys, new keys share one overflow key (bounded memory and records) until old intervals end', () => {
    const clock = createManualClock(0);
    const p = createRefusalPacer({ clock, everyMs: 1000, maxKeys: 2 });
    assert.equal(p.admit('a').record, true);
    assert.equal(p.admit('b').record, true);
    const flood = Array.from({ length: 50 }, (_, i) => p.admit(`x${i}`).record);
    assert.deepEqual(flood.filter(Boolean).length, 1, 'the first new key is recorded under the overflow key, the rest suppressed');
    clock.advance(1000);
    // The old keys' intervals are over: room again for a key of its own.
    assert.deepEqual(p.admit('c'), { record: true, suppressed: 0 });
  });

  it("whenFull 'admit': past maxKeys, a new key is recorded every time instead of sharing the overflow key", () => {
    const clock = createManualClock(0);
    const p = createRefusalPacer({ clock, everyMs: 1000, maxKeys: 1, whenFull: 'admit' });
    assert.equal(p.admit('a').record, true);
    assert.deepEqual([p.admit('b'), p.admit('b'), p.admit('c')], [{ record: true, suppressed: 0 }, { record: true, suppressed: 0 }, { record: true, suppressed: 0 }]);
    assert.deepEqual(p.admit('a'), { record: false });
  });

  it('forget: the next event of a forgotten key is recorded at once', () => {
    const clock = createManualClock(0);
    const p = createRefusalPacer({ clock, everyMs: 1000 });
    assert.equal(p.admit('a').record, true);
    assert.equal(p.admit('a').record, false);
    p.forget('a');
    assert.deepEqual(p.admit('a'), { record: true, suppressed: 0 });
  });
});
