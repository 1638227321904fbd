import { useState, type FormEvent } from 'react';
import { ApiError, api, enc, fieldMessage } from '../api.ts';
import { Choice, Empty, ErrorBanner, Field, ListState, RowActions, Loading, Select, ShownOnce, Table, Time, useAction, useLoad } from '../components/ui.tsx';
import { useCan } from '../permissions.tsx';
import { Link, navigate } from '../router.tsx';
import type { Cloud, Cluster, Credential, Deployment, DeploymentOptions } from '../types.ts';
import { ConfirmDelete } from './deployments.tsx';
import { HowToConfigure } from './how-to-configure.tsx';
import { cloudName, configuredSummary } from './identity-text.ts';

export function DeploymentPage({ name }: { name: string }) {
  const dep = useLoad(() => api<Deployment>('GET', `/api/v1/deployments/${enc(name)}`), [name]);
  const [deleting, setDeleting] = useState(false);
  const can = useCan();
  const d = dep.data;
  const cluster = useLoad(() => (d ? api<Cluster>('GET', `/api/v1/clusters/${enc(d.clusterId)}`) : Promise.resolve(undefined)), [d?.clusterId]);

  if (dep.error) {
    return (
      <section className="page">
        <p>
          <Link to="/deployments">← Deployments</Link>
        </p>
        <ErrorBanner error={dep.error} title={`Could not load Deployment ${name}`} />
      </section>
    );
  }
  if (!d) {
    return (
      <section className="page">
        <Loading what={`Deployment ${name}`} />
      </section>
    );
  }

  return (
    <section className="page" aria-labelledby="page-title">
      <p className="crumbs">
        <Link to="/deployments">← Deployments</Link>
      </p>
      <div className="page-header">
        <div>
          <h1 id="page-title">{d.name}</h1>
          {d.description ? <p className="muted">{d.description}</p> : null}
        </div>
        <div className="button-row">
          <Link className="btn" to={`/environment?deployment=${enc(d.name)}`}>
            Environment
          </Link>
          {can('deployment.write') ? (
            <button type="button" className="btn btn-danger-ghost" onClick={() => setDeleting(true)}>
              Delete Deployment
            </button>
          ) : null}
        </div>
      </div>

      <section className="card" aria-labelledby="overview-title">
        <h2 id="overview-title">Overview</h2>
        <dl className="facts">
          <dt>Namespace</dt>
          <dd>
            <code>{d.namespace}</code>
          </dd>
          <dt>Cluster</dt>
          <dd>
            <Link to="/clusters">{d.clusterName}</Link> <span className="muted">({cloudName(d.cloud)}{cluster.data ? `, ${cluster.data.type}, ${cluster.data.region}` : ''})</span>
          </dd>
          <dt>Runtime</dt>
          <dd>
            <Runtime deployment={d} onChanged={dep.reload} />
          </dd>
          <dt>Issuer URL</dt>
          <dd>
            <code className="break">{d.oidcIssuerUrl}</code>
          </dd>
          <dt>Created</dt>
          <dd>
            <Time iso={d.createdAt} />
          </dd>
        </dl>
        <h3>Component service accounts</h3>
        <Table label="Component service accounts" columns={['Component', 'Service account', 'Token subject']}>
          {d.components.map((c) => (
            <tr key={c.component}>
              <td>{c.component}</td>
              <td>
                <code>{c.serviceAccount}</code>
              </td>
              <td>
                <code className="break">{c.subject}</code>
              </td>
            </tr>
          ))}
        </Table>
      </section>

      <WorkloadIdentity deployment={d} cluster={cluster.data} onChanged={dep.reload} />
      <Credentials deployment={d} />

      {deleting ? <ConfirmDelete deployment={d} onClose={() => setDeleting(false)} onDeleted={() => navigate('/deployments')} /> : null}
    </section>
  );
}

