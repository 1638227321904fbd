import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../audit/log.ts';
import { createManualClock } from '../lib/clock.ts';
import type { WorkloadProfile } from './profile.ts';
import { createWorkloadEnvironmentReader } from './environment-reads.ts';

describe('workload environment reader', () => {
  const profile = { deployment: { id: 'dep_1', name: 'etl', namespace: 'etl-1' }, component: 'worker' } as WorkloadProfile;
  const ctx = { requestId: 'r', source: '127.0.0.1' };

  it('a read whose record cannot be written is refused, and the next read is recorded, not paced away', async () => {
    let fail = true;
    const recorded: AuditEvent[] = [];
    const reader = createWorkloadEnvironmentReader({
      authenticate: () => Promise.resolve({ profile, actor: { type: 'join-credential', id: 'jc_1' } }),
      environment: () => Promise.resolve({ variables: [{ key: 'S', value: 'v', secret: true }], connections: [] }),
      audit: {
        record: (e) => {
          if (fail) return Promise.reject(new Error('disk full'));
          recorded.push(e);
          return Promise.resolve();
        },
      },
      clock: createManualClock(0),
    });
    await assert.rejects(reader.read('alj_x', undefined, ctx), /disk full/);
    fail = false;
    const doc = await reader.read('alj_x', undefined, ctx);
    assert.deepEqual(doc.variables, [{ key: 'S', value: 'v', secret: true }]);
    assert.deepEqual(recorded.map((e) => [e.action, e.actor.id, e.details?.secrets]), [['environment.read', 'jc_1', ['S']]]);
  });
});
