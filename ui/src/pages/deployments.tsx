import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, api, enc, listAll } from '../api.ts';
import { ConfirmDialog, Empty, ErrorBanner, Field, FormActions, ListState, RowActions, Modal, Select, Table, Time, useAction, useLoad } from '../components/ui.tsx';
import { useCan } from '../permissions.tsx';
import { Link, navigate } from '../router.tsx';
import type { Cluster, Deployment, DeploymentOptions, SavedIdentity } from '../types.ts';
import { identitySummary } from './identity-text.ts';

export function DeploymentsPage() {
  const can = useCan();
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [cluster, setCluster] = useState('');
  const [identity, setIdentity] = useState('');
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Deployment | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);

  // The name filter is the API's (`?name=` substring); typing waits a moment before asking.
  useEffect(() => {
    const t = window.setTimeout(() => setQuery(search.trim()), 250);
    return () => window.clearTimeout(t);
  }, [search]);

  const clusters = useLoad(() => listAll<Cluster>('/api/v1/clusters'), []);
  const identities = useLoad(() => api<{ items: SavedIdentity[] }>('GET', '/api/v1/identities').then((r) => r.items), []);
  const list = useLoad(() => {
    const q = new URLSearchParams();
    if (query) q.set('name', query);
    if (cluster) q.set('cluster', cluster);
    if (identity) q.set('identity', identity);
    return listAll<Deployment>(`/api/v1/deployments?${q.toString()}`);
  }, [query, cluster, identity]);

  const filtered = query !== '' || cluster !== '' || identity !== '';

  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-header">
        <div>
          <h1 id="page-title">Deployments</h1>
          <p className="muted">Each Deployment runs in its own namespace; its components act as the workload identity shown here.</p>
        </div>
        {can('deployment.write') ? (
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            + Deployment
          </button>
        ) : null}
      </div>
      {notice ? (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      ) : null}
      <div className="filters" role="search">
        <Field label="Search by name" value={search} onChange={setSearch} placeholder="e.g. etl" type="search" />
        <Select
          label="Cluster"
          value={cluster}
          onChange={setCluster}
          options={[{ value: '', label: 'All clusters' }, ...(clusters.data ?? []).map((c) => ({ value: c.id, label: c.name }))]}
        />
        <Select
          label="Saved identity"
          value={identity}
          onChange={setIdentity}
          options={[{ value: '', label: 'Any identity' }, ...(identities.data ?? []).map((i) => ({ value: i.id, label: i.name }))]}
        />
      </div>
      <ListState
        list={list}
        what="Deployments"
        failed="Could not load the Deployments"
        empty={
          filtered ? (
            <Empty title="No Deployment matches">Clear the search or pick another cluster or identity.</Empty>
          ) : (
            <Empty title="No Deployments yet">
              {clusters.data && clusters.data.length === 0 ? (
                <p>
                  A Deployment runs on a cluster, and there is none yet. Create one with <code>airlock cluster create</code>, then come back to add a Deployment.
                </p>
              ) : can('deployment.write') ? (
                <p>
                  Create your first Deployment with <strong>+ Deployment</strong>: it gets a namespace, a service account per component and the default workload identity.
                </p>
              ) : (
                <p>None in this workspace yet.</p>
              )}
            </Empty>
          )
        }
      >
        {(items) => (
          <Table label="Deployments" columns={['Name', 'Cluster', 'Runtime', 'Workload identity in force', 'Created']} actions busy={list.loading}>
            {items.map((d) => (
              <tr key={d.id}>
                <td>
                  <Link to={`/deployments/${enc(d.name)}`}>{d.name}</Link>
                  {d.description ? <div className="muted small">{d.description}</div> : null}
                </td>
                <td>{d.clusterName}</td>
                <td>{d.runtimeVersion}</td>
                <td className="wrap">{identitySummary(d)}</td>
                <td>
                  <Time iso={d.createdAt} />
                </td>
                <RowActions allowed={can('deployment.write')} actions={[{ label: 'Delete', name: `Delete ${d.name}`, onClick: () => setDeleting(d), danger: true }]} />
              </tr>
            ))}
          </Table>
        )}
      </ListState>
      <SavedIdentities
        onChanged={(message) => {
          setNotice(message);
          setIdentity('');
          identities.reload();
          list.reload();
        }}
      />
      {creating ? (
        <CreateDeployment
          clusters={clusters.data ?? []}
          onClose={() => setCreating(false)}
          onCreated={(d) => {
            setCreating(false);
            navigate(`/deployments/${enc(d.name)}`);
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmDelete
          deployment={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={() => {
            setNotice(`Deployment ${deleting.name} was deleted.`);
            setDeleting(undefined);
            list.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function CreateDeployment({ clusters, onClose, onCreated }: { clusters: Cluster[]; onClose: () => void; onCreated: (d: Deployment) => void }) {
  const [name, setName] = useState('');
  const [cluster, setCluster] = useState(clusters[0]?.id ?? '');
  const [runtime, setRuntime] = useState('');
  const [description, setDescription] = useState('');
  const { busy, error, run } = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const body: Record<string, string> = { name: name.trim(), cluster, runtimeVersion: runtime.trim() };
      if (description.trim()) body.description = description.trim();
      onCreated(await api<Deployment>('POST', '/api/v1/deployments', body));
    });
  };
  // The API names the field at fault; its message goes under that field, anything else above the buttons.
  const at = (f: string) => (error instanceof ApiError && error.fieldName === f ? error.message.replace(/^body\.\w+: /, '') : undefined);
  const elsewhere = error && !(error instanceof ApiError && ['name', 'cluster', 'runtimeVersion', 'description'].includes(error.fieldName ?? '')) ? error : undefined;

  return (
    <Modal title="New Deployment" onClose={onClose}>
      {clusters.length === 0 ? (
        <Empty title="No cluster to run on">
          <p>
            Create a cluster first: <code>airlock cluster create prod-aws --cloud aws --region us-east-1</code>.
          </p>
        </Empty>
      ) : (
        <form onSubmit={submit} noValidate>
          <Field label="Name" value={name} onChange={setName} required autoFocus error={at('name')} hint="Lowercase letters, digits and -, up to 63 characters." />
          <Select label="Cluster" value={cluster} onChange={setCluster} error={at('cluster')} options={clusters.map((c) => ({ value: c.id, label: `${c.name} (${c.cloud}, ${c.type})` }))} />
          <Field label="Runtime version" value={runtime} onChange={setRuntime} required placeholder="12.1.0" error={at('runtimeVersion')} hint="The Astro Runtime version, e.g. 12.1.0." />
          <Field label="Description" value={description} onChange={setDescription} error={at('description')} />
          <ErrorBanner error={elsewhere} title="The Deployment was not created" />
          <FormActions onCancel={onClose} submit={busy ? 'Creating…' : 'Create Deployment'} busy={busy} />
        </form>
      )}
    </Modal>
  );
}

export function ConfirmDelete({ deployment, onClose, onDeleted }: { deployment: Deployment; onClose: () => void; onDeleted: () => void }) {
  return (
    <ConfirmDialog
      title={`Delete ${deployment.name}?`}
      confirm="Delete Deployment"
      failed="The Deployment was not deleted"
      onClose={onClose}
      onConfirm={async () => {
        await api('DELETE', `/api/v1/deployments/${enc(deployment.id)}`);
        onDeleted();
      }}
    >
      <p>
        Deployment <strong>{deployment.name}</strong> (namespace <code>{deployment.namespace}</code>) and its join credentials go away. Workloads using its identity stop getting tokens. This cannot be undone.
      </p>
    </ConfirmDialog>
  );
}

type IdentityOption = DeploymentOptions['workloadIdentityOptions'][number];

/** The workspace's saved identities, each with how many Deployments use it; delete one (moving its Deployments to the default identity when asked to). */
function SavedIdentities({ onChanged }: { onChanged: (message: string) => void }) {
  const can = useCan();
  const options = useLoad(() => api<DeploymentOptions>('GET', '/api/v1/deployment-options').then((r) => r.workloadIdentityOptions), []);
  const [deleting, setDeleting] = useState<IdentityOption | undefined>(undefined);
  return (
    <section className="card" aria-labelledby="saved-identities-title">
      <div className="card-header">
        <h2 id="saved-identities-title">Saved identities</h2>
      </div>
      <p className="muted">Customer-managed identities saved under a name (from a Deployment's Workload Identity, <em>Save as</em>) so several Deployments can use one.</p>
      <ListState
        list={options}
        what="saved identities"
        failed="Could not load the saved identities"
        empty={
          <Empty title="No saved identities">
            Save one from a Deployment's Workload Identity with <strong>Save as</strong>.
          </Empty>
        }
      >
        {(items) => (
          <Table label="Saved identities" columns={['Name', 'Cloud', 'Identity', 'Used by']} actions>
            {items.map((i) => (
              <tr key={i.id}>
                <td>{i.name}</td>
                <td>{i.cloud}</td>
                <td className="wrap">
                  <code>{i.value}</code>
                </td>
                <td>
                  {i.deploymentsUsing} Deployment{i.deploymentsUsing === 1 ? '' : 's'}
                  {i.capacity !== undefined ? <span className="muted"> of {i.capacity}</span> : null}
                </td>
                <RowActions allowed={can('identity.write')} actions={[{ label: 'Delete', name: `Delete saved identity ${i.name}`, onClick: () => setDeleting(i), danger: true }]} />
              </tr>
            ))}
          </Table>
        )}
      </ListState>
      {deleting ? (
        <DeleteSavedIdentity
          identity={deleting}
          onClose={() => setDeleting(undefined)}
          onDeleted={(moved) => {
            setDeleting(undefined);
            options.reload();
            onChanged(`Saved identity ${deleting.name} was deleted.${moved.length ? ` ${moved.join(', ')} now use${moved.length === 1 ? 's' : ''} the default identity.` : ''}`);
          }}
        />
      ) : null}
    </section>
  );
}

function DeleteSavedIdentity({ identity: i, onClose, onDeleted }: { identity: IdentityOption; onClose: () => void; onDeleted: (moved: string[]) => void }) {
  const [reset, setReset] = useState(false);
  return (
    <ConfirmDialog
      title={`Delete saved identity ${i.name}?`}
      confirm="Delete saved identity"
      failed="The saved identity was not deleted"
      onClose={onClose}
      onConfirm={async () => {
        const r = await api<{ resetDeployments: string[] }>('DELETE', `/api/v1/identities/${enc(i.name)}?resetDeployments=${reset ? 'true' : 'false'}`);
        onDeleted(r.resetDeployments);
      }}
    >
      <p>
        The name <strong>{i.name}</strong> goes; the identity itself (<code>{i.value}</code>) is not touched in your cloud.
      </p>
      {i.deploymentsUsing > 0 ? (
        <label className="check">
          <input type="checkbox" checked={reset} onChange={(e) => setReset(e.target.checked)} /> Move the {i.deploymentsUsing} Deployment{i.deploymentsUsing === 1 ? '' : 's'} using it to the default identity (their workloads then act as another identity, which your cloud may not trust yet)
        </label>
      ) : null}
    </ConfirmDialog>
  );
}