/** The runtime version, with a small form to change it (the API re-checks the identity rules). */
function Runtime({ deployment: d, onChanged }: { deployment: Deployment; onChanged: () => void }) {
  const can = useCan();
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(d.runtimeVersion);
  const { busy, error, setError, run } = useAction();
  if (!editing) {
    return (
      <>
        {d.runtimeVersion}{' '}
        {can('deployment.write') ? (
          <button type="button" className="btn btn-small" onClick={() => setEditing(true)}>
            Change runtime
          </button>
        ) : null}
      </>
    );
  }
  const save = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await api<Deployment>('PATCH', `/api/v1/deployments/${enc(d.id)}`, { runtimeVersion: value.trim() });
      setEditing(false);
      onChanged();
    });
  };
  return (
    <form className="runtime-form" onSubmit={save} aria-label="Change runtime" noValidate>
      <Field label="Runtime version" value={value} onChange={setValue} autoFocus />
      <div className="button-row">
        <button type="submit" className="btn btn-primary btn-small" disabled={busy}>
          Save runtime
        </button>
        <button type="button" className="btn btn-small" onClick={() => { setEditing(false); setError(undefined); setValue(d.runtimeVersion); }}>
          Cancel
        </button>
      </div>
      <ErrorBanner error={error} title="The runtime was not changed" />
    </form>
  );
}

type Mode = 'default' | 'customer';
type Source = 'new' | 'saved';

