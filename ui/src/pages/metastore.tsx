// A Deployment's metadata-database connections: what `airflow connections import` would have put in
// its Airflow database. Airflow consults them last. Imported from an `airflow connections export`
// file (JSON, YAML or .env), all or nothing; passwords are write-only like everywhere else.
import { useState, type FormEvent } from 'react';
import { ApiError, api, enc, fieldMessage } from '../api.ts';
import { ConfirmDialog, Empty, ErrorBanner, Field, FormActions, ListState, RowActions, Modal, Select, Table, Time, useAction, useLoad } from '../components/ui.tsx';
import { useCan } from '../permissions.tsx';
import type { Deployment, MetastoreConnection } from '../types.ts';

type Format = 'json' | 'yaml' | 'env';
const FORMAT_OF_NAME: [RegExp, Format][] = [
  [/\.json$/i, 'json'],
  [/\.ya?ml$/i, 'yaml'],
  [/\.env$|^\.env/i, 'env'],
];

export function MetastoreConnections({ deployment: d }: { deployment: Deployment }) {
  const can = useCan();
  const list = useLoad(() => api<{ items: MetastoreConnection[] }>('GET', `/api/v1/deployments/${enc(d.name)}/metastore-connections`).then((r) => r.items), [d.id]);
  const [importing, setImporting] = useState(false);
  const [deleting, setDeleting] = useState<MetastoreConnection | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  return (
    <section className="card" aria-labelledby="metastore-title">
      <div className="card-header">
        <h2 id="metastore-title">Metadata database connections of {d.name}</h2>
        {can('connection.write') ? (
          <button type="button" className="btn" onClick={() => setImporting(true)}>
            Import file
          </button>
        ) : null}
      </div>
      <p className="muted">
        Connections in {d.name}'s Airflow metadata database, as <code>airflow connections import</code> leaves them. Airflow looks here last, after a secrets backend, the Environment Manager and <code>AIRFLOW_CONN_*</code> variables. Passwords are write-only.
      </p>
      {notice ? (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      ) : null}
      <ListState
        list={list}
        what="metadata database connections"
        failed="Could not load the metadata database connections"
        empty={
          <Empty title="None imported">
            {can('connection.write') ? (
              <p>
                <strong>Import file</strong> takes what <code>airflow connections export</code> wrote (JSON, YAML or .env).
              </p>
            ) : null}
          </Empty>
        }
      >
        {(items) => (
          <Table label={`Metadata database connections of ${d.name}`} columns={['Connection ID', 'Type', 'Details', 'Imported']} actions>
            {items.map((m) => (
              <tr key={m.id}>
                <td>
                  <code>{m.connId}</code>
                  {m.description ? <div className="muted small">{m.description}</div> : null}
                </td>
                <td>{m.connType ?? <span className="muted">none</span>}</td>
                <td className="wrap">
                  {[m.host && `host ${m.host}${m.port !== null ? `:${m.port}` : ''}`, m.schema && `schema ${m.schema}`, m.login && `login ${m.login}`].filter(Boolean).join(' · ')}
                  {m.passwordSet ? <> <span className="pill">password set</span></> : null}
                </td>
                <td>
                  <Time iso={m.importedAt} />
                  <div className="muted small">{m.source}</div>
                </td>
                <RowActions allowed={can('connection.write')} actions={[{ label: 'Delete', name: `Delete ${m.connId} from the metadata database`, onClick: () => setDeleting(m), danger: true }]} />
              </tr>
            ))}
          </Table>
        )}
      </ListState>
      {importing ? (
        <ImportConnections
          deployment={d}
          onClose={() => setImporting(false)}
          onImported={(r) => {
            setImporting(false);
            const parts = [r.created.length ? `created ${r.created.join(', ')}` : '', r.replaced.length ? `replaced ${r.replaced.join(', ')}` : ''].filter(Boolean);
            setNotice(`Imported into ${d.name}'s metadata database: ${parts.join('; ') || 'nothing'}.`);
            list.reload();
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete ${deleting.connId}?`}
          confirm="Delete connection"
          failed="Not deleted"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api('DELETE', `/api/v1/deployments/${enc(d.name)}/metastore-connections/${enc(deleting.connId)}`);
            setNotice(`${deleting.connId} deleted from ${d.name}'s metadata database.`);
            setDeleting(undefined);
            list.reload();
          }}
        >
          <p>
            <code>{deleting.connId}</code> goes from {d.name}'s metadata database; its password with it. Another source defining <code>{deleting.connId}</code> (if any) is then the one Airflow uses.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function ImportConnections({ deployment: d, onClose, onImported }: { deployment: Deployment; onClose: () => void; onImported: (r: { created: string[]; replaced: string[] }) => void }) {
  const [format, setFormat] = useState<Format>('json');
  const [content, setContent] = useState('');
  const [source, setSource] = useState('');
  const { busy, error, setError, run } = useAction();
  const pickFile = async (file: File | undefined) => {
    if (!file) return;
    setError(undefined);
    setSource(file.name);
    const f = FORMAT_OF_NAME.find(([re]) => re.test(file.name))?.[1];
    if (f) setFormat(f);
    setContent(await file.text());
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      if (!content.trim()) throw new ApiError(400, 'ERR_VALIDATION', 'Choose a file or paste its content.', 'body.content');
      onImported(await api<{ created: string[]; replaced: string[] }>('POST', '/api/v1/connections/import', { deployment: d.name, format, content, ...(source && { source }) }));
    });
  };
  return (
    <Modal title={`Import connections into ${d.name}`} onClose={onClose} wide>
      <form onSubmit={submit} noValidate aria-label={`Import connections into ${d.name}`}>
        <p className="muted">All or nothing: a file with one bad connection imports none. A conn_id already imported is replaced.</p>
        <div className="field">
          <label htmlFor="metastore-file">File from airflow connections export</label>
          <input id="metastore-file" type="file" accept=".json,.yaml,.yml,.env,text/plain,application/json" onChange={(e) => void pickFile(e.target.files?.[0])} />
        </div>
        <Select
          label="Format"
          value={format}
          onChange={(v) => setFormat(v as Format)}
          error={fieldMessage(error, 'format')}
          options={[
            { value: 'json', label: 'JSON (airflow connections export --file-format json)' },
            { value: 'yaml', label: 'YAML (--file-format yaml)' },
            { value: 'env', label: '.env (--file-format env)' },
          ]}
        />
        <Field label="Content" value={content} onChange={setContent} multiline placeholder='{"my_postgres": {"conn_type": "postgres", "host": "db", "port": 5432}}' error={fieldMessage(error, 'content')} hint="Filled from the file; or paste it here. Its passwords are stored encrypted and never shown." />
        <ErrorBanner error={error} title="Nothing was imported" />
        <FormActions onCancel={onClose} submit="Import" busy={busy} />
      </form>
    </Modal>
  );
}
