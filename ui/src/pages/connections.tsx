// Environment Manager connections: the workspace's Airflow connections, linked to chosen
// Deployments or to all of them. Passwords are write-only (the API answers `passwordSet` only).
import { useState, type FormEvent } from 'react';
import { ApiError, api, enc, fieldMessage } from '../api.ts';
import { Choice, ConfirmDialog, Empty, ErrorBanner, Field, FormActions, ListState, RowActions, type Loaded, Modal, Select, Table, useAction, useLoad } from '../components/ui.tsx';
import { useCan } from '../permissions.tsx';
import type { Connection, Deployment, SavedIdentity } from '../types.ts';

type Kind = 'aws' | 'gcp' | 'azure' | 'generic';
const KIND_LABEL: Record<Kind, string> = { aws: 'Amazon Web Services', gcp: 'Google Cloud', azure: 'Azure managed identity', generic: 'Generic' };

/** The workspace's connections; `list` is the page's load of them (Resolve suggests from the same list). */
export function Connections({ deployments, current, list }: { deployments: Deployment[]; current: Deployment | undefined; list: Loaded<Connection[]> }) {
  const can = useCan();
  const [creating, setCreating] = useState(false);
  const [linking, setLinking] = useState<Connection | undefined>(undefined);
  const [editing, setEditing] = useState<Connection | undefined>(undefined);
  const [deleting, setDeleting] = useState<Connection | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  const unlink = async (c: Connection, target: { deployment: string } | { allDeployments: true }, label: string) => {
    setError(undefined);
    try {
      const r = await api<Connection & { warnings: { deployment: { name: string }; where: string }[] }>('POST', `/api/v1/connections/${enc(c.connId)}/unlink`, target);
      setNotice(`${c.connId} unlinked from ${label}.${r.warnings.length ? ` Still referred to by: ${r.warnings.map((w) => `${w.deployment.name} (${w.where})`).join(', ')}.` : ''}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-labelledby="conn-title">
      <div className="card-header">
        <h2 id="conn-title">Connections</h2>
        {can('connection.write') ? (
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            + Connection
          </button>
        ) : null}
      </div>
      <p className="muted">Airflow connections of this workspace. Link one to the Deployments that use it, or to all of them. Passwords are write-only.</p>
      {notice ? (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      ) : null}
      <ErrorBanner error={error} />
      <ListState
        list={list}
        what="connections"
        failed="Could not load the connections"
        empty={
          <Empty title="No connections yet">
            {can('connection.write') ? (
              <p>
                Create one with <strong>+ Connection</strong>; <em>Create from identity</em> fills a cloud connection from a Deployment's workload identity.
              </p>
            ) : (
              <p>None reaches what this token may read.</p>
            )}
          </Empty>
        }
      >
        {(items) => (
          <Table label="Connections" columns={['Connection ID', 'Type', 'Details', 'Linked to']} actions>
            {items.map((c) => (
              <tr key={c.id}>
                <td>
                  <code>{c.connId}</code>
                  {c.description ? <div className="muted small">{c.description}</div> : null}
                </td>
                <td>{c.connType}</td>
                <td className="wrap">
                  <ConnectionDetails c={c} />
                </td>
                <td className="wrap">
                  {c.allDeployments ? (
                    <span className="link-chip">
                      All Deployments{' '}
                      {can('connection.write') ? (
                        <button type="button" className="btn btn-small btn-ghost" aria-label={`Unlink ${c.connId} from all Deployments`} onClick={() => void unlink(c, { allDeployments: true }, 'all Deployments')}>
                          ✕
                        </button>
                      ) : null}
                    </span>
                  ) : null}
                  {c.deployments.map((l) => (
                    <span key={l.id} className="link-chip">
                      {l.name}
                      {Object.keys(l.overrides).length || l.passwordOverridden ? <span className="muted"> (overrides)</span> : null}{' '}
                      {can('connection.write') ? (
                        <button type="button" className="btn btn-small btn-ghost" aria-label={`Unlink ${c.connId} from ${l.name}`} onClick={() => void unlink(c, { deployment: l.id }, l.name)}>
                          ✕
                        </button>
                      ) : null}
                    </span>
                  ))}
                  {!c.allDeployments && c.deployments.length === 0 ? <span className="muted">not linked</span> : null}
                </td>
                <RowActions
                  allowed={can('connection.write')}
                  actions={[
                    { label: 'Edit', name: `Edit ${c.connId}`, onClick: () => setEditing(c) },
                    { label: 'Link', name: `Link ${c.connId}`, onClick: () => setLinking(c) },
                    { label: 'Delete', name: `Delete ${c.connId}`, onClick: () => setDeleting(c), danger: true },
                  ]}
                />
              </tr>
            ))}
          </Table>
        )}
      </ListState>
      {creating ? (
        <CreateConnection
          deployments={deployments}
          current={current}
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            setNotice(`Connection ${c.connId} created${c.derivation ? ` (${c.derivation})` : ''}. Link it to the Deployments that use it.`);
            list.reload();
          }}
        />
      ) : null}
      {editing ? (
        <EditConnection
          connection={editing}
          onClose={() => {
            // The edit may have been refused as stale: the list is read again, so a new edit starts from the current version.
            setEditing(undefined);
            list.reload();
          }}
          onSaved={(c) => {
            setEditing(undefined);
            setNotice(`Connection ${c.connId} saved.`);
            list.reload();
          }}
        />
      ) : null}
      {linking ? (
        <LinkConnection
          connection={linking}
          deployments={deployments}
          current={current}
          onClose={() => setLinking(undefined)}
          onLinked={(c, label) => {
            setLinking(undefined);
            setNotice(`${c.connId} linked to ${label}.`);
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
            const r = await api<{ deleted: string; warnings: { deployment: { name: string }; where: string }[] }>('DELETE', `/api/v1/connections/${enc(deleting.connId)}`);
            const warnings = r.warnings.map((w) => `${w.deployment.name} (${w.where})`).join(', ');
            setNotice(`${deleting.connId} deleted.${warnings ? ` Still referred to by: ${warnings}.` : ''}`);
            setDeleting(undefined);
            list.reload();
          }}
        >
          <p>
            Every Deployment it is linked to loses <code>{deleting.connId}</code>. Its password is deleted with it.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function ConnectionDetails({ c }: { c: Connection }) {
  const parts: string[] = [];
  if (c.host) parts.push(`host ${c.host}${c.port !== null ? `:${c.port}` : ''}`);
  if (c.schema) parts.push(`schema ${c.schema}`);
  if (c.login) parts.push(`login ${c.login}`);
  const extraKeys = Object.keys(c.extra);
  return (
    <>
      {parts.length ? <div>{parts.join(' · ')}</div> : null}
      {c.passwordSet ? <span className="pill">password set</span> : null}
      {extraKeys.length ? (
        <details>
          <summary>extra: {extraKeys.join(', ')}</summary>
          <pre className="extra">{JSON.stringify(c.extra, null, 2)}</pre>
        </details>
      ) : null}
    </>
  );
}

/** A port typed in a form: null when empty; a whole number or a field error at `field`. */
function portOf(text: string, field: string): number | null {
  if (!text.trim()) return null;
  const port = Number(text.trim());
  if (!Number.isInteger(port)) throw new ApiError(400, 'ERR_VALIDATION', 'The port is a whole number (0–65535).', field);
  return port;
}

/** JSON typed in a form (extra): parsed, or a field error at `field`. */
function jsonOf(text: string, field: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 'ERR_VALIDATION', 'Extra must be a JSON object, e.g. {"timeout": 30}.', field);
  }
}

const trimmed = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim()]));

function CreateConnection({ deployments, current, onClose, onCreated }: { deployments: Deployment[]; current: Deployment | undefined; onClose: () => void; onCreated: (c: Connection) => void }) {
  const [kind, setKind] = useState<Kind>(current?.cloud ?? 'aws');
  const [connId, setConnId] = useState('');
  const [description, setDescription] = useState('');
  const [from, setFrom] = useState('');
  const [aws, setAws] = useState({ roleArn: '', regionName: '', assumeRoleMethod: '' });
  const [gcp, setGcp] = useState({ project: '', impersonationChain: '', credentialConfigFile: '' });
  const [azure, setAzure] = useState({ managedIdentityClientId: '', workloadIdentityTenantId: '' });
  const [generic, setGeneric] = useState({ connType: '', host: '', schema: '', login: '', password: '', port: '', extra: '' });
  const { busy, error, run } = useAction();
  const saved = useLoad(() => api<{ items: SavedIdentity[] }>('GET', '/api/v1/identities').then((r) => r.items), []);
  const cloud = kind === 'generic' ? undefined : kind;
  const sources = [
    ...deployments.filter((d) => d.cloud === cloud).map((d) => ({ value: `deployment:${d.name}`, label: `Deployment ${d.name} (${d.effectiveWorkloadIdentity?.value ?? 'no identity in force'})` })),
    ...(saved.data ?? []).filter((i) => i.cloud === cloud).map((i) => ({ value: `identity:${i.name}`, label: `Saved identity ${i.name} (${i.identity.value})` })),
  ];

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const body: Record<string, unknown> = { connId: connId.trim() };
      if (description.trim()) body.description = description.trim();
      if (kind === 'generic') {
        const g = generic;
        if (!g.connType.trim()) throw new ApiError(400, 'ERR_VALIDATION', 'Enter the connection type (e.g. postgres, http).', 'body.connType');
        body.connType = g.connType.trim();
        for (const k of ['host', 'schema', 'login'] as const) if (g[k].trim()) body[k] = g[k].trim();
        if (g.password) body.password = g.password;
        const port = portOf(g.port, 'body.port');
        if (port !== null) body.port = port;
        if (g.extra.trim()) body.extra = jsonOf(g.extra, 'body.extra');
      } else {
        if (from) body.fromIdentity = from;
        const helper = trimmed(kind === 'aws' ? aws : kind === 'gcp' ? gcp : azure);
        if (Object.keys(helper).length) body[kind] = helper;
        if (!from && !Object.keys(helper).length) body.connType = kind === 'gcp' ? 'google_cloud_platform' : kind;
      }
      onCreated(await api<Connection>('POST', '/api/v1/connections', body));
    });
  };
  const at = (f: string) => fieldMessage(error, f);

  return (
    <Modal title="New connection" onClose={onClose} wide>
      <form onSubmit={submit} noValidate aria-label="New connection">
        <Choice<Kind> legend="Kind" value={kind} onChange={(k) => { setKind(k); setFrom(''); }} options={(['aws', 'gcp', 'azure', 'generic'] as const).map((k) => ({ value: k, label: KIND_LABEL[k] }))} />
        <div className="two-col">
          <Field label="Connection ID" value={connId} onChange={setConnId} placeholder={kind === 'aws' ? 'aws_default' : kind === 'gcp' ? 'google_cloud_default' : kind === 'azure' ? 'azure_default' : 'my_postgres'} error={at('connId')} autoFocus />
          <Field label="Description" value={description} onChange={setDescription} error={at('description')} />
        </div>
        {kind !== 'generic' ? (
          <Select
            label="Create from identity"
            value={from}
            onChange={setFrom}
            error={at('fromIdentity')}
            hint="Fills the connection type and extra from a Deployment's workload identity (as its How to configure shows) or a saved identity; fields below add to it."
            options={[{ value: '', label: 'No: fill in the fields' }, ...sources]}
          />
        ) : null}
        {kind === 'aws' ? (
          <div className="two-col">
            <Field label="Role ARN" value={aws.roleArn} onChange={(v) => setAws({ ...aws, roleArn: v })} placeholder="arn:aws:iam::123456789012:role/etl-reader" error={at('aws.roleArn')} />
            <Field label="Region" value={aws.regionName} onChange={(v) => setAws({ ...aws, regionName: v })} placeholder="us-east-1" error={at('aws.regionName')} />
            <Select
              label="Assume role method"
              value={aws.assumeRoleMethod}
              onChange={(v) => setAws({ ...aws, assumeRoleMethod: v })}
              error={at('aws.assumeRoleMethod')}
              options={[
                { value: '', label: 'Not set' },
                { value: 'assume_role_with_web_identity', label: 'assume_role_with_web_identity' },
                { value: 'assume_role', label: 'assume_role' },
              ]}
            />
          </div>
        ) : null}
        {kind === 'gcp' ? (
          <div className="two-col">
            <Field label="Project ID" value={gcp.project} onChange={(v) => setGcp({ ...gcp, project: v })} placeholder="my-proj" error={at('gcp.project')} />
            <Field label="Impersonation chain" value={gcp.impersonationChain} onChange={(v) => setGcp({ ...gcp, impersonationChain: v })} placeholder="lake-reader@my-proj.iam.gserviceaccount.com" error={at('gcp.impersonationChain')} />
            <Field label="Credential configuration file" value={gcp.credentialConfigFile} onChange={(v) => setGcp({ ...gcp, credentialConfigFile: v })} placeholder="/var/run/secrets/airlock/gcp/credential-config.json" error={at('gcp.credentialConfigFile')} />
          </div>
        ) : null}
        {kind === 'azure' ? (
          <div className="two-col">
            <Field label="Managed identity client ID" value={azure.managedIdentityClientId} onChange={(v) => setAzure({ ...azure, managedIdentityClientId: v })} error={at('azure.managedIdentityClientId')} />
            <Field label="Workload identity tenant ID" value={azure.workloadIdentityTenantId} onChange={(v) => setAzure({ ...azure, workloadIdentityTenantId: v })} error={at('azure.workloadIdentityTenantId')} />
          </div>
        ) : null}
        {kind === 'generic' ? (
          <div className="two-col">
            <Field label="Connection type" value={generic.connType} onChange={(v) => setGeneric({ ...generic, connType: v })} placeholder="postgres" error={at('connType')} />
            <Field label="Host" value={generic.host} onChange={(v) => setGeneric({ ...generic, host: v })} error={at('host')} />
            <Field label="Schema" value={generic.schema} onChange={(v) => setGeneric({ ...generic, schema: v })} error={at('schema')} />
            <Field label="Login" value={generic.login} onChange={(v) => setGeneric({ ...generic, login: v })} error={at('login')} />
            <Field label="Password" type="password" autoComplete="new-password" value={generic.password} onChange={(v) => setGeneric({ ...generic, password: v })} error={at('password')} hint="Write-only: stored encrypted, never shown again." />
            <Field label="Port" value={generic.port} onChange={(v) => setGeneric({ ...generic, port: v })} error={at('port')} />
            <Field label="Extra (JSON)" value={generic.extra} onChange={(v) => setGeneric({ ...generic, extra: v })} multiline placeholder='{"sslmode": "require"}' error={at('extra')} />
          </div>
        ) : null}
        <ErrorBanner error={error} title="The connection was not created" />
        <FormActions onCancel={onClose} submit="Create connection" busy={busy} />
      </form>
    </Modal>
  );
}

/** A write-only password in a form: kept while left blank, replaced when typed, removed when ticked. */
type PasswordEdit = { value: string; remove: boolean };
const KEEP_PASSWORD: PasswordEdit = { value: '', remove: false };
/** What to send for it: undefined keeps the stored one, null removes it, a string replaces it. */
const passwordChange = (p: PasswordEdit): string | null | undefined => (p.remove ? null : p.value || undefined);

function PasswordChange(p: { label: string; stored: boolean; edit: PasswordEdit; onChange: (e: PasswordEdit) => void; error: string | undefined; storedHint: string; newHint: string; removeLabel: string }) {
  return (
    <>
      <Field
        label={p.label}
        type="password"
        autoComplete="new-password"
        value={p.edit.remove ? '' : p.edit.value}
        onChange={(value) => p.onChange({ value, remove: false })}
        error={p.error}
        hint={p.stored ? p.storedHint : p.newHint}
      />
      {p.stored ? (
        <label className="check">
          <input type="checkbox" checked={p.edit.remove} onChange={(e) => p.onChange({ value: '', remove: e.target.checked })} /> {p.removeLabel}
        </label>
      ) : null}
    </>
  );
}

/**
 * Edits a connection's fields. Only what changed is sent; an emptied field is cleared (null).
 * The password is write-only: left blank it stays, a new one replaces it, "Remove" clears it.
 * The version read is sent along, so an edit made meanwhile elsewhere is refused (ERR_CONFLICT).
 */
function EditConnection({ connection: c, onClose, onSaved }: { connection: Connection; onClose: () => void; onSaved: (c: Connection) => void }) {
  const initial = {
    connType: c.connType,
    description: c.description,
    host: c.host ?? '',
    schema: c.schema ?? '',
    login: c.login ?? '',
    port: c.port === null ? '' : String(c.port),
    extra: Object.keys(c.extra).length ? JSON.stringify(c.extra, null, 2) : '',
  };
  const [f, setF] = useState(initial);
  const [password, setPassword] = useState(KEEP_PASSWORD);
  const { busy, error, run } = useAction();
  const set = (k: keyof typeof initial) => (v: string) => setF({ ...f, [k]: v });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const body: Record<string, unknown> = { version: c.version };
      if (f.connType.trim() !== initial.connType) {
        if (!f.connType.trim()) throw new ApiError(400, 'ERR_VALIDATION', 'Enter the connection type (e.g. postgres, http).', 'body.connType');
        body.connType = f.connType.trim();
      }
      if (f.description.trim() !== initial.description) body.description = f.description.trim();
      for (const k of ['host', 'schema', 'login'] as const) if (f[k].trim() !== initial[k]) body[k] = f[k].trim() || null;
      if (f.port.trim() !== initial.port) body.port = portOf(f.port, 'body.port');
      if (f.extra.trim() !== initial.extra.trim()) body.extra = f.extra.trim() ? jsonOf(f.extra, 'body.extra') : {};
      const pw = passwordChange(password);
      if (pw !== undefined) body.password = pw;
      if (Object.keys(body).length === 1) onClose();
      else onSaved(await api<Connection>('PATCH', `/api/v1/connections/${enc(c.connId)}`, body));
    });
  };
  const at = (field: string) => fieldMessage(error, field);

  return (
    <Modal title={`Edit ${c.connId}`} onClose={onClose} wide>
      <form onSubmit={submit} noValidate aria-label={`Edit ${c.connId}`}>
        <div className="two-col">
          <Field label="Connection type" value={f.connType} onChange={set('connType')} error={at('connType')} autoFocus />
          <Field label="Description" value={f.description} onChange={set('description')} error={at('description')} />
          <Field label="Host" value={f.host} onChange={set('host')} error={at('host')} />
          <Field label="Schema" value={f.schema} onChange={set('schema')} error={at('schema')} />
          <Field label="Login" value={f.login} onChange={set('login')} error={at('login')} />
          <Field label="Port" value={f.port} onChange={set('port')} error={at('port')} />
          <PasswordChange
            label={c.passwordSet ? 'New password' : 'Password'}
            stored={c.passwordSet}
            edit={password}
            onChange={setPassword}
            error={at('password')}
            storedHint="A password is stored (write-only, never shown). Leave this blank to keep it."
            newHint="Write-only: stored encrypted, never shown again."
            removeLabel="Remove the stored password"
          />
          <Field label="Extra (JSON)" value={f.extra} onChange={set('extra')} multiline placeholder='{"sslmode": "require"}' error={at('extra')} />
        </div>
        <ErrorBanner error={error} title="The connection was not saved" />
        <FormActions onCancel={onClose} submit="Save connection" busy={busy} />
      </form>
    </Modal>
  );
}

type OverrideForm = { host: string; schema: string; login: string; port: string; extra: string };
const OVERRIDE_TEXT = ['host', 'schema', 'login'] as const;

/** The override form for `dep`'s link, from what is stored (empty when there is no link). */
function overrideForm(c: Connection, dep: string): OverrideForm {
  const o = c.deployments.find((l) => l.name === dep)?.overrides ?? {};
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return { host: str(o.host), schema: str(o.schema), login: str(o.login), port: typeof o.port === 'number' ? String(o.port) : '', extra: o.extra && typeof o.extra === 'object' ? JSON.stringify(o.extra, null, 2) : '' };
}

/**
 * Links a connection to one Deployment (with optional overrides of its fields for that Deployment)
 * or to all. Linking again replaces the link's overrides, so the form starts from the stored ones:
 * relinking without a change keeps them. A password override is write-only like the password.
 */
function LinkConnection({ connection: c, deployments, current, onClose, onLinked }: { connection: Connection; deployments: Deployment[]; current: Deployment | undefined; onClose: () => void; onLinked: (c: Connection, label: string) => void }) {
  const [scope, setScope] = useState<'one' | 'all'>('one');
  const [dep, setDep] = useState(current?.name ?? deployments[0]?.name ?? '');
  const [ov, setOv] = useState<OverrideForm>(() => overrideForm(c, dep));
  const [password, setPassword] = useState(KEEP_PASSWORD);
  const { busy, error, run } = useAction();
  const existing = c.deployments.find((l) => l.name === dep);
  const pickDeployment = (name: string) => {
    setDep(name);
    setOv(overrideForm(c, name));
    setPassword(KEEP_PASSWORD);
  };
  const link = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      let body: Record<string, unknown> = { allDeployments: true };
      if (scope === 'one') {
        const overrides: Record<string, unknown> = {};
        for (const k of OVERRIDE_TEXT) if (ov[k].trim()) overrides[k] = ov[k].trim();
        const port = portOf(ov.port, 'body.overrides.port');
        if (port !== null) overrides.port = port;
        if (ov.extra.trim()) overrides.extra = jsonOf(ov.extra, 'body.overrides.extra');
        const pw = passwordChange(password);
        if (pw !== undefined) overrides.password = pw;
        body = { deployment: dep, ...(Object.keys(overrides).length && { overrides }) };
      }
      const r = await api<Connection>('POST', `/api/v1/connections/${enc(c.connId)}/link`, body);
      onLinked(r, scope === 'all' ? 'all Deployments' : dep);
    });
  };
  const at = (field: string) => fieldMessage(error, field);
  return (
    <Modal title={`Link ${c.connId}`} onClose={onClose} wide={scope === 'one'}>
      <form onSubmit={link} noValidate>
        <Choice<'one' | 'all'>
          legend="Link to"
          value={scope}
          onChange={setScope}
          options={[
            { value: 'one', label: 'A Deployment' },
            { value: 'all', label: 'All Deployments', hint: 'new ones included' },
          ]}
        />
        {scope === 'one' ? (
          <>
            <Select label="Deployment" value={dep} onChange={pickDeployment} options={deployments.map((d) => ({ value: d.name, label: d.name }))} />
            <fieldset className="overrides">
              <legend>Overrides for {dep || 'this Deployment'}</legend>
              <p className="muted small">
                Optional: what this Deployment sees in place of the connection's own fields; extra is merged key by key.{existing ? ' The stored overrides are filled in: empty a field to drop its override.' : ''}
              </p>
              <div className="two-col">
                <Field label="Host override" value={ov.host} onChange={(v) => setOv({ ...ov, host: v })} placeholder={c.host ?? ''} error={at('overrides.host')} />
                <Field label="Schema override" value={ov.schema} onChange={(v) => setOv({ ...ov, schema: v })} placeholder={c.schema ?? ''} error={at('overrides.schema')} />
                <Field label="Login override" value={ov.login} onChange={(v) => setOv({ ...ov, login: v })} placeholder={c.login ?? ''} error={at('overrides.login')} />
                <Field label="Port override" value={ov.port} onChange={(v) => setOv({ ...ov, port: v })} placeholder={c.port === null ? '' : String(c.port)} error={at('overrides.port')} />
                <PasswordChange
                  label="Password override"
                  stored={existing?.passwordOverridden ?? false}
                  edit={password}
                  onChange={setPassword}
                  error={at('overrides.password')}
                  storedHint="An override is stored (write-only). Leave this blank to keep it."
                  newHint="Write-only, like the password."
                  removeLabel="Remove the password override"
                />
                <Field label="Extra override (JSON)" value={ov.extra} onChange={(v) => setOv({ ...ov, extra: v })} multiline placeholder='{"region_name": "eu-west-1"}' error={at('overrides.extra')} />
              </div>
            </fieldset>
          </>
        ) : null}
        <ErrorBanner error={error} title="Not linked" />
        <FormActions onCancel={onClose} submit="Link connection" busy={busy} />
      </form>
    </Modal>
  );
}