function WorkloadIdentity({ deployment: d, cluster, onChanged }: { deployment: Deployment; cluster: Cluster | undefined; onChanged: () => void }) {
  const can = useCan();
  const [editing, setEditing] = useState(false);
  const [howTo, setHowTo] = useState(false);
  const [mode, setMode] = useState<Mode>(d.workloadIdentity ? 'customer' : 'default');
  const [source, setSource] = useState<Source>(d.workloadIdentity?.type === 'saved' ? 'saved' : 'new');
  const [savedPick, setSavedPick] = useState(d.workloadIdentity?.savedIdentityName ?? '');
  const [roleArn, setRoleArn] = useState(d.workloadIdentity?.roleArn ?? '');
  const [saEmail, setSaEmail] = useState(d.workloadIdentity?.serviceAccountEmail ?? '');
  const [projectNumber, setProjectNumber] = useState(d.workloadIdentity?.projectNumber ?? '');
  const [az, setAz] = useState({
    managedIdentityName: d.workloadIdentity?.managedIdentityName ?? '',
    resourceGroup: d.workloadIdentity?.resourceGroup ?? '',
    subscriptionId: d.workloadIdentity?.subscriptionId ?? '',
    clientId: d.workloadIdentity?.clientId ?? '',
    tenantId: d.workloadIdentity?.tenantId ?? '',
  });
  const [saveName, setSaveName] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [errorTitle, setErrorTitle] = useState('');
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const options = useLoad(() => api<DeploymentOptions>('GET', `/api/v1/deployment-options?cluster=${enc(d.clusterId)}`), [d.clusterId, d.updatedAt]);
  const saved = (options.data?.workloadIdentityOptions ?? []).filter((o) => o.cloud === d.cloud);

  const run = async (title: string, what: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    setErrorTitle(title);
    setNotice(undefined);
    try {
      setNotice(await what());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const saveConfiguration = () =>
    run('The configuration was not saved', async () => {
      const body: Record<string, unknown> = { name: saveName.trim() };
      if (d.cloud === 'aws') body.awsRoleArn = roleArn.trim();
      else if (d.cloud === 'gcp') {
        body.gcpServiceAccount = saEmail.trim();
        if (projectNumber.trim()) body.gcpProjectNumber = projectNumber.trim();
      } else body.azure = Object.fromEntries(Object.entries(az).map(([k, v]) => [k, v.trim()]));
      const r = await api<{ name: string; created: boolean }>('PUT', '/api/v1/identities', body);
      options.reload();
      setSource('saved');
      setSavedPick(r.name);
      return `Saved identity ${r.name} ${r.created ? 'created' : 'updated'}. Click Update Deployment to apply it to ${d.name}.`;
    });

  const updateDeployment = () =>
    run(`${d.name} was not updated`, async () => {
      let value: string;
      if (mode === 'default') value = 'default';
      else if (source === 'saved') {
        if (!savedPick) throw new Error('Pick a saved identity first.');
        value = savedPick;
      } else if (d.cloud === 'aws') value = roleArn.trim();
      else if (d.cloud === 'gcp') value = saEmail.trim();
      else throw new Error('An Azure managed identity is applied as a saved identity: fill in its fields, give it a name and click Save Configuration first.');
      await api<Deployment>('PATCH', `/api/v1/deployments/${enc(d.id)}`, { workloadIdentity: value });
      onChanged();
      setEditing(false);
      return mode === 'default' ? `${d.name} now uses the Default Identity.` : `${d.name} now uses ${value}.`;
    });

  const fieldError = (f: string) => (error instanceof ApiError && (error.fieldName === f || error.fieldName === `azure.${f}`) ? error.message : undefined);
  const e = d.effectiveWorkloadIdentity;

  return (
    <section className="card" aria-labelledby="wi-title">
      <div className="card-header">
        <h2 id="wi-title">Workload Identity</h2>
        <div className="button-row">
          <button type="button" className="btn" onClick={() => setHowTo(true)}>
            How to configure
          </button>
          {!editing && can('deployment.write') ? (
            <button type="button" className="btn" onClick={() => setEditing(true)}>
              Edit
            </button>
          ) : null}
        </div>
      </div>
      <dl className="facts">
        <dt>Configured</dt>
        <dd>{configuredSummary(d)}</dd>
        <dt>In force</dt>
        <dd>
          {e ? (
            <>
              {e.mode === 'default' ? 'Default identity' : 'Customer-managed identity'}: <code className="break">{e.value}</code>
            </>
          ) : (
            <span className="warn-text">None: {d.effectiveWorkloadIdentityReason}</span>
          )}
        </dd>
      </dl>
      {notice ? (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      ) : null}
      {editing ? (
        <form className="editor" onSubmit={(ev: FormEvent) => ev.preventDefault()} aria-label="Edit workload identity" noValidate>
          <Choice<Mode>
            legend="Workload Identity"
            value={mode}
            onChange={setMode}
            options={[
              { value: 'default', label: 'Default Identity', hint: options.data?.defaultIdentity?.available ? `platform-managed (${options.data.defaultIdentity.pattern ?? ''})` : options.data?.defaultIdentity?.reason ?? 'platform-managed' },
              { value: 'customer', label: 'Customer Managed Identity', hint: `your own ${d.cloud === 'aws' ? 'IAM role' : d.cloud === 'gcp' ? 'service account' : 'managed identity'}` },
            ]}
          />
          {mode === 'customer' ? (
            <>
              <Choice<Source>
                legend="Identity"
                value={source}
                onChange={setSource}
                options={[
                  { value: 'new', label: `Enter ${cloudName(d.cloud)} identity` },
                  { value: 'saved', label: 'Use a saved identity', hint: saved.length ? `${saved.length} saved for ${cloudName(d.cloud)}` : `none saved for ${cloudName(d.cloud)} yet` },
                ]}
              />
              {source === 'saved' ? (
                saved.length ? (
                  <Select
                    label="Saved identity"
                    value={savedPick}
                    onChange={setSavedPick}
                    options={[
                      { value: '', label: 'Choose…' },
                      ...saved.map((o) => ({ value: o.name, label: `${o.name} — ${o.value} (${o.deploymentsUsing}${o.capacity ? ` of ${o.capacity}` : ''} Deployments)` })),
                    ]}
                  />
                ) : (
                  <p className="muted">No saved identity for {cloudName(d.cloud)} yet. Enter one, name it and click Save Configuration.</p>
                )
              ) : (
                <CloudFields cloud={d.cloud} roleArn={roleArn} setRoleArn={setRoleArn} saEmail={saEmail} setSaEmail={setSaEmail} projectNumber={projectNumber} setProjectNumber={setProjectNumber} az={az} setAz={setAz} fieldError={fieldError} />
              )}
              {source === 'new' ? (
                <Field label="Save as" value={saveName} onChange={setSaveName} error={fieldError('name')} hint="A name for Save Configuration, so other Deployments can pick this identity." placeholder="etl-reader" />
              ) : null}
            </>
          ) : null}
          <ErrorBanner error={error} title={errorTitle} />
          <div className="form-actions">
            <button type="button" className="btn" onClick={() => { setEditing(false); setError(undefined); }}>
              Cancel
            </button>
            {mode === 'customer' && source === 'new' ? (
              <button type="button" className="btn" disabled={busy} onClick={() => void saveConfiguration()}>
                Save Configuration
              </button>
            ) : null}
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void updateDeployment()}>
              Update Deployment
            </button>
          </div>
        </form>
      ) : null}
      {howTo ? <HowToConfigure deployment={d} cluster={cluster} onClose={() => setHowTo(false)} /> : null}
    </section>
  );
}

function CloudFields(p: {
  cloud: Cloud;
  roleArn: string;
  setRoleArn: (v: string) => void;
  saEmail: string;
  setSaEmail: (v: string) => void;
  projectNumber: string;
  setProjectNumber: (v: string) => void;
  az: Record<'managedIdentityName' | 'resourceGroup' | 'subscriptionId' | 'clientId' | 'tenantId', string>;
  setAz: (v: Record<'managedIdentityName' | 'resourceGroup' | 'subscriptionId' | 'clientId' | 'tenantId', string>) => void;
  fieldError: (f: string) => string | undefined;
}) {
  if (p.cloud === 'aws') {
    return <Field label="IAM role ARN" value={p.roleArn} onChange={p.setRoleArn} placeholder="arn:aws:iam::123456789012:role/etl-reader" error={p.fieldError('awsRoleArn') ?? p.fieldError('workloadIdentity')} />;
  }
  if (p.cloud === 'gcp') {
    return (
      <>
        <Field label="Service account email" value={p.saEmail} onChange={p.setSaEmail} placeholder="lake-reader@my-proj.iam.gserviceaccount.com" error={p.fieldError('gcpServiceAccount') ?? p.fieldError('workloadIdentity')} />
        <Field label="Project number" value={p.projectNumber} onChange={p.setProjectNumber} placeholder="123456789012" error={p.fieldError('gcpProjectNumber')} hint="Optional; kept with a saved identity." />
      </>
    );
  }
  const set = (k: keyof typeof p.az) => (v: string) => p.setAz({ ...p.az, [k]: v });
  return (
    <>
      <Field label="Managed identity name" value={p.az.managedIdentityName} onChange={set('managedIdentityName')} error={p.fieldError('managedIdentityName')} placeholder="blob-mi" />
      <Field label="Resource group" value={p.az.resourceGroup} onChange={set('resourceGroup')} error={p.fieldError('resourceGroup')} placeholder="data-rg" />
      <Field label="Subscription ID" value={p.az.subscriptionId} onChange={set('subscriptionId')} error={p.fieldError('subscriptionId')} />
      <Field label="Client ID" value={p.az.clientId} onChange={set('clientId')} error={p.fieldError('clientId')} />
      <Field label="Tenant ID" value={p.az.tenantId} onChange={set('tenantId')} error={p.fieldError('tenantId')} />
      <p className="hint">An Azure managed identity is applied by name: Save Configuration, then Update Deployment.</p>
    </>
  );
}

const COMPONENT_HINT = 'Which part of the Deployment the credential acts as.';

function Credentials({ deployment: d }: { deployment: Deployment }) {
  const list = useLoad(() => api<{ items: Credential[] }>('GET', `/api/v1/deployments/${enc(d.id)}/credentials`).then((r) => r.items), [d.id]);
  const can = useCan();
  const [component, setComponent] = useState(d.components[0]?.component ?? '');
  const [ttl, setTtl] = useState('30d');
  const [description, setDescription] = useState('');
  const [created, setCreated] = useState<(Credential & { secret: string }) | undefined>(undefined);
  const { busy, error, run } = useAction();

  const create = (ev: FormEvent) => {
    ev.preventDefault();
    void run(async () => {
      const body: Record<string, string> = { component };
      if (ttl.trim()) body.ttl = ttl.trim();
      if (description.trim()) body.description = description.trim();
      setCreated(await api<Credential & { secret: string }>('POST', `/api/v1/deployments/${enc(d.id)}/credentials`, body));
      setDescription('');
      list.reload();
    });
  };
  const revoke = (c: Credential) =>
    run(async () => {
      await api('DELETE', `/api/v1/deployments/${enc(d.id)}/credentials/${enc(c.id)}`);
      list.reload();
    });
  const at = (f: string) => fieldMessage(error, f);

  return (
    <section className="card" aria-labelledby="cred-title">
      <h2 id="cred-title">Join credentials</h2>
      <p className="muted">A join credential lets a workload outside the cluster (a VM, CI, a laptop) act as one component of this Deployment through <code>airlock exec</code>.</p>
      {can('credential.write') ? (
        <form className="inline-form" onSubmit={create} aria-label="Create a join credential" noValidate>
          <Select label="Component" value={component} onChange={setComponent} hint={COMPONENT_HINT} error={at('component')} options={d.components.map((c) => ({ value: c.component, label: c.component }))} />
          <Field label="Lifetime" value={ttl} onChange={setTtl} hint="90s, 15m, 1h or 30d; at most 365d." error={at('ttl')} />
          <Field label="Credential description" value={description} onChange={setDescription} placeholder="celery workers on vm-pool-3" error={at('description')} />
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              Create join credential
            </button>
          </div>
        </form>
      ) : null}
      <ErrorBanner error={error} />
      {created ? (
        <ShownOnce
          label="New join credential"
          lead="Copy this join credential now."
          codes={[
            { label: 'Join credential', code: created.secret },
            { label: 'Run a command with it', code: `AIRLOCK_JOIN_CREDENTIAL='${created.secret}' airlock exec --server ${location.origin} --deployment ${d.name} --component ${created.component} -- <command>` },
          ]}
          onDone={() => setCreated(undefined)}
        />
      ) : null}
      <ListState
        list={list}
        what="join credentials"
        failed="Could not load the join credentials"
        empty={<Empty title="No join credentials">{can('credential.write') ? "Create one above when a workload outside the cluster needs this Deployment's identity." : null}</Empty>}
      >
        {(items) => (
          <Table label="Join credentials" columns={['ID', 'Component', 'Description', 'Last used', 'Expires', 'Status']} actions>
            {items.map((c) => (
              <tr key={c.id}>
                <td>
                  <code>{c.id}</code>
                </td>
                <td>{c.component}</td>
                <td>{c.description || <span className="muted">—</span>}</td>
                <td>
                  <Time iso={c.lastUsedAt} />
                </td>
                <td>
                  <Time iso={c.expiresAt} />
                </td>
                <td>
                  <span className={`pill pill-${c.status}`}>{c.status}</span>
                </td>
                <RowActions allowed={c.status === 'live' && can('credential.write')} actions={[{ label: 'Revoke', name: `Revoke ${c.id}`, onClick: () => void revoke(c), danger: true }]} />
              </tr>
            ))}
          </Table>
        )}
      </ListState>
    </section>
  );
}
