/**
 * One delivery session: what `airlock exec` and `airlock agent` both do before and while a workload
 * runs. Read the workload's profile, check it is the workload the operator named, plan the env and
 * files (pointed at the sandbox when asked), write the static files, and keep the tokens fresh.
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Scheduler } from '../../lib/scheduler.ts';
import { createWorkloadClient, type Attestation, type WorkloadClient } from '../client.ts';
import { applyEnvironment, type AppliedEnvironment, type WorkloadEnvironmentDoc } from '../deployment-environment.ts';
import { DEFAULT_TOKEN_DIR, planDelivery, type DeliveryPlan } from '../environment.ts';
import { DeliveryError } from '../errors.ts';
import type { WorkloadProfile } from '../profile.ts';
import { SANDBOX_INFO_PATH, SandboxInfoSchema, sandboxEndpoints, type SandboxInfo } from '../sandbox-info.ts';
import { PRIVATE_FILE_MODE, dirModeFor, ensurePrivateDir, writePrivateFile } from './files.ts';
import { createTokenKeeper, type KeeperOptions, type TokenKeeper } from './keeper.ts';

export interface SessionOptions {
  serverUrl: string;
  attestation: Attestation;
  /** Where token and config files go. */
  dir: string;
  /** The Deployment (id or name) and component the operator expects the credential to be. */
  expect?: { deployment?: string | undefined; component?: string | undefined };
  /** Custom audiences to keep a token for too (each must be allowed by the cluster). */
  extraAudiences?: readonly string[];
  /** `airlock sandbox`'s URL: point every cloud at its emulators. */
  sandboxUrl?: string | undefined;
  fileMode?: number;
  clock: Clock;
  scheduler: Scheduler;
  logger: Logger;
  random?: () => number;
  /** Replaces the HTTP client (tests count mints with it). */
  client?: WorkloadClient;
  onWrite?: KeeperOptions['onWrite'];
  /** The environment the workload will already have (exec: the caller's); its secrets backend is its own. */
  outerEnv?: NodeJS.ProcessEnv;
}

/** The Deployment's environment as last fetched, and what was made of it. */
export interface SessionEnvironment {
  doc: WorkloadEnvironmentDoc;
  applied: AppliedEnvironment;
}

export interface Session {
  profile: WorkloadProfile;
  plan: DeliveryPlan;
  keeper: TokenKeeper;
  sandbox?: SandboxInfo;
  /** The Deployment's variables and linked connections (absent from a server without them). */
  environment?: SessionEnvironment;
  /**
   * Everything the workload's environment gets: the Deployment's variables and connections, then
   * the delivered identity's variables (which win over a Deployment variable of the same name).
   */
  env(): Record<string, string>;
  /** Fetches the Deployment environment again; rewrites the connections file and returns true when it changed. */
  refreshEnvironment(): Promise<boolean>;
  stop(): void;
}

/** Fetches and checks the sandbox's info document. */
export async function fetchSandboxInfo(url: string): Promise<SandboxInfo> {
  const base = url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(base + SANDBOX_INFO_PATH, { signal: AbortSignal.timeout(10_000), redirect: 'error' });
  } catch (err) {
    const e = err as { cause?: { code?: string }; message?: string };
    throw new DeliveryError('ERR_UNREACHABLE', `cannot reach the sandbox at ${base} (${e.cause?.code ?? e.message ?? 'failed'}); start it with \`airlock sandbox\``, {
      field: '--sandbox',
      example: 'http://127.0.0.1:9000',
      cause: err,
    });
  }
  const body: unknown = await res.json().catch(() => undefined);
  const parsed = SandboxInfoSchema.safeParse(body);
  if (res.status !== 200 || !parsed.success) {
    throw new DeliveryError('ERR_BAD_RESPONSE', `${base}${SANDBOX_INFO_PATH} answered ${res.status} without the sandbox's info document; is ${base} the http port \`airlock sandbox\` printed?`, {
      field: '--sandbox',
      example: 'http://127.0.0.1:9000',
      status: res.status,
    });
  }
  return parsed.data;
}

function checkExpected(profile: WorkloadProfile, expect: SessionOptions['expect']): void {
  const d = expect?.deployment;
  if (d !== undefined && d !== profile.deployment.name && d !== profile.deployment.id) {
    throw new DeliveryError(
      'ERR_WORKLOAD_MISMATCH',
      `the credential is for Deployment ${profile.deployment.name} (${profile.deployment.id}), not ${d}; use that Deployment's credential or drop --deployment`,
      { field: '--deployment', example: profile.deployment.name },
    );
  }
  const c = expect?.component;
  if (c !== undefined && c !== profile.component) {
    throw new DeliveryError('ERR_WORKLOAD_MISMATCH', `the credential is for component ${profile.component} of ${profile.deployment.name}, not ${c}`, {
      field: '--component',
      example: profile.component,
    });
  }
}

