// Environment: the workspace's Airflow connections (linked to Deployments) and a Deployment's
// environment variables. Passwords and secret values are write-only: the API never returns them,
// so the console never has them to show.
import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, api, enc, listAll } from '../api.ts';
import { CodeBlock, ConfirmDialog, Empty, ErrorBanner, Field, FormActions, ListState, RowActions, Loading, Modal, Select, Table, Time, useAction, useLoad } from '../components/ui.tsx';
import { useCan } from '../permissions.tsx';
import { parseDotenv } from '../dotenv.ts';
import { Link } from '../router.tsx';
import type { Deployment, Variable } from '../types.ts';
import { Connections } from './connections.tsx';
import { MetastoreConnections } from './metastore.tsx';
import { Resolve } from './resolve.tsx';
import type { Connection } from '../types.ts';

function initialDeployment(): string {
  return new URLSearchParams(location.search).get('deployment') ?? '';
}

export function EnvironmentPage() {
  const can = useCan();
  const readsConnections = can('connection.read');
  const readsVariables = can('variable.read');
  const deployments = useLoad(() => listAll<Deployment>('/api/v1/deployments'), []);
  // One load for the Connections section and Resolve's suggestions.
  const connections = useLoad(() => (readsConnections ? api<{ items: Connection[] }>('GET', '/api/v1/connections').then((r) => r.items) : Promise.resolve([])), [readsConnections]);
  const [picked, setPicked] = useState(initialDeployment);
  const list = deployments.data ?? [];
  const current = list.find((d) => d.name === picked) ?? list[0];
  const pick = (name: string) => {
    setPicked(name);
    history.replaceState(null, '', `/environment?deployment=${enc(name)}`);
  };

  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-header">
        <div>
          <h1 id="page-title">Environment</h1>
          <p className="muted">Environment variables and Airflow connections your Deployments' workloads get.</p>
        </div>
      </div>
      <ErrorBanner error={deployments.error} title="Could not load the Deployments" />
      {deployments.loading && !deployments.data ? <Loading what="Deployments" /> : null}
      {deployments.data && list.length === 0 ? (
        <Empty title="No Deployments yet">
          <p>
            Variables belong to a Deployment. <Link to="/deployments">Create a Deployment</Link> first.
          </p>
        </Empty>
      ) : null}
      {deployments.data && readsConnections ? <Connections deployments={list} current={current} list={connections} /> : null}
      {current ? (
        <>
          <div className="filters filters-single">
            <Select label="Deployment" value={current.name} onChange={pick} options={list.map((d) => ({ value: d.name, label: `${d.name} (${d.clusterName})` }))} />
          </div>
          {readsVariables ? <Variables key={current.id} deployment={current} /> : null}
          {readsConnections ? <MetastoreConnections key={`m-${current.id}`} deployment={current} /> : null}
          {readsVariables ? <Rendered key={`r-${current.id}`} deployment={current} /> : null}
          {readsConnections ? <Resolve key={`x-${current.id}`} deployment={current} connIds={(connections.data ?? []).map((c) => c.connId)} /> : null}
        </>
      ) : null}
    </section>
  );
}

