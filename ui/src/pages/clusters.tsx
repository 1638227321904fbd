import { useState, type FormEvent } from 'react';
import { ApiError, api, enc, listAll } from '../api.ts';
import { Choice, Empty, ErrorBanner, Field, FormActions, ListState, Loading, Modal, Select, Table, Time, useAction, useLoad } from '../components/ui.tsx';
import { useCan } from '../permissions.tsx';
import type { Cluster, SigningKey } from '../types.ts';
import { cloudName } from './identity-text.ts';

export function ClustersPage() {
  const can = useCan();
  const clusters = useLoad(() => listAll<Cluster>('/api/v1/clusters'), []);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<string | undefined>(undefined);
  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-header">
        <div>
          <h1 id="page-title">Clusters</h1>
          <p className="muted">Each cluster has its own OIDC issuer; clouds trust its discovery document and keys.</p>
        </div>
        {can('cluster.write') ? (
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            + Cluster
          </button>
        ) : null}
      </div>
      {created ? (
        <div className="banner banner-ok" role="status">
          Registered {created}. Its first signing key is published; Deployments can run on it now.
        </div>
      ) : null}
      {creating ? (
        <CreateCluster
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            setCreated(c.name);
            clusters.reload();
          }}
        />
      ) : null}
      <ListState
        list={clusters}
        what="clusters"
        failed="Could not load the clusters"
        empty={
          <Empty title="No clusters yet">
            {can('cluster.write') ? (
              <p>
                Register the Kubernetes cluster your Deployments run on with <strong>+ Cluster</strong>, or <code>airlock cluster create prod-aws --cloud aws --region us-east-1</code>.
              </p>
            ) : (
              <p>An organization owner registers the clusters Deployments run on.</p>
            )}
          </Empty>
        }
      >
        {(items) => items.map((c) => <ClusterCard key={c.id} cluster={c} />)}
      </ListState>
    </section>
  );
}

function ClusterCard({ cluster: c }: { cluster: Cluster }) {
  const can = useCan();
  const keys = useLoad(() => api<{ items: SigningKey[] }>('GET', `/api/v1/clusters/${enc(c.id)}/keys`).then((r) => r.items), [c.id]);
  const [rotating, setRotating] = useState(false);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const titleId = `cluster-${c.id}`;
  const next = keys.data?.filter((k) => k.state === 'pending').sort((a, b) => a.activateAt.localeCompare(b.activateAt))[0];
  const discovery = `${c.oidcIssuerUrl}/.well-known/openid-configuration`;
  return (
    <section className="card" aria-labelledby={titleId}>
      <div className="card-header">
        <h2 id={titleId}>{c.name}</h2>
        {can('cluster.write') ? (
          <button type="button" className="btn" onClick={() => setRotating(true)} aria-label={`Rotate keys of ${c.name}`}>
            Rotate keys
          </button>
        ) : null}
      </div>
      <dl className="facts">
        <dt>Cloud</dt>
        <dd>
          {cloudName(c.cloud)}, {c.region}
        </dd>
        <dt>Type</dt>
        <dd>{c.type === 'dedicated' ? 'Dedicated (one tenant; wildcard trust allowed)' : 'Standard (shared)'}</dd>
        <dt>Tokens signed by</dt>
        <dd>{c.issuerMode === 'airlock' ? "Airlock's issuer" : "the cluster's own Kubernetes issuer"}</dd>
        <dt>Issuer URL</dt>
        <dd>
          <code className="break">{c.oidcIssuerUrl}</code>
        </dd>
        <dt>Discovery</dt>
        <dd>
          <a href={discovery} target="_blank" rel="noreferrer">
            OpenID configuration of {c.name}
          </a>
        </dd>
        <dt>Next key</dt>
        <dd>{next ? <>{next.kid} activates <Time iso={next.activateAt} /></> : <span className="muted">none scheduled yet</span>}</dd>
      </dl>
      {notice ? (
        <div className="banner banner-ok" role="status">
          {notice}
        </div>
      ) : null}
      <ErrorBanner error={keys.error} title="Could not load the signing keys" />
      {keys.loading && !keys.data ? <Loading what="signing keys" /> : null}
      {keys.data ? (
        <Table label={`Signing keys of ${c.name}`} columns={['Key ID', 'Status', 'Published', 'Active from', 'Retired']}>
          {keys.data.map((k) => (
            <tr key={k.kid}>
              <td>
                <code>{k.kid}</code>
              </td>
              <td>
                <span className={`pill pill-${k.state}`}>{k.state === 'pending' ? 'next' : k.state}</span>
              </td>
              <td>
                <Time iso={k.publishAt} />
              </td>
              <td>
                <Time iso={k.activateAt} />
              </td>
              <td>{k.retiredAt ? <Time iso={k.retiredAt} /> : k.revokedAt ? <>revoked <Time iso={k.revokedAt} /></> : <span className="muted">—</span>}</td>
            </tr>
          ))}
        </Table>
      ) : null}
      {rotating ? (
        <RotateKeys
          cluster={c}
          onClose={() => setRotating(false)}
          onRotated={(r) => {
            setRotating(false);
            setNotice(r.created ? `New signing key ${r.kid}: published now, signs from ${new Date(r.activateAt).toLocaleString()}.` : `Key ${r.kid} was already scheduled; it signs from ${new Date(r.activateAt).toLocaleString()}.`);
            keys.reload();
          }}
        />
      ) : null}
    </section>
  );
}

