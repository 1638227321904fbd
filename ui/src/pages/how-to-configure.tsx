// "How to configure": the setup the API generates for this Deployment (GET …/identity/setup and
// …/identity/terraform), as numbered steps. Every command and document shown is the API's text.
// "Check" takes what the cloud holds, pasted from its CLI, and shows the API's verdict on it.
import { useState, type FormEvent } from 'react';
import { api, enc } from '../api.ts';
import { Choice, CodeBlock, ErrorBanner, Field, Loading, Modal, Table, useAction, useLoad } from '../components/ui.tsx';
import type { Cloud, Cluster, Deployment, Setup, TrustCheck } from '../types.ts';
import { cloudName } from './identity-text.ts';

type Trust = 'per-component' | 'wildcard';
type GcpRoute = 'impersonation' | 'direct-grant';

const docText = (content: unknown) => (typeof content === 'string' ? content : JSON.stringify(content, null, 2));

export function HowToConfigure({ deployment: d, cluster, onClose }: { deployment: Deployment; cluster: Cluster | undefined; onClose: () => void }) {
  const [tab, setTab] = useState<'steps' | 'terraform' | 'check'>('steps');
  const [trust, setTrust] = useState<Trust>('per-component');
  const [gcpRoute, setGcpRoute] = useState<GcpRoute>('impersonation');
  // Text options apply on "Show setup" (not on every keystroke).
  const [draft, setDraft] = useState({ targetRoleArn: '', targetServiceAccount: '', project: '', role: '' });
  const [applied, setApplied] = useState(draft);
  const isDefault = d.effectiveWorkloadIdentity?.mode !== 'customer-managed';

  const q = new URLSearchParams();
  if (trust === 'wildcard') q.set('wildcard', 'true');
  if (isDefault && d.cloud === 'aws' && applied.targetRoleArn) q.set('targetRoleArn', applied.targetRoleArn);
  if (isDefault && d.cloud === 'gcp') {
    q.set('gcpRoute', gcpRoute);
    if (gcpRoute === 'impersonation' && applied.targetServiceAccount) q.set('targetServiceAccount', applied.targetServiceAccount);
    if (applied.project) q.set('project', applied.project);
    if (gcpRoute === 'direct-grant' && applied.role) q.set('role', applied.role);
  }
  const qs = q.toString();
  const setup = useLoad(() => api<Setup>('GET', `/api/v1/deployments/${enc(d.id)}/identity/setup?${qs}`), [d.id, qs, d.updatedAt]);
  const terraform = useLoad(
    () => (tab === 'terraform' ? api<string>('GET', `/api/v1/deployments/${enc(d.id)}/identity/terraform?${qs}`, undefined, { text: true }) : Promise.resolve(undefined)),
    [d.id, qs, tab, d.updatedAt],
  );
  const textOptions = isDefault && (d.cloud === 'aws' || d.cloud === 'gcp');

  return (
    <Modal title={`How to configure ${d.name} on ${cloudName(d.cloud)}`} onClose={onClose} wide>
      <form
        className="setup-options"
        aria-label="Setup options"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          setApplied(draft);
        }}
      >
        <Choice<Trust>
          legend="Trust"
          value={trust}
          onChange={setTrust}
          options={[
            { value: 'per-component', label: 'Per component', hint: 'each component’s exact subject' },
            { value: 'wildcard', label: 'Wildcard', hint: cluster?.type === 'dedicated' ? 'every service account of this dedicated cluster' : 'dedicated clusters only' },
          ]}
        />
        {isDefault && d.cloud === 'gcp' ? (
          <Choice<GcpRoute>
            legend="Google Cloud access"
            value={gcpRoute}
            onChange={setGcpRoute}
            options={[
              { value: 'impersonation', label: 'Impersonation', hint: 'the default identity impersonates your service account' },
              { value: 'direct-grant', label: 'Direct grant', hint: 'grant a role on your project to the default identity' },
            ]}
          />
        ) : null}
        {d.cloud === 'gcp' && !isDefault ? <p className="hint">Customer-managed service account: the setup attaches it to the Deployment's workload identity pool.</p> : null}
        {textOptions && d.cloud === 'aws' ? (
          <Field label="Target role ARN" value={draft.targetRoleArn} onChange={(v) => setDraft({ ...draft, targetRoleArn: v })} hint="Optional: a role in your account that the default identity assumes." />
        ) : null}
        {textOptions && d.cloud === 'gcp' && gcpRoute === 'impersonation' ? (
          <Field label="Target service account" value={draft.targetServiceAccount} onChange={(v) => setDraft({ ...draft, targetServiceAccount: v })} placeholder="lake-reader@my-proj.iam.gserviceaccount.com" />
        ) : null}
        {textOptions && d.cloud === 'gcp' ? <Field label="Project ID" value={draft.project} onChange={(v) => setDraft({ ...draft, project: v })} placeholder="my-proj" /> : null}
        {textOptions && d.cloud === 'gcp' && gcpRoute === 'direct-grant' ? <Field label="Role" value={draft.role} onChange={(v) => setDraft({ ...draft, role: v })} placeholder="roles/bigquery.dataViewer" /> : null}
        {textOptions ? (
          <button type="submit" className="btn">
            Show setup
          </button>
        ) : null}
      </form>

      <div role="tablist" aria-label="Setup format" className="tabs">
        <button type="button" role="tab" aria-selected={tab === 'steps'} onClick={() => setTab('steps')}>
          Steps
        </button>
        <button type="button" role="tab" aria-selected={tab === 'terraform'} onClick={() => setTab('terraform')}>
          Terraform
        </button>
        <button type="button" role="tab" aria-selected={tab === 'check'} onClick={() => setTab('check')}>
          Check
        </button>
      </div>

      {tab === 'check' ? (
        <div role="tabpanel" aria-label="Check">
          <CheckPanel deployment={d} cloud={d.cloud} query={qs} />
        </div>
      ) : tab === 'steps' ? (
        <div role="tabpanel" aria-label="Steps">
          <ErrorBanner error={setup.error} title="No setup for these options" />
          {setup.loading ? <Loading what="the setup" /> : null}
          {setup.data && !setup.loading ? <SetupSteps setup={setup.data} /> : null}
        </div>
      ) : (
        <div role="tabpanel" aria-label="Terraform">
          <ErrorBanner error={terraform.error} title="No Terraform for these options" />
          {terraform.loading ? <Loading what="the Terraform" /> : null}
          {terraform.data !== undefined && !terraform.loading ? <CodeBlock label="main.tf" code={terraform.data} /> : null}
        </div>
      )}
    </Modal>
  );
}

