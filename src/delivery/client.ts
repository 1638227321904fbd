/**
 * The workload's HTTP client of the server: read its own profile, exchange its attestation for
 * tokens. Used by `airlock exec` and `airlock agent`; speaks only the wire contract in profile.ts.
 *
 * The attestation (a join credential or a Kubernetes service-account token) is read again for every
 * request, because the kubelet rotates projected tokens and an operator may replace a credential file.
 * It is sent only in the Authorization header or the form body, never logged, never put in an error.
 */
import { readFile } from 'node:fs/promises';
import {
  JOIN_CREDENTIAL_ENV,
  JOIN_CREDENTIAL_PATTERN,
  JOIN_CREDENTIAL_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
  WORKLOAD_PROFILE_PATH,
  tokenErrorSchema,
  tokenResponseSchema,
  workloadProfileSchema,
  type TokenResponse,
  type WorkloadProfile,
} from './profile.ts';
import { DeliveryError } from './errors.ts';
import { WORKLOAD_ENVIRONMENT_PATH, workloadEnvironmentSchema, type WorkloadEnvironmentDoc } from './deployment-environment.ts';

/** How the workload proves what it is. */
export interface Attestation {
  /** `subject_token_type` of the exchange. */
  readonly tokenType: typeof JOIN_CREDENTIAL_TOKEN_TYPE | typeof JWT_TOKEN_TYPE;
  /** `?cluster=` of the profile request (Kubernetes tokens only: the server must know whose issuer to check). */
  readonly cluster?: string | undefined;
  /** The secret, read fresh. */
  read(): Promise<string>;
}

const JOIN_EXAMPLE = 'alj_<20 lowercase letters or digits>_<43 base64url characters>';

function checkJoinCredential(value: string, source: string): string {
  const v = value.trim();
  if (!JOIN_CREDENTIAL_PATTERN.test(v)) {
    throw new DeliveryError('ERR_VALIDATION', `${source} does not hold a join credential (create one with \`airlock deployment credentials create\`)`, {
      field: source,
      example: JOIN_EXAMPLE,
    });
  }
  return v;
}

/** A join credential given as a value (AIRLOCK_JOIN_CREDENTIAL). Checked for form now, so a typo fails before any request. */
export function joinCredential(value: string, source: string = JOIN_CREDENTIAL_ENV): Attestation {
  const v = checkJoinCredential(value, source);
  return { tokenType: JOIN_CREDENTIAL_TOKEN_TYPE, read: () => Promise.resolve(v) };
}

async function readSecretFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new DeliveryError('ERR_VALIDATION', `cannot read ${flag} ${path} (${code})`, { field: flag, example: '/var/run/secrets/airlock/join-credential', cause: err });
  }
}

/** A join credential kept in a file (`--join-credential-file`), read on every request. */
export function joinCredentialFile(path: string): Attestation {
  const flag = '--join-credential-file';
  return { tokenType: JOIN_CREDENTIAL_TOKEN_TYPE, read: async () => checkJoinCredential(await readSecretFile(path, flag), flag) };
}

/** The pod's projected service-account token (`--kubernetes-token-file`), read on every request. */
export function kubernetesTokenFile(path: string, cluster: string): Attestation {
  const flag = '--kubernetes-token-file';
  return {
    tokenType: JWT_TOKEN_TYPE,
    cluster,
    async read() {
      const v = (await readSecretFile(path, flag)).trim();
      if (v.split('.').length !== 3) throw new DeliveryError('ERR_VALIDATION', `${flag} ${path} does not hold a JWT`, { field: flag, example: '/var/run/secrets/airlock-attest/token' });
      return v;
    },
  };
}

export interface WorkloadClientOptions {
  /** The server's base URL (AIRLOCK_URL). */
  serverUrl: string;
  attestation: Attestation;
  /** Per-request limit; a hung server must not stall refreshes forever. */
  timeoutMs?: number;
}

export interface WorkloadClient {
  readonly serverUrl: string;
  profile(): Promise<WorkloadProfile>;
  /**
   * The Deployment's environment (variables, linked connections). Undefined when the server is
   * older than this endpoint. Optional so test doubles that only mint need not provide it.
   */
  environment?(): Promise<WorkloadEnvironmentDoc | undefined>;
  /** One exchange: every audience given goes into the one token returned. */
  exchange(tokenEndpoint: string, audiences: readonly string[]): Promise<TokenResponse>;
}

