import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AirflowConnectionFields } from './codec.ts';
import { backendLookup, resolveConnection, type ResolveInput } from './resolve.ts';

const conn = (host: string, password: string | null = null): AirflowConnectionFields => ({ conn_type: 'postgres', host, login: 'etl', password, schema: 'lake', port: 5432, extra: {} });

const EM = conn('em.internal', 'em-pass');
const ENV = conn('env.internal');
const MD = conn('md.internal', 'md-pass');

/**
 * Every combination of the four sources (the secrets backend absent, configured, or configured
 * with connections_prefix null), checked against Airflow's rule: the first source in the order
 * that defines the conn_id is used whole, and every later one is shadowed.
 */
describe('precedence: every combination of the four sources, first match wins', () => {
  const backends = [
    { name: 'no secrets backend', value: undefined, consulted: false },
    { name: 'a secrets backend', value: { className: 'airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend', kwargs: { connections_prefix: 'airflow-connections' }, kwargsSecret: false }, consulted: true },
    { name: 'a secrets backend that skips connections', value: { className: 'airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend', kwargs: { connections_prefix: null }, kwargsSecret: false }, consulted: false },
  ];
  for (const backend of backends) {
    for (let mask = 0; mask < 8; mask++) {
      const has = { em: Boolean(mask & 1), env: Boolean(mask & 2), md: Boolean(mask & 4) };
      const present = [has.em && 'environment-manager', has.env && 'environment-variable', has.md && 'metadata-database'].filter(Boolean) as string[];
      it(`${backend.name}; defined in: ${present.join(', ') || 'nothing'}`, () => {
        const input: ResolveInput = { connId: 'pg' };
        if (backend.value) input.secretsBackend = backend.value;
        if (has.em) input.environmentManager = { fields: EM, linkedBy: 'deployment' };
        if (has.env) input.environmentVariable = { key: 'AIRFLOW_CONN_PG', secret: false, fields: ENV };
        if (has.md) input.metadataDatabase = { fields: MD };
        const r = resolveConnection(input);
        assert.equal(r.winner, present[0] ?? null);
        assert.equal(r.secretsBackendConsultedFirst, backend.consulted);
        assert.deepEqual(r.steps.map((s) => s.source), ['secrets-backend', 'environment-manager', 'environment-variable', 'metadata-database']);
        assert.equal(r.steps[0]!.status, backend.value ? (backend.consulted ? 'consulted-first' : 'skips-connections') : 'not-configured');
        for (const s of r.steps.slice(1)) {
          const idx = present.indexOf(s.source);
          assert.equal(s.status, idx < 0 ? 'not-defined' : idx === 0 ? 'winner' : 'shadowed', s.source);
          if (idx > 0) assert.ok(s.differsFrom!.includes('host'), 'a shadowed definition names the fields it differs in');
        }
        // Every shadowed definition that differs is warned about; the backend's power over the winner too.
        assert.equal(r.warnings.filter((w) => /never used: the first match wins/.test(w)).length, Math.max(0, present.length - 1));
        assert.equal(r.warnings.some((w) => /secrets backend is consulted first|only the secrets backend/.test(w)), backend.consulted);
        assert.ok(!JSON.stringify(r).includes('em-pass') && !JSON.stringify(r).includes('md-pass'), 'no password is shown');
      });
    }
  }

  it('an identical shadowed definition is listed without a warning', () => {
    const r = resolveConnection({ connId: 'pg', environmentManager: { fields: EM }, metadataDatabase: { fields: { ...EM } } });
    assert.equal(r.steps[3]!.status, 'shadowed');
    assert.deepEqual(r.steps[3]!.differsFrom, []);
    assert.deepEqual(r.warnings, []);
  });

  it('a password that differs is named as a field, never shown', () => {
    const r = resolveConnection({ connId: 'pg', environmentManager: { fields: EM }, metadataDatabase: { fields: { ...EM, password: 'other' } } });
    assert.deepEqual(r.steps[3]!.differsFrom, ['password']);
    assert.equal(r.steps[2]!.definition, undefined);
    assert.deepEqual(r.steps[1]!.definition, { conn_type: 'postgres', host: 'em.internal', login: 'etl', schema: 'lake', port: 5432, extra: {}, passwordSet: true });
  });

  it("a secret AIRFLOW_CONN_* variable: compared, but none of its fields shown; secret kwargs are withheld", () => {
    const r = resolveConnection({
      connId: 'pg',
      secretsBackend: { className: 'x.Backend', kwargs: { connections_prefix: 'c', token: 'kw-secret' }, kwargsSecret: true },
      environmentVariable: { key: 'AIRFLOW_CONN_PG', secret: true, fields: ENV },
      metadataDatabase: { fields: MD },
    });
    assert.deepEqual(r.steps[2]!.definition, { passwordSet: false, withheld: true });
    assert.deepEqual(r.steps[3]!.differsFrom, ['host', 'password']);
    assert.deepEqual(r.steps[0]!.secretsBackend, { className: 'x.Backend', kwargs: null, kwargsWithheld: true });
    assert.ok(!JSON.stringify(r).includes('env.internal') && !JSON.stringify(r).includes('kw-secret'));
  });

  const lookups: [string, Record<string, unknown> | null, string | null | undefined][] = [
    ['airflow.providers.google.cloud.secrets.secret_manager.CloudSecretManagerBackend', { connections_prefix: 'airflow-connections' }, 'airflow-connections-aws_default'],
    ['airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend', { connections_prefix: 'airflow/connections' }, 'airflow/connections/aws_default'],
    ['airflow.providers.microsoft.azure.secrets.key_vault.AzureKeyVaultBackend', { connections_prefix: 'airflow-connections' }, 'airflow-connections-aws_default'],
    ['airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend', { connections_prefix: '/airflow/connections', sep: ':' }, '/airflow/connections:aws_default'],
    ['x.Backend', { connections_prefix: null }, null],
    ['x.Backend', {}, undefined],
  ];
  for (const [cls, kwargs, want] of lookups) {
    it(`the secret ${cls.split('.').pop()} is asked for: ${String(want)}`, () => assert.equal(backendLookup(cls, kwargs, 'aws_default'), want));
  }
});
