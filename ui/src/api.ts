// The one way the UI talks to Airlock: the public /api/v1 routes, with the API token the user
// signed in with (session storage: gone when the tab closes, cleared on sign-out). Nothing here
// invents data: every value a page shows came back from one of these calls.

const TOKEN_KEY = 'airlock.apiToken';
const WORKSPACE_KEY = 'airlock.workspace';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}
export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(WORKSPACE_KEY);
}

/** The workspace picked in the top bar (its id), sent as X-Airlock-Workspace; none: the token's own. */
export function getWorkspace(): string | null {
  return sessionStorage.getItem(WORKSPACE_KEY);
}
export function setWorkspace(id: string | null): void {
  if (id) sessionStorage.setItem(WORKSPACE_KEY, id);
  else sessionStorage.removeItem(WORKSPACE_KEY);
}

/** The API's error body, `{ error: { code, message, field, example } }`, as a thrown value. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly example: unknown;
  constructor(status: number, code: string, message: string, field?: string, example?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.example = example;
  }
  /** The field name without the request part (`body.runtimeVersion` → `runtimeVersion`). */
  get fieldName(): string | undefined {
    return this.field?.replace(/^(body|query|params)\./, '');
  }
}

/** The API's message when `error` names exactly `field` (to show under that field), else undefined. */
export function fieldMessage(error: unknown, field: string): string | undefined {
  return error instanceof ApiError && error.fieldName === field ? error.message : undefined;
}

/** Fired when the stored token stops being accepted, so the shell can return to sign-in. */
export const SIGNED_OUT_EVENT = 'airlock:signed-out';

export async function api<T>(method: string, path: string, body?: unknown, o: { token?: string; text?: boolean } = {}): Promise<T> {
  const token = o.token ?? getToken();
  const headers: Record<string, string> = { accept: o.text ? 'text/plain' : 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  // Workspace-level routes read it as ?workspace=; the others ignore it.
  const workspace = getWorkspace();
  if (workspace) headers['x-airlock-workspace'] = workspace;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'ERR_NETWORK', 'the Airlock server did not answer; is it running?');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!res.ok) {
    let e: { code?: string; message?: string; field?: string; example?: unknown } = {};
    try {
      e = (JSON.parse(text) as { error?: typeof e }).error ?? {};
    } catch {
      /* not the API's error body */
    }
    if (res.status === 401 && !o.token) {
      clearToken();
      window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
    }
    throw new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? `the server answered ${res.status}`, e.field, e.example);
  }
  if (o.text) return text as T;
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Every page of a list route (they answer `{ items, nextCursor }`). */
export async function listAll<T>(path: string, max = 20): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < max; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api<{ items: T[]; nextCursor?: string }>('GET', `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...page.items);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return out;
}

export const enc = encodeURIComponent;
