import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** A failure the CLI prints and exits on; `code` is the server's stable error code when there is one. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: string = 'ERR_CLI',
    readonly field?: string,
    readonly example?: unknown,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  url?: string | undefined;
  token?: string | undefined;
  /**
   * The workspace the command acts in (`--workspace`, else AIRLOCK_WORKSPACE); sent as
   * `?workspace=` on every request. Absent: the token's own workspace, or `default`.
   */
  workspace?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

export interface ApiClient {
  readonly baseUrl: string;
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/** Finds the token: flag, then AIRLOCK_TOKEN, then ./.airlock/admin-token written by a local server. */
export function resolveToken(opts: ClientOptions): string | undefined {
  const env = opts.env ?? process.env;
  if (opts.token) return opts.token;
  if (env.AIRLOCK_TOKEN) return env.AIRLOCK_TOKEN;
  const file = resolve('.airlock', 'admin-token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export function createClient(opts: ClientOptions = {}): ApiClient {
  const env = opts.env ?? process.env;
  const baseUrl = (opts.url ?? env.AIRLOCK_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = resolveToken(opts);
  const workspace = opts.workspace ?? env.AIRLOCK_WORKSPACE;
  const withWorkspace = (path: string) => (workspace ? `${path}${path.includes('?') ? '&' : '?'}workspace=${encodeURIComponent(workspace)}` : path);
  return {
    baseUrl,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await fetch(baseUrl + withWorkspace(path), { method, headers, body: body === undefined ? null : JSON.stringify(body) });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new CliError(`cannot reach the Airlock server at ${baseUrl} (${cause}); start it with \`npm start\` or set AIRLOCK_URL`, 'ERR_UNREACHABLE');
      }
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (!res.ok) {
        const e = (json as { error?: { code?: string; message?: string; field?: string; example?: unknown } } | undefined)?.error;
        if (e?.code) {
          const hint = res.status === 401 && !token ? ' (no token found: set AIRLOCK_TOKEN or run from the directory holding .airlock/admin-token)' : '';
          throw new CliError((e.message ?? '') + hint, e.code, e.field, e.example);
        }
        throw new CliError(`server answered ${res.status} ${res.statusText}`, `HTTP_${res.status}`);
      }
      // Non-JSON success bodies (Terraform is text/plain) are handed back as text.
      return (/json/.test(res.headers.get('content-type') ?? '') ? json : text) as T;
    },
  };
}

/**
 * Adds `--workspace` to a command and every command under it: the commands that act on a
 * workspace's objects (Deployments, identities, join credentials, tokens).
 */
/** Flags every API command has: `--workspace` (withWorkspaceOption adds it to each leaf command). */
export interface ApiFlags {
  workspace?: string;
}
/** …and the `-o, --output` flag of commands that print a result (it has a default). */
export interface OutputFlags extends ApiFlags {
  output: string;
}

export function withWorkspaceOption(cmd: { options: readonly { long?: string | undefined }[]; commands: readonly unknown[]; option(flags: string, description: string): unknown }): void {
  if (cmd.commands.length === 0 && !cmd.options.some((o) => o.long === '--workspace')) {
    cmd.option('--workspace <workspace>', 'workspace id or name [env AIRLOCK_WORKSPACE; default: the token\'s own, or "default"]');
  }
  for (const c of cmd.commands) withWorkspaceOption(c as typeof cmd);
}
