// API tokens: each holds one role at one scope. Create one (its secret shown once), rotate it
// (the old secret keeps working for the overlap), revoke it. The API decides what the signed-in
// token may manage and refuses the rest with its own words.
import { useState, type FormEvent } from 'react';
import { api, enc, fieldMessage } from '../api.ts';
import { ConfirmDialog, Empty, ErrorBanner, Field, FormActions, ListState, Modal, Select, ShownOnce, Table, Time, useAction, useLoad } from '../components/ui.tsx';
import { useCan } from '../permissions.tsx';
import type { ApiToken } from '../types.ts';

const ROLES: { value: string; label: string; hint: string }[] = [
  { value: 'organization-owner', label: 'Organization owner', hint: 'Everything, in every workspace.' },
  { value: 'organization-member', label: 'Organization member', hint: 'Reads clusters, workspaces and workload lookups, and scrapes /metrics (what the webhook and Prometheus need).' },
  { value: 'workspace-owner', label: 'Workspace owner', hint: 'Everything in one workspace, its tokens included.' },
  { value: 'workspace-operator', label: 'Workspace operator', hint: "Changes one workspace's Deployments, identities, join credentials and connections." },
  { value: 'workspace-viewer', label: 'Workspace viewer', hint: 'Reads one workspace; never a secret value.' },
  { value: 'deployment-admin', label: 'Deployment admin', hint: 'One Deployment: reads it, manages its join credentials and variables.' },
];
const needsWorkspace = (role: string) => role.startsWith('workspace-') || role === 'deployment-admin';

function scopeOf(t: ApiToken): string {
  if (t.deploymentName) return `Deployment ${t.deploymentName} (${t.workspaceName ?? t.workspaceId})`;
  if (t.workspaceName || t.workspaceId) return `Workspace ${t.workspaceName ?? t.workspaceId}`;
  return 'Organization';
}

type WithSecret = ApiToken & { token: string };