interface Rotated {
  kid: string;
  publishAt: string;
  activateAt: string;
  created: boolean;
}

function RotateKeys({ cluster, onClose, onRotated }: { cluster: Cluster; onClose: () => void; onRotated: (r: Rotated) => void }) {
  const [immediate, setImmediate] = useState(false);
  const [revokePrevious, setRevokePrevious] = useState(false);
  const { busy, error, run } = useAction();
  const rotate = () => run(async () => onRotated(await api<Rotated>('POST', `/api/v1/clusters/${enc(cluster.id)}/rotate-keys`, { immediate, revokePrevious: immediate && revokePrevious })));
  return (
    <Modal title={`Rotate the signing keys of ${cluster.name}`} onClose={onClose}>
      <p>A new key is published in the issuer's JWKS now. By default it starts signing after the pre-publish period, so every cloud has fetched it first; tokens signed by the current key stay valid until they expire.</p>
      <label className="check">
        <input type="checkbox" checked={immediate} onChange={(e) => setImmediate(e.target.checked)} /> Sign with the new key immediately
      </label>
      <label className="check">
        <input type="checkbox" checked={revokePrevious} disabled={!immediate} onChange={(e) => setRevokePrevious(e.target.checked)} /> Also revoke the current key (tokens it signed stop working; for a compromised key)
      </label>
      <ErrorBanner error={error} title="The keys were not rotated" />
      <div className="form-actions">
        <button type="button" className="btn" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void rotate()}>
          {busy ? 'Rotating…' : 'Rotate keys'}
        </button>
      </div>
    </Modal>
  );
}

const CLOUD_OPTIONS: { value: Cluster['cloud']; label: string }[] = [
  { value: 'aws', label: 'Amazon Web Services' },
  { value: 'gcp', label: 'Google Cloud' },
  { value: 'azure', label: 'Microsoft Azure' },
];
const FORM_FIELDS = ['name', 'cloud', 'type', 'region', 'issuerMode', 'kubernetesIssuerUrl', 'defaultIdentityAccount', 'defaultIdentityProject', 'defaultIdentityProjectNumber', 'audiences'];

