import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ENVIRONMENT_READ_RECORD_EVERY_MS } from '../../src/delivery/environment-reads.ts';
import type { AuditEventRecord } from '../../src/domain/records.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { startKubeIssuer, type KubeIssuer } from './kube-issuer.ts';

/**
 * Reads of a Deployment's environment hand out secret values: each read of content the workload
 * has not been recorded receiving is audited before the response leaves; the agent's re-reads of
 * the same content are folded into one record an hour.
 */
describe('audit records of workload environment reads', () => {
  const clock = createManualClock(Date.UTC(2026, 11, 6, 9));
  let s: TestServer;
  let kube: KubeIssuer;
  let credential: { id: string; secret: string };
  let other: { id: string; secret: string };
  const SECRET = 'env-read-Secret-5531';

  before(async () => {
    s = await startServer({ clock });
    kube = await startKubeIssuer();
    assert.equal((await s.api('POST', '/api/v1/clusters', { name: 'one', cloud: 'aws', region: 'us-east-1' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments', { name: 'etl', cluster: 'one', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/etl' })).status, 201);
    assert.equal((await s.api('POST', '/api/v1/deployments/etl/variables', { variables: [{ key: 'PLAIN', value: 'p' }, { key: 'DB_PASSWORD', value: SECRET, secret: true }] })).status, 201);
    credential = (await s.api('POST', '/api/v1/deployments/etl/credentials', { component: 'worker' })).body;
    other = (await s.api('POST', '/api/v1/deployments/etl/credentials', { component: 'scheduler' })).body;
  });
  after(async () => {
    await s.close();
    await kube.close();
  });

  const read = async (secret: string) => {
    const r = await s.api('GET', '/api/v1/workload/environment', undefined, { auth: false, headers: { authorization: `Bearer ${secret}` } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { digest: string };
  };
  const head = async () => {
    await s.app.audit.flush();
    return (await s.app.store.audit.head())?.seq ?? 0;
  };
  const reads = async (seq: number): Promise<AuditEventRecord[]> => {
    await s.app.audit.flush();
    return (await s.app.store.audit.list({ afterSeq: seq, limit: 10_000 })).filter((r) => r.action === 'environment.read');
  };

  it('the first read is recorded with who read what (secret names, never values); re-reads of the same content are not', async () => {
    const start = await head();
    const doc = await read(credential.secret);
    for (let i = 0; i < 5; i++) await read(credential.secret);
    const recs = await reads(start);
    assert.equal(recs.length, 1);
    const [r] = recs;
    assert.deepEqual(
      [r!.actorType, r!.actorId, r!.targetType, r!.targetName, r!.result],
      ['join-credential', credential.id, 'deployment', 'etl/worker', 'success'],
    );
    assert.deepEqual(r!.details, { digest: doc.digest, variables: 2, secrets: ['DB_PASSWORD'], connections: [], suppressed: 0 });
    assert.ok(!JSON.stringify(r).includes(SECRET), 'a secret value is never in the log');
  });

  it('another workload of the same Deployment gets a record of its own', async () => {
    const start = await head();
    await read(other.secret);
    assert.deepEqual((await reads(start)).map((r) => r.actorId), [other.id]);
  });

  it('changed content is recorded at its first read, whatever the pace', async () => {
    const start = await head();
    assert.equal((await s.api('PATCH', '/api/v1/deployments/etl/variables/DB_PASSWORD', { value: 'rotated-9911' })).status, 200);
    const doc = await read(credential.secret);
    const recs = await reads(start);
    assert.deepEqual(recs.map((r) => [r.actorId, r.details.digest, r.details.suppressed]), [[credential.id, doc.digest, 0]]);
  });

  it('the same content is recorded again after an hour, counting the reads in between', async () => {
    const start = await head();
    await read(credential.secret);
    await read(credential.secret);
    assert.equal((await reads(start)).length, 0);
    clock.advance(ENVIRONMENT_READ_RECORD_EVERY_MS);
    await read(credential.secret);
    assert.deepEqual((await reads(start)).map((r) => [r.actorId, r.details.suppressed]), [[credential.id, 2]]);
  });

  it('on Kubernetes, each pod of a service account gets a record of its own, naming the pod', async () => {
    const c = await s.api('POST', '/api/v1/clusters', { name: 'kube', cloud: 'aws', region: 'us-east-1', kubernetesIssuerUrl: kube.url });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const d = await s.api('POST', '/api/v1/deployments', { name: 'pods', cluster: 'kube', runtimeVersion: '12.1.0', workloadIdentity: 'arn:aws:iam::123456789012:role/pods' });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    const ns = d.body.namespace as string;
    const sa = `${ns}-worker-serviceaccount`;
    const podRead = async (pod: string) => {
      const token = await kube.token({ namespace: ns, serviceAccount: sa, audience: c.body.attestationAudience, now: clock.now(), claims: { 'kubernetes.io': { namespace: ns, serviceaccount: { name: sa, uid: 'u-1' }, pod: { name: pod, uid: `u-${pod}` } } } });
      const r = await s.api('GET', '/api/v1/workload/environment?cluster=kube', undefined, { auth: false, headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const seq = await head();
    await podRead('pods-worker-0');
    await podRead('pods-worker-1');
    await podRead('pods-worker-0');
    const records = await reads(seq);
    assert.deepEqual(
      records.map((r) => [r.actorType, r.actorId, r.actorName]),
      [
        ['kubernetes', `system:serviceaccount:${ns}:${sa}`, 'pods-worker-0'],
        ['kubernetes', `system:serviceaccount:${ns}:${sa}`, 'pods-worker-1'],
      ],
      "one record per pod; the first pod's re-read is folded",
    );
  });
});
