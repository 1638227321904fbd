import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { componentIdentities } from './components.ts';
import { AZURE_MAX_DEPLOYMENTS_PER_IDENTITY, checkAzureCapacity, checkRuntimeForIdentity, checkWildcard } from './rules.ts';
import { generateNamespace } from './service.ts';

const aws = { cloud: 'aws' as const, roleArn: 'arn:aws:iam::123456789012:role/r' };
const gcp = { cloud: 'gcp' as const, serviceAccountEmail: 'lake-reader@my-proj.iam.gserviceaccount.com' };

describe('runtime rule for customer-managed AWS identities', () => {
  const table: [string, boolean][] = [
    ['8.9.9', false],
    ['9.14.9', false],
    ['9.15.0', true],
    ['9.20.1', true],
    ['10.8.3', false],
    ['10.9.0', true],
    ['11.4.0', false],
    ['11.5.0', true],
    ['12.0.0', true],
    ['13.2.1', true],
  ];
  for (const [version, ok] of table) {
    it(`${version} → ${ok ? 'allowed' : 'refused'}`, () => {
      if (ok) assert.doesNotThrow(() => checkRuntimeForIdentity(version, aws));
      else assert.throws(() => checkRuntimeForIdentity(version, aws), { code: 'ERR_RULE_VIOLATION', field: 'runtimeVersion' });
    });
  }
  it('does not apply to GCP identities or the default identity', () => {
    assert.doesNotThrow(() => checkRuntimeForIdentity('8.0.0', gcp));
    assert.doesNotThrow(() => checkRuntimeForIdentity('8.0.0', undefined));
  });
});

describe('wildcard and Azure capacity', () => {
  it('wildcard trust only on dedicated clusters', () => {
    assert.doesNotThrow(() => checkWildcard('dedicated', 'd'));
    assert.throws(() => checkWildcard('standard', 's'), { code: 'ERR_RULE_VIOLATION', field: 'wildcard' });
  });
  it('six components per Deployment, twenty credentials per identity: three Deployments', () => {
    assert.equal(AZURE_MAX_DEPLOYMENTS_PER_IDENTITY, 3);
    const using = [1, 2, 3].map((n) => ({ id: `dep_${n}`, name: `d${n}` }));
    assert.doesNotThrow(() => checkAzureCapacity('mi', using.slice(0, 2)));
    assert.throws(
      () => checkAzureCapacity('mi', using),
      (e: Error & { code: string }) => e.code === 'ERR_RULE_VIOLATION' && /already serves 3 Deployment\(s\) \(d1, d2, d3\)/.test(e.message),
    );
  });
});

describe('namespaces and component subjects', () => {
  it('namespaces are DNS-1123, at most 22 characters, and keep GCP default ids within 30', () => {
    for (const name of ['etl', 'a', 'a-very-long-deployment-name-that-goes-on', '1abc', 'x-y-z-z-z-z-z-z-z-z-z']) {
      const ns = generateNamespace(name);
      assert.match(ns, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      assert.ok(ns.length <= 22, ns);
      assert.ok(`airlock-${ns}`.length <= 30);
    }
  });
  it('service accounts follow the product guide exactly', () => {
    assert.deepEqual(
      componentIdentities('etl-7f3k2q9x').map((c) => c.subject),
      [
        'system:serviceaccount:etl-7f3k2q9x:etl-7f3k2q9x-scheduler-serviceaccount',
        'system:serviceaccount:etl-7f3k2q9x:etl-7f3k2q9x-worker-serviceaccount',
        'system:serviceaccount:etl-7f3k2q9x:etl-7f3k2q9x-triggerer-serviceaccount',
        'system:serviceaccount:etl-7f3k2q9x:etl-7f3k2q9x-webserver-serviceaccount',
        'system:serviceaccount:etl-7f3k2q9x:etl-7f3k2q9x-dag-processor-serviceaccount',
        'system:serviceaccount:etl-7f3k2q9x:etl-7f3k2q9x-kpo',
      ],
    );
  });
});
