/**
 * A long-running workload keeps working while `airlock agent` refreshes its token many times and
 * the cluster's signing key rotates; revoking its join credential stops it within one token
 * lifetime.
 *
 * Hours must pass, so one injected clock drives the server (minting, key rotation), the sandbox
 * (token checks) and the agent (its refresh schedule). `airlock agent` on the command line always
 * runs on the system clock, so the agent runs here in-process — the same startAgent the CLI calls,
 * writing the same files — while the workload is a real child process: a plain Python script using
 * google-auth's Application Default Credentials, started from the agent's `<dir>/env` the way a
 * service sources it. The child answers one request per line on stdin and builds its credentials
 * anew each time (its SDK's own token cache runs on the real clock, which does not move here), so
 * every answer reads the token file exactly as the agent left it at that instant.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { gcpResources, planGcpSetup } from '../../src/cloud/gcp/index.ts';
import { startAgent, type RunningAgent } from '../../src/delivery/agent/agent.ts';
import { joinCredential } from '../../src/delivery/client.ts';
import { startSandbox, type Sandbox } from '../../src/emulators/sandbox.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createManualScheduler } from '../../src/lib/scheduler.ts';
import { startServer, type TestServer } from '../helpers/app.ts';
import { killAll, pythonTools, spawnGroup, type Spawned } from '../helpers/processes.ts';
import { bareChildEnv, guardLoopback } from './helpers.ts';

const SCRATCH = mkdtempSync(join(tmpdir(), 'airlock-e2e-agent-'));
const guard = guardLoopback();
const { python } = pythonTools();
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'delivery', 'gcp_whoami_loop.py');
const SA = 'lake-loader@data-lake-prod.iam.gserviceaccount.com';
const MINUTE = 60_000;

describe('a long-running workload under airlock agent (injected clock)', () => {
  const sched = createManualScheduler(createManualClock(Date.now()));
  const agentLogs: Record<string, any>[] = [];
  const sandboxLogs: Record<string, any>[] = [];
  const controller = new AbortController();
  let server: TestServer;
  let sandbox: Sandbox;
  let agent: RunningAgent;
  let child: Spawned;
  let credentialId: string;
  const dir = join(SCRATCH, 'airlock');
  const tokenFile = join(dir, 'tokens', 'gcp', 'token');

  /** One request to the child: its answer, and the principal the sandbox sees behind the token. */
  async function ask(): Promise<{ ok: boolean; principal?: string; message?: string }> {
    const seen = child.stdout().split('\n').length;
    child.child.stdin!.write('whoami\n');
    for (let i = 0; child.stdout().split('\n').length === seen; i++) {
      assert.ok(i < 600 && child.child.exitCode === null, `no answer from the child\nstderr: ${child.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const answer = JSON.parse(child.stdout().split('\n')[seen - 1]!) as { ok: boolean; token?: string; message?: string };
    if (!answer.ok) return { ok: false, message: answer.message! };
    const me = await fetch(`${sandbox.gcpUrl}/_sandbox/gcp/whoami`, { headers: { authorization: `Bearer ${answer.token}` } });
    assert.equal(me.status, 200, await me.clone().text());
    return { ok: true, principal: ((await me.json()) as { principal: string }).principal };
  }

  before(async () => {
    server = await startServer({ clock: sched.clock, flags: { keyRotationPeriod: '6h', keyPrepublish: '1h' } });
    sandbox = await startSandbox({ port: 0, dataDir: join(SCRATCH, 'sandbox'), inMemory: true, clock: sched.clock, logger: createLogger('debug', (l) => sandboxLogs.push(JSON.parse(l))) });
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await server.api(method, path, body);
      assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    await api('POST', '/api/v1/clusters', { name: 'gcp-prod', cloud: 'gcp', region: 'us-central1' });
    await api('PUT', '/api/v1/identities', { name: 'lake-loader', gcpServiceAccount: SA, gcpProjectNumber: '498127360554' });
    await api('POST', '/api/v1/deployments', { name: 'lake', cluster: 'gcp-prod', runtimeVersion: '12.1.0', workloadIdentity: 'lake-loader' });
    const resources = gcpResources(planGcpSetup(await server.app.deployments.setupInput({ workspaceId: server.app.tenancy.workspace.id }, 'lake', {})));
    const loaded = await fetch(`${sandbox.gcpUrl}/_sandbox/gcp/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(resources) });
    assert.equal(loaded.status, 200, await loaded.text());
    const credential = await api('POST', '/api/v1/deployments/lake/credentials', { component: 'worker' });
    credentialId = credential.id;

    agent = await startAgent({
      serverUrl: server.url,
      attestation: joinCredential(credential.secret),
      dir,
      expect: { deployment: 'lake', component: 'worker' },
      sandboxUrl: sandbox.awsUrl,
      clock: sched.clock,
      scheduler: sched,
      logger: createLogger('debug', (l) => agentLogs.push(JSON.parse(l))),
      signal: controller.signal,
    });
    // As a service would start: source the env file the agent wrote, then run the program.
    child = spawnGroup('/bin/sh', ['-c', '. "$1" && exec "$2" "$3"', 'sh', join(dir, 'env'), python, FIXTURE], {
      env: bareChildEnv({ home: join(SCRATCH, 'home'), python, sandboxProxy: sandbox.proxyUrl }),
      stdin: 'pipe',
    });
  });

  after(async () => {
    controller.abort();
    await agent?.done;
    await killAll();
    await sandbox?.close();
    await server?.close();
    guard.restore();
    rmSync(SCRATCH, { recursive: true, force: true });
    assert.deepEqual(guard.blocked, [], 'no connection of this process left 127.0.0.1');
  });

  it('answers as the service account every 15 minutes for 10 hours: a dozen refreshes and a key rotation later', async () => {
    const tokens = new Set<string>();
    const kids: string[] = [];
    for (let step = 0; step < 40; step++) {
      await sched.advance(15 * MINUTE);
      await server.app.keyring.tick();
      const token = readFileSync(tokenFile, 'utf8').trim();
      const { kid } = decodeProtectedHeader(token);
      const { exp } = decodeJwt(token);
      assert.ok(exp! * 1000 > sched.clock.now(), `the token file holds an expired token at step ${step}`);
      tokens.add(token);
      if (kids[kids.length - 1] !== kid) kids.push(kid!);
      const answer = await ask();
      assert.deepEqual(answer, { ok: true, principal: `serviceAccount:${SA}` }, `step ${step} (+${(step + 1) * 15} min), kid ${kid}`);
    }
    // 10 hours of 1-hour tokens refreshed at 50-80 % of their life: 12 to 20 of them.
    assert.ok(tokens.size >= 12 && tokens.size <= 21, `${tokens.size} distinct tokens`);
    assert.equal(kids.length, 2, `the signing key changed once (6 h period): ${kids.join(' -> ')}`);
    assert.deepEqual(
      agentLogs.filter((l) => l.level === 'warn' || l.level === 'error'),
      [],
      'no refresh failed',
    );
  });

  it('a revoked join credential: the next refresh gets invalid_grant, the child works until its token expires, then fails', async () => {
    const revoked = await server.api('DELETE', `/api/v1/deployments/lake/credentials/${credentialId}`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const held = decodeJwt(readFileSync(tokenFile, 'utf8').trim()).exp! * 1000;
    // The agent also re-reads the Deployment environment on its own schedule: step through its due
    // tasks (never past the held token's expiry) until the token refresh has run.
    for (let i = 0; i < 500 && !agentLogs.some((l) => l.msg === 'token refresh failed'); i++) {
      const due = sched.nextDue()!;
      assert.ok(due < held, `no token refresh was due before the held token expired (${agentLogs.length} log lines)`);
      await sched.advance(due - sched.clock.now());
    }
    const failure = agentLogs.find((l) => l.msg === 'token refresh failed');
    assert.ok(failure, JSON.stringify(agentLogs.slice(-3)));
    assert.match(failure.reason, /invalid_grant/, JSON.stringify(failure));
    assert.match(failure.reason, /revoked/, JSON.stringify(failure));
    assert.equal(failure.level, 'warn', 'a warning while the held token is still good');
    assert.deepEqual(await ask(), { ok: true, principal: `serviceAccount:${SA}` }, 'issued tokens stay good until they expire');

    await sched.advance(held - sched.clock.now() + MINUTE);
    const answer = await ask();
    assert.equal(answer.ok, false, JSON.stringify(answer));
    assert.match(answer.message!, /invalid_grant|expired/, answer.message);
    assert.ok(agentLogs.some((l) => l.msg === 'token refresh failed' && l.level === 'error'), 'an error once the held token expired');
  });

  it('the sandbox refused nothing through its proxy', () => {
    assert.deepEqual(sandboxLogs.filter((l) => /refused/.test(l.msg)), []);
  });
});