export async function openSession(o: SessionOptions): Promise<Session> {
  const client = o.client ?? createWorkloadClient({ serverUrl: o.serverUrl, attestation: o.attestation });
  const profile = await client.profile();
  checkExpected(profile, o.expect);
  if (profile.tokenEndpoint === null) {
    throw new DeliveryError(
      'ERR_NO_TOKEN_ENDPOINT',
      `cluster ${profile.cluster.name} is in issuer mode kubernetes: its tokens come from the kubelet (the webhook projects them), not from Airlock's token endpoint`,
      { field: '--cluster', example: 'a cluster in issuer mode airlock' },
    );
  }
  const fileMode = o.fileMode ?? PRIVATE_FILE_MODE;
  await ensureRoot(o.dir, dirModeFor(fileMode), o.logger);

  let sandbox: SandboxInfo | undefined;
  let caFile: string | undefined;
  if (o.sandboxUrl !== undefined) {
    sandbox = await fetchSandboxInfo(o.sandboxUrl);
    new X509Certificate(sandbox.caCertPem); // the schema checked the header; this checks the rest
    caFile = join(o.dir, 'sandbox', 'ca.pem');
    // The CA is public; the SDKs only need to read it.
    await writePrivateFile(caFile, sandbox.caCertPem.endsWith('\n') ? sandbox.caCertPem : sandbox.caCertPem + '\n', fileMode | 0o444);
  }

  let plan: DeliveryPlan;
  try {
    plan = planDelivery(profile, { dir: o.dir, extraAudiences: o.extraAudiences ?? [], sandbox: sandbox && caFile ? sandboxEndpoints(sandbox, caFile) : undefined });
  } catch (err) {
    throw new DeliveryError('ERR_VALIDATION', (err as Error).message, { field: '--audience', example: profile.audiences[0] ?? 'sts.amazonaws.com' });
  }
  if (plan.tokens.length === 0) {
    throw new DeliveryError(
      'ERR_NO_IDENTITY',
      `${profile.deployment.name}/${profile.component} has no cloud identity to deliver: ${profile.identityReason ?? 'its Deployment has no workload identity'}` +
        (profile.customAudiences.length ? ` (custom audiences can be asked for with --audience: ${profile.customAudiences.join(', ')})` : ''),
      { field: '--deployment', example: 'airlock deployment identity set <deployment> …' },
    );
  }
  for (const f of plan.files) await writePrivateFile(f.path, f.content, fileMode);

  const keeper = createTokenKeeper({
    client,
    tokenEndpoint: profile.tokenEndpoint,
    tokens: plan.tokens,
    clock: o.clock,
    scheduler: o.scheduler,
    logger: o.logger,
    fileMode,
    ...(o.random ? { random: o.random } : {}),
    ...(o.onWrite ? { onWrite: o.onWrite } : {}),
  });
  const apply = async (doc: WorkloadEnvironmentDoc): Promise<SessionEnvironment> => {
    const applied = applyEnvironment(doc, o.dir, o.outerEnv ?? {});
    for (const f of applied.files) await writePrivateFile(f.path, f.content, fileMode);
    return { doc, applied };
  };
  const first = client.environment ? await client.environment() : undefined;
  const environment = first ? await apply(first) : undefined;
  const session: Session = {
    profile,
    plan,
    keeper,
    env: () => ({ ...session.environment?.applied.env, ...plan.env }),
    async refreshEnvironment() {
      const before = session.environment?.doc.digest;
      const doc = client.environment ? await client.environment() : undefined;
      if (doc?.digest === before) return false;
      if (doc) session.environment = await apply(doc);
      else delete session.environment;
      return true;
    },
    stop: () => keeper.stop(),
  };
  if (environment) session.environment = environment;
  if (sandbox) session.sandbox = sandbox;
  return session;
}

/**
 * The session's own directory gets the mode its files need. A directory someone else owns (a
 * Kubernetes emptyDir mounted by root) cannot be chmod-ed; that is fine when it is already ours to write.
 */
async function ensureRoot(dir: string, mode: number, logger: Logger): Promise<void> {
  try {
    await ensurePrivateDir(dir, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM') {
      throw new DeliveryError('ERR_VALIDATION', `cannot use ${dir} for token files (${code ?? (err as Error).message})`, { field: '--dir', example: DEFAULT_TOKEN_DIR, cause: err });
    }
    logger.debug('directory mode left as it is (not ours to change)', { dir });
  }
}
