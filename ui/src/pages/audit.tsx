// The audit log, newest first: filters the API has (actor, target, action), older pages on
// request, each record's details, and a check of the hash chain. Organization owners only; anyone
// else sees the API's own refusal.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api.ts';
import { Empty, ErrorBanner, Field, Loading, Table, Time, useLoad } from '../components/ui.tsx';
import type { AuditRecord, AuditVerify } from '../types.ts';

type Filters = { actor: string; target: string; action: string };
type AuditPage = { items: AuditRecord[]; nextCursor?: string };
const PAGE = 50;
const NO_FILTERS: Filters = { actor: '', target: '', action: '' };

function auditPath(filters: Filters, cursor?: string): string {
  const q = new URLSearchParams({ order: 'newest', limit: String(PAGE) });
  for (const [k, v] of Object.entries(filters)) if (v.trim()) q.set(k, v.trim());
  if (cursor) q.set('cursor', cursor);
  return `/api/v1/audit?${q.toString()}`;
}

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const first = useLoad(() => api<AuditPage>('GET', auditPath(filters)), [filters]);
  const [older, setOlder] = useState<AuditRecord[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [more, setMore] = useState<{ loading: boolean; error: unknown }>({ loading: false, error: undefined });
  useEffect(() => {
    setOlder([]);
    setCursor(first.data?.nextCursor);
  }, [first.data]);

  const [check, setCheck] = useState<{ running: boolean; result?: AuditVerify; error?: unknown }>({ running: false });
  const verify = async () => {
    setCheck({ running: true });
    try {
      setCheck({ running: false, result: await api<AuditVerify>('GET', '/api/v1/audit/verify') });
    } catch (error) {
      setCheck({ running: false, error });
    }
  };

  const loadOlder = async () => {
    if (!cursor) return;
    setMore({ loading: true, error: undefined });
    try {
      const page = await api<AuditPage>('GET', auditPath(filters, cursor));
      setOlder((o) => [...o, ...page.items]);
      setCursor(page.nextCursor);
      setMore({ loading: false, error: undefined });
    } catch (error) {
      setMore({ loading: false, error });
    }
  };

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters({ ...draft });
  };
  const filtered = Object.values(filters).some((v) => v.trim() !== '');
  const records = first.data ? [...first.data.items, ...older] : [];

  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-header">
        <div>
          <h1 id="page-title">Audit log</h1>
          <p className="muted">Every change made through the API, every token exchange, workloads’ reads of their secrets and refused credentials, newest first. Each record carries the hash of the one before it.</p>
        </div>
        <button type="button" className="btn" onClick={() => void verify()} disabled={check.running}>
          {check.running ? 'Checking…' : 'Verify chain'}
        </button>
      </div>
      {check.result?.ok ? (
        <div className="banner banner-ok" role="status">
          Chain intact: {check.result.checked} record(s) check out{check.result.firstSeq !== null ? ` (seq ${check.result.firstSeq}–${check.result.lastSeq})` : ''}.
        </div>
      ) : null}
      {check.result && !check.result.ok ? (
        <div className="banner banner-error" role="alert">
          <strong>Chain broken at seq {check.result.brokenSeq}</strong>
          <p>{check.result.reason}. The {check.result.checked} record(s) before it check out.</p>
        </div>
      ) : null}
      <ErrorBanner error={check.error} title="Could not check the chain" />

      <form className="filters filters-audit" onSubmit={apply} aria-label="Filter the audit log">
        <Field label="Actor id" value={draft.actor} onChange={(actor) => setDraft({ ...draft, actor })} placeholder="tok_… or jc_…" />
        <Field label="Target id or name" value={draft.target} onChange={(target) => setDraft({ ...draft, target })} placeholder="etl" />
        <Field label="Action" value={draft.action} onChange={(action) => setDraft({ ...draft, action })} placeholder="token.exchange" />
        <div className="button-row filters-actions">
          <button type="submit" className="btn btn-primary">
            Filter
          </button>
          {filtered ? (
            <button
              type="button"
              className="btn btn-ghost"
              onClick={() => {
                setDraft(NO_FILTERS);
                setFilters(NO_FILTERS);
              }}
            >
              Clear
            </button>
          ) : null}
        </div>
      </form>

      <ErrorBanner error={first.error} title="Could not load the audit log" />
      {first.loading && !first.data ? <Loading what="audit records" /> : null}
      {first.data && records.length === 0 ? (
        <Empty title={filtered ? 'No record matches' : 'No records yet'}>
          <p>{filtered ? 'Try another actor, target or action, or clear the filters.' : 'Changes made through the API and token exchanges appear here.'}</p>
        </Empty>
      ) : null}
      {records.length > 0 ? (
        <Table label="Audit records" columns={['Seq', 'Time', 'Actor', 'Action', 'Target', 'Result', 'Source', 'Details']}>
          {records.map((r) => (
            <tr key={r.seq}>
              <td>{r.seq}</td>
              <td>
                <Time iso={r.at} />
              </td>
              <td>
                {r.actorName ? <>{r.actorName} </> : null}
                <span className="code-tag">{r.actorType === 'anonymous' ? 'anonymous' : r.actorId}</span>
              </td>
              <td>
                <code className="nowrap">{r.action}</code>
              </td>
              <td>
                {r.targetName || r.targetId} <span className="code-tag">{r.targetType}</span>
              </td>
              <td>
                <span className={`pill ${r.result === 'success' ? 'pill-active' : 'pill-revoked'}`}>{r.result}</span>
              </td>
              <td>{r.source ?? <span className="muted">—</span>}</td>
              <td>
                <details>
                  <summary>Show</summary>
                  <pre className="audit-details">{JSON.stringify({ ...r.details, requestId: r.requestId, hash: r.hash }, null, 2)}</pre>
                </details>
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      <ErrorBanner error={more.error} title="Could not load older records" />
      {cursor ? (
        <div className="form-actions">
          <button type="button" className="btn" onClick={() => void loadOlder()} disabled={more.loading}>
            {more.loading ? 'Loading…' : 'Older records'}
          </button>
        </div>
      ) : null}
    </section>
  );
}
