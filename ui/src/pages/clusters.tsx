import { useState } from 'react';
import { api, enc, listAll } from '../api.ts';
import { ColumnHeads, Empty, ErrorBanner, Loading, Modal, Time, useLoad } from '../components/ui.tsx';
import type { Cluster, SigningKey } from '../types.ts';
import { cloudName } from './identity-text.ts';

export function ClustersPage() {
  const clusters = useLoad(() => listAll<Cluster>('/api/v1/clusters'), []);
  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-header">
        <div>
          <h1 id="page-title">Clusters</h1>
          <p className="muted">Each cluster has its own OIDC issuer; clouds trust its discovery document and keys.</p>
        </div>
      </div>
      <ErrorBanner error={clusters.error} title="Could not load the clusters" />
      {clusters.loading && !clusters.data ? <Loading what="clusters" /> : null}
      {clusters.data && clusters.data.length === 0 ? (
        <Empty title="No clusters yet">
          <p>
            Register the Kubernetes cluster your Deployments run on: <code>airlock cluster create prod-aws --cloud aws --region us-east-1</code>.
          </p>
        </Empty>
      ) : null}
      {clusters.data?.map((c) => <ClusterCard key={c.id} cluster={c} />)}
    </section>
  );
}

function ClusterCard({ cluster: c }: { cluster: Cluster }) {
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
        <button type="button" className="btn" onClick={() => setRotating(true)} aria-label={`Rotate keys of ${c.name}`}>
          Rotate keys
        </button>
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
        <div className="table-wrap">
          <table aria-label={`Signing keys of ${c.name}`}>
            <ColumnHeads names={['Key ID', 'Status', 'Published', 'Active from', 'Retired']} />
            <tbody>
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
            </tbody>
          </table>
        </div>
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
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const rotate = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onRotated(await api<Rotated>('POST', `/api/v1/clusters/${enc(cluster.id)}/rotate-keys`, { immediate, revokePrevious: immediate && revokePrevious }));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
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