async function send(url: string, init: RequestInit, timeoutMs: number, what: string): Promise<{ status: number; json: unknown; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string }; message?: string };
    const why = e.name === 'TimeoutError' ? `no answer in ${timeoutMs / 1000}s` : (e.cause?.code ?? e.message ?? 'failed');
    throw new DeliveryError('ERR_UNREACHABLE', `cannot reach ${what} at ${new URL(url).origin} (${why})`, { cause: err });
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

export function createWorkloadClient(o: WorkloadClientOptions): WorkloadClient {
  const serverUrl = o.serverUrl.replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? 30_000;
  return {
    serverUrl,
    async profile() {
      const secret = await o.attestation.read();
      const url = new URL(serverUrl + WORKLOAD_PROFILE_PATH);
      if (o.attestation.cluster !== undefined) url.searchParams.set('cluster', o.attestation.cluster);
      const r = await send(url.href, { headers: { accept: 'application/json', authorization: `Bearer ${secret}` } }, timeoutMs, 'the Airlock server');
      if (r.status !== 200) {
        const e = (r.json as { error?: { code?: string; message?: string; field?: string; example?: unknown } } | undefined)?.error;
        if (e?.code && e.message) {
          throw new DeliveryError(e.code, `the server refused the workload profile request: ${e.message}`, { status: r.status, ...(e.field ? { field: e.field } : {}), ...(e.example !== undefined ? { example: e.example } : {}) });
        }
        throw new DeliveryError('ERR_BAD_RESPONSE', `the server answered ${r.status} to GET ${WORKLOAD_PROFILE_PATH} (is ${serverUrl} an Airlock server?)`, { status: r.status });
      }
      const p = workloadProfileSchema.safeParse(r.json);
      if (!p.success) throw new DeliveryError('ERR_BAD_RESPONSE', `the workload profile from ${serverUrl} is not in the expected form (${p.error.issues[0]?.path.join('.')}: ${p.error.issues[0]?.message}); is the server older than this CLI?`);
      return p.data;
    },
    async environment() {
      const secret = await o.attestation.read();
      const url = new URL(serverUrl + WORKLOAD_ENVIRONMENT_PATH);
      if (o.attestation.cluster !== undefined) url.searchParams.set('cluster', o.attestation.cluster);
      const r = await send(url.href, { headers: { accept: 'application/json', authorization: `Bearer ${secret}` } }, timeoutMs, 'the Airlock server');
      const e = (r.json as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (r.status === 404 && e?.code === 'ERR_ROUTE_NOT_FOUND') return undefined;
      if (r.status !== 200) {
        if (e?.code && e.message) throw new DeliveryError(e.code, `the server refused the Deployment environment request: ${e.message}`, { status: r.status });
        throw new DeliveryError('ERR_BAD_RESPONSE', `the server answered ${r.status} to GET ${WORKLOAD_ENVIRONMENT_PATH}`, { status: r.status });
      }
      const p = workloadEnvironmentSchema.safeParse(r.json);
      // Never echo the body: it holds secret values.
      if (!p.success) throw new DeliveryError('ERR_BAD_RESPONSE', `the Deployment environment from ${serverUrl} is not in the expected form (${p.error.issues[0]?.path.join('.')})`);
      return p.data;
    },
    async exchange(tokenEndpoint, audiences) {
      const body = new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT_TYPE, subject_token: await o.attestation.read(), subject_token_type: o.attestation.tokenType });
      for (const a of audiences) body.append('audience', a);
      const r = await send(tokenEndpoint, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' }, body }, timeoutMs, 'the token endpoint');
      const what = `audience ${audiences.join(', ')}`;
      if (r.status === 200) {
        const t = tokenResponseSchema.safeParse(r.json);
        if (t.success) return t.data;
        throw new DeliveryError('ERR_BAD_RESPONSE', `the token endpoint answered 200 for ${what} without an RFC 8693 token response`, { status: 200 });
      }
      const e = tokenErrorSchema.safeParse(r.json);
      if (e.success) {
        throw new DeliveryError('ERR_TOKEN_EXCHANGE', `token exchange for ${what} refused (${e.data.error}): ${e.data.error_description}`, { status: r.status, oauthError: e.data.error });
      }
      throw new DeliveryError('ERR_BAD_RESPONSE', `the token endpoint answered ${r.status} for ${what} without an RFC 6749 error`, { status: r.status });
    },
  };
}