function Variables({ deployment: d }: { deployment: Deployment }) {
  const can = useCan();
  const vars = useLoad(() => api<{ items: Variable[] }>('GET', `/api/v1/deployments/${enc(d.id)}/variables`).then((r) => r.items), [d.id]);
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [secret, setSecret] = useState(false);
  const [dotenv, setDotenv] = useState('');
  const [dotenvSecret, setDotenvSecret] = useState(false);
  const adding = useAction();
  const loading = useAction();
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [editing, setEditing] = useState<Variable | undefined>(undefined);
  const [deleting, setDeleting] = useState<Variable | undefined>(undefined);

  const created = (r: { created: Variable[]; skipped: string[] }) =>
    [r.created.length ? `Added ${r.created.map((v) => v.key).join(', ')}.` : '', r.skipped.length ? `Already set, left unchanged (edit them instead): ${r.skipped.join(', ')}.` : ''].filter(Boolean).join(' ');

  const add = (e: FormEvent) => {
    e.preventDefault();
    setNotice(undefined);
    void adding.run(async () => {
      const r = await api<{ created: Variable[]; skipped: string[] }>('POST', `/api/v1/deployments/${enc(d.id)}/variables`, { variables: [{ key: key.trim(), value, secret }] });
      setNotice(created(r));
      if (r.created.length) {
        setKey('');
        setValue('');
      }
      vars.reload();
    });
  };

  const load = (e: FormEvent) => {
    e.preventDefault();
    setNotice(undefined);
    void loading.run(async () => {
      const entries = parseDotenv(dotenv);
      if (entries.length === 0) throw new Error('No KEY=VALUE lines to load.');
      const r = await api<{ created: Variable[]; skipped: string[] }>('POST', `/api/v1/deployments/${enc(d.id)}/variables`, {
        variables: entries.map((x) => ({ ...x, secret: dotenvSecret })),
      });
      setNotice(created(r));
      setDotenv('');
      vars.reload();
    });
  };

  const fieldError = (f: string) => (adding.error instanceof ApiError && adding.error.fieldName?.replace(/^variables\.\d+\./, '') === f ? adding.error.message : undefined);

  return (
    <section className="card" aria-labelledby="vars-title">
      <h2 id="vars-title">Environment variables of {d.name}</h2>
      <p className="muted">
        Set in every component's environment. A <strong>secret</strong> value is write-only: it is stored encrypted and never shown again, here or in the API.
      </p>
      {notice ? (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      ) : null}
      <ListState list={vars} what="variables" failed="Could not load the variables" empty={<Empty title="No variables yet">{can('variable.write') ? 'Add one below, or paste a .env file.' : null}</Empty>}>
        {(items) => (
          <Table label={`Variables of ${d.name}`} columns={['Key', 'Value', 'Updated']} actions>
            {items.map((v) => (
              <tr key={v.key}>
                <td>
                  <code>{v.key}</code>
                </td>
                <td className="wrap">
                  {v.secret ? (
                    <span className="masked">
                      <span aria-hidden="true">••••••••</span> <span className="pill">secret, hidden</span>
                    </span>
                  ) : (
                    <code className="break">{v.value}</code>
                  )}
                </td>
                <td>
                  <Time iso={v.updatedAt} />
                </td>
                <RowActions
                  allowed={can('variable.write')}
                  actions={[
                    { label: 'Edit', name: `Edit ${v.key}`, onClick: () => setEditing(v) },
                    { label: 'Delete', name: `Delete ${v.key}`, onClick: () => setDeleting(v), danger: true },
                  ]}
                />
              </tr>
            ))}
          </Table>
        )}
      </ListState>

      {can('variable.write') ? (
        <>
          <h3>Add a variable</h3>
          <form className="var-form" onSubmit={add} aria-label="Add a variable" noValidate>
            <Field label="Key" value={key} onChange={setKey} placeholder="AIRFLOW__CORE__LOAD_EXAMPLES" error={fieldError('key')} />
            <Field label="Value" value={value} onChange={setValue} type={secret ? 'password' : 'text'} autoComplete={secret ? 'new-password' : 'off'} error={fieldError('value')} />
            <label className="check">
              <input type="checkbox" checked={secret} onChange={(e) => setSecret(e.target.checked)} /> Secret (write-only)
            </label>
            <div className="form-actions">
              <button type="submit" className="btn btn-primary" disabled={adding.busy}>
                Add variable
              </button>
            </div>
          </form>
          <ErrorBanner error={adding.error} title="The variable was not added" />

          <h3>Load from .env</h3>
          <form onSubmit={load} aria-label="Load variables from .env text" noValidate>
            <Field label=".env text" value={dotenv} onChange={setDotenv} multiline placeholder={'API_URL=https://example.com\nexport LOG_LEVEL=info'} hint="KEY=VALUE lines; # comments, export and quotes as in a .env file. Keys already set are skipped." />
            <label className="check">
              <input type="checkbox" checked={dotenvSecret} onChange={(e) => setDotenvSecret(e.target.checked)} /> Store every value as a secret
            </label>
            <div className="form-actions">
              <button type="submit" className="btn" disabled={loading.busy}>
                Load variables
              </button>
            </div>
          </form>
          <ErrorBanner error={loading.error} title="Nothing was loaded" />
        </>
      ) : null}

      {editing ? (
        <EditVariable
          deployment={d}
          variable={editing}
          onClose={() => setEditing(undefined)}
          onSaved={(v) => {
            setEditing(undefined);
            setNotice(`${v.key} updated.`);
            vars.reload();
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete ${deleting.key}?`}
          confirm="Delete variable"
          failed="Not deleted"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api('DELETE', `/api/v1/deployments/${enc(d.id)}/variables/${enc(deleting.key)}?version=${deleting.version}`);
            setNotice(`${deleting.key} deleted.`);
            setDeleting(undefined);
            vars.reload();
          }}
        >
          <p>
            The next start of {d.name}'s components will not have <code>{deleting.key}</code> in their environment.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

const FORMATS = [
  { value: 'dotenv', label: '.env file' },
  { value: 'json', label: 'JSON' },
  { value: 'airflow-connections-json', label: 'Airflow connections file (JSON)' },
  { value: 'airflow-connections-yaml', label: 'Airflow connections file (YAML)' },
];

/** What the Deployment's workloads read, as the API renders it; secrets are withheld and named. */
function Rendered({ deployment: d }: { deployment: Deployment }) {
  const [format, setFormat] = useState('dotenv');
  const [shown, setShown] = useState(false);
  const env = useLoad(
    () => (shown ? api<{ format: string; content: string; withheld: string[] }>('GET', `/api/v1/deployments/${enc(d.id)}/env?format=${enc(format)}`) : Promise.resolve(undefined)),
    [d.id, format, shown],
  );
  return (
    <section className="card" aria-labelledby="rendered-title">
      <div className="card-header">
        <h2 id="rendered-title">What {d.name} reads</h2>
        {!shown ? (
          <button type="button" className="btn" onClick={() => setShown(true)}>
            Show rendered environment
          </button>
        ) : null}
      </div>
      <p className="muted">The variables and linked connections as the Deployment's workloads get them. Secret values and passwords are left out and named.</p>
      {shown ? (
        <>
          <div className="filters filters-single">
            <Select label="Format" value={format} onChange={setFormat} options={FORMATS} />
          </div>
          <ErrorBanner error={env.error} title="Could not render the environment" />
          {env.loading ? <Loading what="the environment" /> : null}
          {env.data && !env.loading ? (
            <>
              <CodeBlock label={`Rendered ${FORMATS.find((f) => f.value === env.data?.format)?.label ?? env.data.format}`} code={env.data.content} />
              {env.data.withheld.length ? (
                <p className="muted">
                  Withheld (write-only): {env.data.withheld.map((w) => <code key={w}>{w}</code>).reduce<ReactNode[]>((a, x) => (a.length ? [...a, ', ', x] : [x]), [])}
                </p>
              ) : null}
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

function EditVariable({ deployment: d, variable: v, onClose, onSaved }: { deployment: Deployment; variable: Variable; onClose: () => void; onSaved: (v: Variable) => void }) {
  // A secret's field starts empty: its value never reached the console.
  const [value, setValue] = useState(v.secret ? '' : (v.value ?? ''));
  const [secret, setSecret] = useState(v.secret);
  const { busy, error, run } = useAction();
  const save = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const body: Record<string, unknown> = { value, version: v.version };
      if (secret && !v.secret) body.secret = true;
      onSaved(await api<Variable>('PATCH', `/api/v1/deployments/${enc(d.id)}/variables/${enc(v.key)}`, body));
    });
  };
  return (
    <Modal title={`Edit ${v.key}`} onClose={onClose}>
      <form onSubmit={save} noValidate>
        <Field
          label={v.secret ? 'New value' : 'Value'}
          value={value}
          onChange={setValue}
          type={secret ? 'password' : 'text'}
          autoComplete={secret ? 'new-password' : 'off'}
          autoFocus
          hint={v.secret ? 'The current value is secret and is never shown; enter the value that replaces it.' : undefined}
        />
        <label className="check">
          <input type="checkbox" checked={secret} disabled={v.secret} onChange={(e) => setSecret(e.target.checked)} /> Secret (write-only{v.secret ? '; a secret stays secret' : ''})
        </label>
        <ErrorBanner error={error} title="Not saved" />
        <FormActions onCancel={onClose} submit="Save" busy={busy} />
      </form>
    </Modal>
  );
}
