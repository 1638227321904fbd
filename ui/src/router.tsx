// A small history-API router: the console has five pages, which does not warrant a dependency.
// The server answers these same paths with index.html (src/web/assets.ts lists them).
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const NAVIGATE_EVENT = 'airlock:navigate';

export function navigate(to: string, o: { replace?: boolean } = {}): void {
  if (o.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  // (The query string is the page's own business: Environment reads ?deployment=.)
  useEffect(() => {
    const update = () => setPath(location.pathname);
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATE_EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATE_EVENT, update);
    };
  }, []);
  return path;
}

export type Route =
  | { page: 'sign-in' }
  | { page: 'deployments' }
  | { page: 'deployment'; name: string }
  | { page: 'clusters' }
  | { page: 'environment' }
  | { page: 'audit' }
  | { page: 'tokens' }
  | { page: 'backups' }
  | { page: 'not-found' };

export function match(path: string): Route {
  if (path === '/' || path === '/deployments') return { page: 'deployments' };
  if (path === '/sign-in') return { page: 'sign-in' };
  if (path === '/clusters') return { page: 'clusters' };
  if (path === '/environment') return { page: 'environment' };
  if (path === '/audit') return { page: 'audit' };
  if (path === '/tokens') return { page: 'tokens' };
  if (path === '/backups') return { page: 'backups' };
  const m = /^\/deployments\/([^/]+)$/.exec(path);
  if (m) return { page: 'deployment', name: decodeURIComponent(m[1] ?? '') };
  return { page: 'not-found' };
}

/** An anchor that navigates in place on a plain click and behaves as a link otherwise. */
export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={click} {...rest} />;
}
