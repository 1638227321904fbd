// Resolve: which definition of a conn_id a Deployment's Airflow uses, walked in Airflow's order
// (GET /api/v1/connections/:conn/resolve). The order, statuses and details are the API's.
import { useState, type FormEvent } from 'react';
import { api, enc } from '../api.ts';
import { ErrorBanner, Field, Loading } from '../components/ui.tsx';
import type { Deployment, Resolved, ResolveDefinition } from '../types.ts';

const SOURCE_LABEL: Record<Resolved['steps'][number]['source'], string> = {
  'secrets-backend': 'Secrets backend',
  'environment-manager': 'Environment Manager',
  'environment-variable': 'Environment variable',
  'metadata-database': 'Metadata database',
};
const STATUS_LABEL: Record<Resolved['steps'][number]['status'], string> = {
  'consulted-first': 'consulted first',
  'skips-connections': 'skips connections',
  winner: 'used',
  shadowed: 'shadowed',
  'not-defined': 'not defined',
  'not-configured': 'not configured',
  unreadable: 'unreadable',
};

export function Resolve({ deployment: d, connIds }: { deployment: Deployment; connIds: string[] }) {
  const [connId, setConnId] = useState('');
  const [result, setResult] = useState<Resolved | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const listId = `conn-ids-${d.id}`;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await api<Resolved>('GET', `/api/v1/connections/${enc(connId.trim())}/resolve?deployment=${enc(d.id)}`));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="resolve-title">
      <h2 id="resolve-title">Resolve a connection for {d.name}</h2>
      <p className="muted">Airflow takes the first source that defines a conn_id and ignores the rest: nothing merges. See which one {d.name} uses and what it shadows.</p>
      <form className="resolve-form" onSubmit={(e) => void submit(e)} aria-label="Resolve a connection" noValidate>
        <Field label="conn_id to resolve" value={connId} onChange={setConnId} placeholder="aws_default" list={listId} />
        <datalist id={listId}>
          {connIds.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || !connId.trim()}>
            Resolve
          </button>
        </div>
      </form>
      <ErrorBanner error={error} title="Could not resolve" />
      {busy ? <Loading what="the resolution" /> : null}
      {result ? (
        <div aria-label={`Resolution of ${result.connId}`} role="region">
          <p className="resolve-verdict">
            {result.winner ? (
              <>
                <strong>{result.deployment.name}</strong> uses <code>{result.connId}</code> from the <strong>{SOURCE_LABEL[result.winner]}</strong>
                {result.secretsBackendConsultedFirst ? ', unless its secrets backend holds one (consulted first)' : ''}.
              </>
            ) : (
              <>
                No source Airlock can see defines <code>{result.connId}</code> for <strong>{result.deployment.name}</strong>
                {result.secretsBackendConsultedFirst ? '; only its secrets backend might.' : '.'}
              </>
            )}
          </p>
          <ol className="resolve-steps">
            {result.steps.map((s) => (
              <li key={s.position} className={`resolve-step resolve-${s.status}`}>
                <div className="resolve-head">
                  <strong>{SOURCE_LABEL[s.source]}</strong> <span className={`pill pill-step-${s.status}`}>{STATUS_LABEL[s.status]}</span>
                </div>
                {s.detail ? <p className="muted small">{s.detail}</p> : null}
                {s.secretsBackend ? (
                  <p className="small">
                    <code>{s.secretsBackend.className}</code>
                    {s.secretsBackend.lookup ? (
                      <>
                        {' '}
                        asked for <code>{s.secretsBackend.lookup}</code>
                      </>
                    ) : null}
                    {s.secretsBackend.kwargsWithheld ? ' (kwargs are a secret variable, withheld)' : ''}
                  </p>
                ) : null}
                {s.definition ? <Definition def={s.definition} /> : null}
                {s.differsFrom?.length ? <p className="small">Differs from the one used in: {s.differsFrom.join(', ')}</p> : null}
              </li>
            ))}
          </ol>
          {result.warnings.length ? (
            <div className="banner banner-warn">
              <ul>
                {result.warnings.map((w, i) => (
                  <li key={i}>{w}</li>
                ))}
              </ul>
            </div>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

function Definition({ def }: { def: ResolveDefinition }) {
  if (def.withheld) return <p className="small muted">A secret variable: its fields are not shown.</p>;
  const rows: [string, string][] = [];
  for (const k of ['conn_type', 'host', 'login', 'schema', 'port'] as const) {
    const v = def[k];
    if (v !== undefined && v !== null && v !== '') rows.push([k, String(v)]);
  }
  if (def.extra && Object.keys(def.extra).length) rows.push(['extra', JSON.stringify(def.extra)]);
  rows.push(['password', def.passwordSet ? 'set (not shown)' : 'none']);
  return (
    <dl className="facts facts-small">
      {rows.map(([k, v]) => (
        <div key={k} className="fact-row">
          <dt>{k}</dt>
          <dd>
            <code className="break">{v}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}
