import { useState, type FormEvent } from 'react';
import { ApiError, api, setToken } from '../api.ts';
import { ErrorBanner, Field } from '../components/ui.tsx';

/**
 * Sign in with an API token. The token is checked with a real call (the Deployment list, which
 * every role may read) before it is kept in session storage.
 */
export function SignIn({ onSignedIn, expired }: { onSignedIn: () => void; expired: boolean }) {
  const [token, setValue] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError(new Error('Enter an API token.'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api('GET', '/api/v1/deployments?limit=1', undefined, { token: t });
      setToken(t);
      onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setError(new ApiError(401, err.code, 'That API token was not accepted: it is unknown, revoked or expired. Check that you copied all of it (it starts with alk_).'));
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in" id="main">
      <form className="card sign-in-card" onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title" noValidate>
        <p className="brand brand-large">Airlock</p>
        <h1 id="sign-in-title">Sign in</h1>
        <p className="muted">Workload identity for your data pipelines. Sign in with an API token; it is kept in this tab only and forgotten when you sign out or close it.</p>
        {expired ? (
          <div className="banner banner-warn" role="status">
            Your API token is no longer accepted. Sign in again.
          </div>
        ) : null}
        <Field
          label="API token"
          type="password"
          value={token}
          onChange={setValue}
          autoFocus
          autoComplete="current-password"
          hint={
            <>
              The first start writes an admin token to <code>&lt;data dir&gt;/admin-token</code>; <code>airlock token create</code> makes others.
            </>
          }
        />
        <ErrorBanner error={error} />
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