function SetupSteps({ setup }: { setup: Setup }) {
  return (
    <>
      <p className="muted">
        {setup.mode === 'default' ? 'Default identity' : 'Customer-managed identity'}; issuer <code className="break">{setup.issuerUrl}</code>, audience <code className="break">{setup.audience}</code>.
      </p>
      {setup.placeholders.length ? (
        <div className="banner banner-warn">
          <p>Replace these placeholders before running the steps:</p>
          <ul>
            {setup.placeholders.map((p) => (
              <li key={p.name}>
                <code>{p.name}</code>: {p.description}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <ol className="steps">
        {setup.steps.map((s, i) => (
          <li key={i}>
            <h3>{s.title}</h3>
            {s.description ? <p>{s.description}</p> : null}
            {s.document ? <CodeBlock label={s.document.filename} code={docText(s.document.content)} /> : null}
            {s.commands.length ? <CodeBlock label={`Step ${i + 1} commands`} code={s.commands.join('\n')} /> : null}
          </li>
        ))}
        <li>
          <h3>Airflow connection</h3>
          <p>
            Connection type <code>{setup.connection.conn_type}</code>; its extra:
          </p>
          <CodeBlock label="Connection extra" code={JSON.stringify(setup.connection.extra, null, 2)} />
          {setup.environment && Object.keys(setup.environment).length ? (
            <CodeBlock
              label="Environment variables"
              code={Object.entries(setup.environment)
                .map(([k, v]) => `${k}=${v}`)
                .join('\n')}
            />
          ) : null}
        </li>
      </ol>
      {setup.notes.length ? (
        <section aria-label="Notes">
          <h3>Notes</h3>
          <ul className="notes">
            {setup.notes.map((n, i) => (
              <li key={i}>{n}</li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}

/** The document(s) each cloud's check reads, and the command that prints each. */
const CHECK_INPUTS: Record<Cloud, { key: string; label: string; command: string; optional?: boolean; defaultOnly?: boolean }[]> = {
  aws: [
    { key: 'trustPolicy', label: 'Trust policy', command: 'aws iam get-role --role-name <role> --output json (or the policy alone)' },
    { key: 'platformTrustPolicy', label: "Default role's trust policy", command: 'aws iam get-role --role-name <default role> --output json (the platform operator)', optional: true, defaultOnly: true },
  ],
  azure: [{ key: 'federatedCredentials', label: 'Federated credentials', command: 'az identity federated-credential list --identity-name <identity> --resource-group <group> -o json' }],
  gcp: [
    { key: 'provider', label: 'Pool provider', command: 'gcloud iam workload-identity-pools providers describe <provider> --workload-identity-pool=<pool> --location=global --format=json' },
    { key: 'serviceAccountPolicy', label: 'Service account policy', command: 'gcloud iam service-accounts get-iam-policy <account> --format=json', optional: true },
    { key: 'targetPolicy', label: 'Your grant to the default identity', command: 'gcloud iam service-accounts get-iam-policy <your account> --format=json (or gcloud projects get-iam-policy <project>)', optional: true, defaultOnly: true },
  ],
};

function CheckPanel({ deployment: d, cloud, query }: { deployment: Deployment; cloud: Cloud; query: string }) {
  const isDefault = d.effectiveWorkloadIdentity?.mode === 'default';
  const inputs = CHECK_INPUTS[cloud].filter((i) => isDefault || !i.defaultOnly);
  const [docs, setDocs] = useState<Record<string, string>>({});
  const [result, setResult] = useState<TrustCheck | undefined>(undefined);
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setResult(undefined);
    const body = Object.fromEntries(inputs.filter((i) => docs[i.key]?.trim()).map((i) => [i.key, docs[i.key]!]));
    void action.run(async () => setResult(await api<TrustCheck>('POST', `/api/v1/deployments/${enc(d.id)}/identity/check?${query}`, body)));
  };
  return (
    <>
      <p className="muted">Paste what the cloud holds now; Airlock evaluates it as the cloud would for each component's token, and looks for anyone else it lets in. Nothing is stored.</p>
      <form aria-label="Check the cloud's configuration" onSubmit={submit}>
        {inputs.map((i) => (
          <Field
            key={i.key}
            multiline
            label={i.optional ? `${i.label} (optional)` : i.label}
            value={docs[i.key] ?? ''}
            onChange={(v) => setDocs({ ...docs, [i.key]: v })}
            hint={
              <>
                The output of <code className="break">{i.command}</code>
              </>
            }
          />
        ))}
        <button type="submit" className="btn btn-primary" disabled={action.busy}>
          Check
        </button>
      </form>
      <ErrorBanner error={action.error} title="Could not check this document" />
      {result ? <CheckResult result={result} /> : null}
    </>
  );
}

function CheckResult({ result: r }: { result: TrustCheck }) {
  const refused = r.checks.filter((c) => !c.trusted).length;
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  return (
    <section aria-label="Check result">
      <div className={`banner ${r.ok ? 'banner-ok' : 'banner-error'}`} role="status">
        <strong>{r.ok ? 'OK' : 'Not OK'}</strong>
        <p>
          {r.ok
            ? `Everything the Deployment needs is trusted by ${r.checked}, and nothing found trusts more.`
            : [refused ? `${refused} of ${r.checks.length} not trusted` : '', errors ? `${errors} error${errors === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ') + ` (${r.checked}).`}
        </p>
      </div>
      <Table label="Trust per component" columns={['Component', 'Trusted', 'Principal', 'Why']}>
        {r.checks.map((c) => (
          <tr key={c.principal}>
            <td>{c.component ?? 'all'}</td>
            <td>{c.trusted ? 'yes' : 'no'}</td>
            <td>
              <code className="break">{c.principal}</code>
            </td>
            <td>{c.reason}</td>
          </tr>
        ))}
      </Table>
      {r.findings.length ? (
        <ul className="notes" aria-label="Findings">
          {r.findings.map((f, i) => (
            <li key={i}>
              <strong>{f.severity}</strong>: {f.message}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