/** Registers a cluster: the API creates its issuer and first signing key; its field errors show under the fields. */
function CreateCluster({ onClose, onCreated }: { onClose: () => void; onCreated: (c: Cluster) => void }) {
  const [f, setF] = useState({
    name: '',
    cloud: 'aws' as Cluster['cloud'],
    type: 'standard' as 'standard' | 'dedicated',
    region: '',
    issuerMode: 'airlock' as 'airlock' | 'kubernetes',
    kubernetesIssuerUrl: '',
    defaultIdentityAccount: '',
    defaultIdentityProject: '',
    defaultIdentityProjectNumber: '',
    audiences: '',
  });
  const { busy, error, run } = useAction();
  const set = <K extends keyof typeof f>(k: K) => (v: (typeof f)[K]) => setF({ ...f, [k]: v });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const body: Record<string, unknown> = { name: f.name.trim(), cloud: f.cloud, type: f.type, region: f.region.trim(), issuerMode: f.issuerMode };
      if (f.kubernetesIssuerUrl.trim()) body.kubernetesIssuerUrl = f.kubernetesIssuerUrl.trim();
      if (f.cloud === 'aws' && f.defaultIdentityAccount.trim()) body.defaultIdentityAccount = f.defaultIdentityAccount.trim();
      if (f.cloud === 'gcp' && f.defaultIdentityProject.trim()) body.defaultIdentityProject = f.defaultIdentityProject.trim();
      if (f.cloud === 'gcp' && f.defaultIdentityProjectNumber.trim()) body.defaultIdentityProjectNumber = f.defaultIdentityProjectNumber.trim();
      const audiences = f.audiences.split(/[\s,]+/).filter(Boolean);
      if (audiences.length) body.audiences = audiences;
      onCreated(await api<Cluster>('POST', '/api/v1/clusters', body));
    });
  };
  const fieldOf = (err: unknown) => (err instanceof ApiError ? err.fieldName?.split('.')[0] : undefined);
  const at = (k: string) => (fieldOf(error) === k ? (error as ApiError).message : undefined);
  const elsewhere = error && !FORM_FIELDS.includes(fieldOf(error) ?? '') ? error : undefined;

  return (
    <Modal title="Register a cluster" onClose={onClose}>
      <form onSubmit={submit} noValidate aria-label="Register a cluster">
        <Field label="Cluster name" value={f.name} onChange={set('name')} autoFocus placeholder="prod-aws" error={at('name')} hint="Lowercase letters, digits and -." />
        <Select label="Cloud" value={f.cloud} onChange={(v) => set('cloud')(v as Cluster['cloud'])} options={CLOUD_OPTIONS} error={at('cloud')} />
        <Field label="Region" value={f.region} onChange={set('region')} placeholder={f.cloud === 'aws' ? 'us-east-1' : f.cloud === 'gcp' ? 'us-central1' : 'eastus2'} error={at('region')} />
        <Choice
          legend="Type"
          value={f.type}
          onChange={set('type')}
          options={[
            { value: 'standard', label: 'Standard', hint: 'shared by several Deployments; trust is per component' },
            { value: 'dedicated', label: 'Dedicated', hint: 'one tenant; wildcard trust allowed' },
          ]}
        />
        <Choice
          legend="Tokens signed by"
          value={f.issuerMode}
          onChange={set('issuerMode')}
          options={[
            { value: 'airlock', label: "Airlock's issuer", hint: 'Airlock signs; works anywhere, join credentials included' },
            { value: 'kubernetes', label: "The cluster's own issuer", hint: 'EKS, GKE or AKS publish it; pods get projected tokens' },
          ]}
        />
        <Field
          label="Kubernetes issuer URL"
          value={f.kubernetesIssuerUrl}
          onChange={set('kubernetesIssuerUrl')}
          placeholder="https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
          error={at('kubernetesIssuerUrl')}
          hint={f.issuerMode === 'kubernetes' ? "Required: the issuer the clouds will trust." : "Optional: lets pods exchange their service-account tokens (verified against this issuer)."}
        />
        {f.cloud === 'aws' ? <Field label="Default identity account" value={f.defaultIdentityAccount} onChange={set('defaultIdentityAccount')} placeholder="123456789012" error={at('defaultIdentityAccount')} hint="Optional: the AWS account that holds Deployments' default roles." /> : null}
        {f.cloud === 'gcp' ? (
          <>
            <Field label="Default identity project" value={f.defaultIdentityProject} onChange={set('defaultIdentityProject')} placeholder="platform-prod" error={at('defaultIdentityProject')} hint="Optional: the project of Deployments' default service accounts." />
            <Field label="Default identity project number" value={f.defaultIdentityProjectNumber} onChange={set('defaultIdentityProjectNumber')} placeholder="123456789012" error={at('defaultIdentityProjectNumber')} />
          </>
        ) : null}
        <Field label="Custom audiences" value={f.audiences} onChange={set('audiences')} placeholder="https://vault.example.com" error={at('audiences')} hint="Optional, comma-separated: audiences workloads may ask for beyond their identity's own." />
        <ErrorBanner error={elsewhere} title="The cluster was not registered" />
        <FormActions onCancel={onClose} submit={busy ? 'Registering…' : 'Register cluster'} busy={busy} />
      </form>
    </Modal>
  );
}