export function TokensPage() {
  const can = useCan();
  const list = useLoad(() => api<{ items: ApiToken[] }>('GET', '/api/v1/tokens').then((r) => r.items), []);
  const [form, setForm] = useState({ name: '', role: 'workspace-operator', workspace: '', deployment: '', expiresIn: '90d' });
  const { busy, error, run } = useAction();
  const [secret, setSecret] = useState<{ what: string; token: WithSecret } | undefined>(undefined);
  const [rotating, setRotating] = useState<ApiToken | undefined>(undefined);
  const [revoking, setRevoking] = useState<ApiToken | undefined>(undefined);

  const create = (ev: FormEvent) => {
    ev.preventDefault();
    void run(async () => {
      const body: Record<string, string> = { name: form.name.trim(), role: form.role };
      if (needsWorkspace(form.role) && form.workspace.trim()) body.workspace = form.workspace.trim();
      if (form.role === 'deployment-admin' && form.deployment.trim()) body.deployment = form.deployment.trim();
      if (form.expiresIn.trim()) body.expiresIn = form.expiresIn.trim();
      const t = await api<WithSecret>('POST', '/api/v1/tokens', body);
      setSecret({ what: `Created ${t.name}`, token: t });
      setForm({ ...form, name: '' });
      list.reload();
    });
  };
  const at = (f: string) => fieldMessage(error, f);

  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-header">
        <div>
          <h1 id="page-title">API tokens</h1>
          <p className="muted">Each token holds one role at one scope. The CLI, CI jobs and the webhook sign in with one; a token can only create tokens within its own power.</p>
        </div>
      </div>

      {can('token.write') ? (
        <section className="card" aria-labelledby="create-token-title">
          <h2 id="create-token-title">Create a token</h2>
          <form className="token-form" onSubmit={create} aria-label="Create an API token" noValidate>
            <Field label="Token name" value={form.name} onChange={(name) => setForm({ ...form, name })} placeholder="ci-deployer" error={at('name')} />
            <Select label="Role" value={form.role} onChange={(role) => setForm({ ...form, role })} options={ROLES} hint={ROLES.find((r) => r.value === form.role)?.hint} error={at('role')} />
            {needsWorkspace(form.role) ? (
              <Field label="Workspace" value={form.workspace} onChange={(workspace) => setForm({ ...form, workspace })} placeholder="data-eng" error={at('workspace')} hint="Id or name." />
            ) : null}
            {form.role === 'deployment-admin' ? (
              <Field label="Deployment" value={form.deployment} onChange={(deployment) => setForm({ ...form, deployment })} placeholder="etl" error={at('deployment')} />
            ) : null}
            <Field label="Expires in" value={form.expiresIn} onChange={(expiresIn) => setForm({ ...form, expiresIn })} hint="90s, 15m, 1h or 90d; empty: no expiry." error={at('expiresIn')} />
            <div className="form-actions">
              <button type="submit" className="btn btn-primary" disabled={busy}>
                Create token
              </button>
            </div>
          </form>
          <ErrorBanner error={error} title="The token was not created" />
        </section>
      ) : null}

      {secret ? (
        <ShownOnce
          label="New API token"
          lead={`${secret.what}. Copy the token now.`}
          codes={[
            { label: 'API token', code: secret.token.token },
            { label: 'Use it with the CLI', code: `AIRLOCK_URL=${location.origin} AIRLOCK_TOKEN='${secret.token.token}' npx airlock deployment list` },
          ]}
          onDone={() => setSecret(undefined)}
        />
      ) : null}

      <ListState list={list} what="API tokens" failed="Could not load the API tokens" empty={<Empty title="No tokens you can manage">{can('token.write') ? 'Create one above.' : null}</Empty>}>
        {(items) => (
          <Table label="API tokens" columns={['Name', 'Role', 'Scope', 'Last used', 'Expires', 'Status']} actions>
            {items.map((t) => (
              <tr key={t.id}>
                <td>
                  {t.name} <span className="code-tag">{t.id}</span>
                </td>
                <td>{t.role}</td>
                <td>{scopeOf(t)}</td>
                <td>
                  <Time iso={t.lastUsedAt} />
                </td>
                <td>{t.expiresAt ? <Time iso={t.expiresAt} /> : <span className="muted">never</span>}</td>
                <td>
                  <span className={`pill pill-${t.status}`}>{t.status}</span>
                  {t.previousSecretExpiresAt ? (
                    <span className="small muted">
                      {' '}
                      old secret until <Time iso={t.previousSecretExpiresAt} />
                    </span>
                  ) : null}
                </td>
                <td className="actions">
                  {t.status === 'live' && can('token.write') ? (
                    <div className="button-row">
                      <button type="button" className="btn btn-small" aria-label={`Rotate ${t.name}`} onClick={() => setRotating(t)}>
                        Rotate
                      </button>
                      <button type="button" className="btn btn-small btn-danger-ghost" aria-label={`Revoke ${t.name}`} onClick={() => setRevoking(t)}>
                        Revoke
                      </button>
                    </div>
                  ) : null}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </ListState>

      {rotating ? (
        <RotateDialog
          token={rotating}
          onClose={() => setRotating(undefined)}
          onRotated={(t) => {
            setRotating(undefined);
            setSecret({ what: `Rotated ${t.name}`, token: t });
            list.reload();
          }}
        />
      ) : null}
      {revoking ? (
        <RevokeDialog
          token={revoking}
          onClose={() => setRevoking(undefined)}
          onRevoked={() => {
            setRevoking(undefined);
            list.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function RotateDialog({ token: t, onClose, onRotated }: { token: ApiToken; onClose: () => void; onRotated: (t: WithSecret) => void }) {
  const [overlap, setOverlap] = useState('1h');
  const { busy, error, run } = useAction();
  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    void run(async () => onRotated(await api<WithSecret>('POST', `/api/v1/tokens/${enc(t.id)}/rotate`, overlap.trim() ? { overlap: overlap.trim() } : {})));
  };
  return (
    <Modal title={`Rotate ${t.name}`} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <p>The token gets a new secret and keeps its id, role and scope. The current secret keeps working for the overlap, so clients can switch without an outage.</p>
        <Field label="Overlap" value={overlap} onChange={setOverlap} hint="How long the current secret keeps working: 0 (not at all) up to 7d." error={fieldMessage(error, 'overlap')} />
        <ErrorBanner error={fieldMessage(error, 'overlap') ? undefined : error} />
        <FormActions onCancel={onClose} submit="Rotate" busy={busy} />
      </form>
    </Modal>
  );
}

function RevokeDialog({ token: t, onClose, onRevoked }: { token: ApiToken; onClose: () => void; onRevoked: () => void }) {
  return (
    <ConfirmDialog
      title={`Revoke ${t.name}`}
      confirm="Revoke token"
      failed="The token was not revoked"
      onClose={onClose}
      onConfirm={async () => {
        await api('DELETE', `/api/v1/tokens/${enc(t.id)}`);
        onRevoked();
      }}
    >
      <p>
        Every client using <strong>{t.name}</strong> is refused from its next request, with the current and any previous secret. A revoked token cannot be brought back; create a new one instead.
      </p>
    </ConfirmDialog>
  );
}
