// The shell: signed out, every path shows the sign-in form; signed in, a header with the
// navigation and the page the path names.
import { useEffect, useState } from 'react';
import { SIGNED_OUT_EVENT, api, clearToken, getToken, getWorkspace, setWorkspace } from './api.ts';
import type { Self, Workspace } from './types.ts';
import { PermissionsContext } from './permissions.tsx';
import { useLoad } from './components/ui.tsx';
import { Link, match, navigate, usePath } from './router.tsx';
import { SignIn } from './pages/sign-in.tsx';
import { DeploymentsPage } from './pages/deployments.tsx';
import { DeploymentPage } from './pages/deployment.tsx';
import { ClustersPage } from './pages/clusters.tsx';
import { EnvironmentPage } from './pages/environment.tsx';
import { AuditPage } from './pages/audit.tsx';
import { TokensPage } from './pages/tokens.tsx';
import { BackupsPage } from './pages/backups.tsx';

/** The pages, each shown to tokens whose role may read what it shows. */
const NAV = [
  { to: '/deployments', label: 'Deployments', pages: ['deployments', 'deployment'], reads: ['deployment.read'] },
  { to: '/environment', label: 'Environment', pages: ['environment'], reads: ['variable.read', 'connection.read'] },
  { to: '/clusters', label: 'Clusters', pages: ['clusters'], reads: ['cluster.read'] },
  { to: '/tokens', label: 'Tokens', pages: ['tokens'], reads: ['token.read'] },
  { to: '/audit', label: 'Audit', pages: ['audit'], reads: ['audit.read'] },
  { to: '/backups', label: 'Backups', pages: ['backups'], reads: ['backup.read'] },
];

export function App() {
  const path = usePath();
  // Bumped when the workspace changes, so every page loads again in the new one.
  const [workspaceGeneration, setWorkspaceGeneration] = useState(0);
  const [signedIn, setSignedIn] = useState(() => getToken() !== null);
  const [expired, setExpired] = useState(false);
  useEffect(() => {
    const out = () => {
      setSignedIn(false);
      setExpired(true);
    };
    window.addEventListener(SIGNED_OUT_EVENT, out);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, out);
  }, []);
  const route = match(path);
  // Who is signed in, and what its role may do; read again at each sign-in.
  const self = useLoad(() => (signedIn ? api<Self>('GET', '/api/v1/tokens/self') : Promise.resolve(undefined)), [signedIn]);
  const permissions = new Set(self.data?.permissions ?? []);

  useEffect(() => {
    const titles: Record<string, string> = { deployments: 'Deployments', deployment: 'Deployment', clusters: 'Clusters', environment: 'Environment', audit: 'Audit log', tokens: 'API tokens', backups: 'Backups', 'sign-in': 'Sign in' };
    document.title = `${titles[route.page] ?? 'Not found'} · Airlock`;
  }, [route.page]);

  if (!signedIn) {
    return (
      <SignIn
        expired={expired}
        onSignedIn={() => {
          setSignedIn(true);
          setExpired(false);
          if (route.page === 'sign-in') navigate('/deployments', { replace: true });
        }}
      />
    );
  }

  const signOut = () => {
    clearToken();
    setSignedIn(false);
    setExpired(false);
    navigate('/sign-in');
  };

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/deployments" className="brand">
          Airlock
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => n.reads.some((p) => permissions.has(p))).map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.pages.includes(route.page) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <WorkspacePicker
          onChange={() => {
            setWorkspaceGeneration((n) => n + 1);
            if (route.page === 'deployment') navigate('/deployments');
          }}
        />
        {self.data ? <WhoAmI self={self.data} /> : null}
        <button type="button" className="btn btn-ghost" onClick={signOut}>
          Sign out
        </button>
      </header>
      <PermissionsContext.Provider value={permissions}>
        <main id="main" tabIndex={-1} key={workspaceGeneration}>
          {route.page === 'deployments' || route.page === 'sign-in' ? <DeploymentsPage /> : null}
          {route.page === 'deployment' ? <DeploymentPage key={route.name} name={route.name} /> : null}
          {route.page === 'clusters' ? <ClustersPage /> : null}
          {route.page === 'environment' ? <EnvironmentPage /> : null}
          {route.page === 'tokens' ? <TokensPage /> : null}
          {route.page === 'audit' ? <AuditPage /> : null}
          {route.page === 'backups' ? <BackupsPage /> : null}
          {route.page === 'not-found' ? (
            <section className="page">
              <h1>Page not found</h1>
              <p>
                Nothing lives at <code>{path}</code>. <Link to="/deployments">Go to Deployments</Link>.
              </p>
            </section>
          ) : null}
        </main>
      </PermissionsContext.Provider>
    </div>
  );
}

/** Which token the console acts as: its name and role, with its scope on hover. */
function WhoAmI({ self: t }: { self: Self }) {
  const scope = t.deploymentName ? `Deployment ${t.deploymentName} in workspace ${t.workspaceName}` : t.workspaceName ? `workspace ${t.workspaceName}` : 'the organization';
  return (
    <span className="whoami" title={`${t.role} of ${scope}`}>
      {t.name} · {t.role}
    </span>
  );
}

/**
 * The workspace the pages act in, for tokens that see more than one (organization roles). A token
 * scoped to one workspace sees only its own, and no picker.
 */
function WorkspacePicker({ onChange }: { onChange: () => void }) {
  const loaded = useLoad(() => api<{ items: Workspace[] }>('GET', '/api/v1/workspaces').then((r) => r.items), []);
  const [current, setCurrent] = useState(() => getWorkspace() ?? '');
  useEffect(() => {
    // A remembered workspace that is gone (deleted, or another token's) is forgotten.
    if (loaded.data && current && !loaded.data.some((w) => w.id === current)) {
      setWorkspace(null);
      setCurrent('');
      onChange();
    }
  }, [loaded.data]);
  const workspaces = loaded.data;
  if (!workspaces || workspaces.length < 2) return null;
  const fallback = workspaces.find((w) => w.name === 'default') ?? workspaces[0]!;
  return (
    <label className="workspace-picker">
      <span className="sr-only">Workspace</span>
      <select
        value={current || fallback.id}
        onChange={(e) => {
          setWorkspace(e.target.value);
          setCurrent(e.target.value);
          onChange();
        }}
      >
        {workspaces.map((w) => (
          <option key={w.id} value={w.id}>
            {w.name}
          </option>
        ))}
      </select>
    </label>
  );
}
