import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { envFileContent, shellQuote, socketModeFor, startAgent } from '../../src/delivery/agent/agent.ts';
import { childEnvironment, runChild, runExec } from '../../src/delivery/agent/exec.ts';
import { joinCredential } from '../../src/delivery/client.ts';
import type { DeliveryPlan } from '../../src/delivery/environment.ts';
import { DeliveryError } from '../../src/delivery/errors.ts';
import { createManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createManualScheduler, type ManualScheduler } from '../../src/lib/scheduler.ts';
import { fakeServer, SAMPLE_PROFILE, type FakeServer } from '../helpers/fake-workload-server.ts';

const sh = promisify(execFile);
const CREDENTIAL = 'alj_abcdefghij0123456789_' + 'A'.repeat(43);

describe('the child environment', () => {
  const plan: DeliveryPlan = {
    env: { AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/d/tokens/aws/token', AWS_REGION: 'us-east-1' },
    unset: ['AWS_ACCESS_KEY_ID', 'AWS_PROFILE', 'AWS_SECRET_ACCESS_KEY'],
    tokens: [],
    files: [],
  };
  const cases: { name: string; base: NodeJS.ProcessEnv; clean?: boolean; env: Record<string, string | undefined>; kept?: string[]; shadowing?: string[]; removed?: string[] }[] = [
    { name: 'an empty environment gets the plan', base: {}, env: plan.env },
    {
      name: 'a variable the user set is kept and reported',
      base: { AWS_REGION: 'eu-west-1', PATH: '/bin' },
      env: { ...plan.env, AWS_REGION: 'eu-west-1', PATH: '/bin' },
      kept: ['AWS_REGION'],
    },
    { name: 'an empty value counts as unset', base: { AWS_REGION: '' }, env: plan.env },
    {
      name: 'static keys that would win are left and reported',
      base: { AWS_ACCESS_KEY_ID: 'AKIA', AWS_PROFILE: 'dev' },
      env: { ...plan.env, AWS_ACCESS_KEY_ID: 'AKIA', AWS_PROFILE: 'dev' },
      shadowing: ['AWS_ACCESS_KEY_ID', 'AWS_PROFILE'],
    },
    {
      name: '--clean-env removes them',
      base: { AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's', HOME: '/h' },
      clean: true,
      env: { ...plan.env, HOME: '/h', AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined },
      removed: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
    },
    {
      name: "the launcher's join credential and API token never reach the child",
      base: { AIRLOCK_JOIN_CREDENTIAL: CREDENTIAL, AIRLOCK_TOKEN: 'alk_x', AIRLOCK_URL: 'http://127.0.0.1:8080' },
      env: { ...plan.env, AIRLOCK_URL: 'http://127.0.0.1:8080', AIRLOCK_JOIN_CREDENTIAL: undefined, AIRLOCK_TOKEN: undefined },
      removed: ['AIRLOCK_JOIN_CREDENTIAL', 'AIRLOCK_TOKEN'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = childEnvironment(c.base, plan, { cleanEnv: c.clean ?? false });
      for (const [k, v] of Object.entries(c.env)) assert.equal(r.env[k], v, k);
      assert.deepEqual(r.kept, c.kept ?? []);
      assert.deepEqual(r.shadowing, c.shadowing ?? []);
      assert.deepEqual(r.removed, c.removed ?? []);
    });
  }

  it('never changes the environment it was given', () => {
    const base = { AWS_PROFILE: 'dev', AIRLOCK_TOKEN: 't' };
    childEnvironment(base, plan, { cleanEnv: true });
    assert.deepEqual(base, { AWS_PROFILE: 'dev', AIRLOCK_TOKEN: 't' });
  });
});

describe('env files and sockets', () => {
  for (const [v, want] of [
    ['plain', "'plain'"],
    ["it's", "'it'\\''s'"],
    ['$HOME `x` "y"', `'$HOME \`x\` "y"'`],
    ['', "''"],
  ] as const) {
    it(`quotes ${JSON.stringify(v)} so a shell reads it back unchanged`, async () => {
      assert.equal(shellQuote(v), want);
      const { stdout } = await sh('/bin/sh', ['-c', `${envFileContent({ X: v })}printf %s "$X"`]);
      assert.equal(stdout, v);
    });
  }
  for (const [file, sock] of [
    [0o600, 0o600],
    [0o640, 0o660],
    [0o644, 0o666],
  ] as const) {
    it(`a ${file.toString(8)} token file means a ${sock.toString(8)} socket`, () => assert.equal(socketModeFor(file), sock));
  }
});

describe('runChild', () => {
  it("exits with the child's code", async () => {
    assert.equal(await runChild(process.execPath, ['-e', 'process.exit(7)'], process.env), 7);
  });
  it('reports a signal as 128 + its number', async () => {
    assert.equal(await runChild(process.execPath, ['-e', 'process.kill(process.pid, "SIGTERM")'], process.env), 143);
  });
  it('a command that does not exist is ERR_CHILD_START', async () => {
    await assert.rejects(runChild('airlock-no-such-command', [], process.env), (e: DeliveryError) => e.code === 'ERR_CHILD_START' && /not found on PATH/.test(e.message));
  });
});

describe('exec and agent sessions', () => {
  let dir: string;
  let sched: ManualScheduler;
  let server: FakeServer;
  let logs: string[];
  const base = () => ({
    serverUrl: 'http://127.0.0.1:1',
    attestation: joinCredential(CREDENTIAL),
    clock: sched.clock,
    scheduler: sched,
    logger: createLogger('debug', (l) => logs.push(l)),
    client: server,
    random: () => 0.5,
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-agent-'));
    sched = createManualScheduler(createManualClock(Date.UTC(2026, 11, 3)));
    server = fakeServer(() => sched.clock.now(), SAMPLE_PROFILE);
    logs = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exec hands the child the plan, with files in place, and removes its temporary directory after', async () => {
    let seen: { env: NodeJS.ProcessEnv; token: string } | undefined;
    const warnings: string[] = [];
    const code = await runExec({
      ...base(),
      command: 'task',
      args: [],
      baseEnv: { AWS_REGION: 'eu-west-1', AWS_PROFILE: 'dev', AIRLOCK_JOIN_CREDENTIAL: CREDENTIAL },
      warn: (l) => warnings.push(l),
      run: async (_c, _a, env) => {
        seen = { env, token: await readFile(env.AWS_WEB_IDENTITY_TOKEN_FILE!, 'utf8') };
        return 5;
      },
    });
    assert.equal(code, 5);
    assert.equal(seen!.env.AWS_ROLE_ARN, 'arn:aws:iam::123456789012:role/etl-reader');
    assert.equal(seen!.env.AWS_REGION, 'eu-west-1');
    assert.equal(seen!.env.AZURE_CLIENT_ID, 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
    assert.equal(seen!.env.AIRLOCK_JOIN_CREDENTIAL, undefined);
    assert.match(seen!.token, /\.sig\n$/);
    assert.equal(existsSync(seen!.env.AIRLOCK_TOKEN_DIR!), false, 'the temporary directory is gone');
    assert.deepEqual(warnings.length, 2);
    assert.match(warnings[0]!, /keeping AWS_REGION/);
    assert.match(warnings[1]!, /AWS_PROFILE is set and takes precedence .* --clean-env/);
    assert.ok(!logs.join('').includes(CREDENTIAL.slice(25)));
  });

  it('exec refuses a credential of another Deployment or component before running anything', async () => {
    for (const [expect, field] of [
      [{ deployment: 'other' }, '--deployment'],
      [{ component: 'scheduler' }, '--component'],
    ] as const) {
      let ran = false;
      await assert.rejects(
        runExec({ ...base(), dir, expect, command: 'x', args: [], warn: () => {}, run: async () => ((ran = true), 0) }),
        (e: DeliveryError) => e.code === 'ERR_WORKLOAD_MISMATCH' && e.field === field,
      );
      assert.equal(ran, false);
    }
    // The Deployment's id is as good as its name.
    assert.equal(await runExec({ ...base(), dir, expect: { deployment: SAMPLE_PROFILE.deployment.id, component: 'worker' }, command: 'x', args: [], warn: () => {}, run: async () => 0 }), 0);
  });

  it('exec fails fast (no child) when the first exchange is refused', async () => {
    server.failNext(1);
    let ran = false;
    await assert.rejects(runExec({ ...base(), dir, command: 'x', args: [], warn: () => {}, run: async () => ((ran = true), 0) }), (e: DeliveryError) => e.code === 'ERR_UNREACHABLE');
    assert.equal(ran, false);
  });

  it('when one first exchange fails, exec returns only after the others settled: no token is written after it is done', async () => {
    // AWS fails at once; Azure answers later. Before, exec rejected at once and the Azure token was
    // written afterwards, into a directory exec (or the caller) was already removing.
    const slow = {
      ...server,
      async exchange(endpoint: string, audiences: readonly string[]) {
        if (audiences[0] === 'sts.amazonaws.com') throw new DeliveryError('ERR_UNREACHABLE', 'cannot reach the token endpoint (ECONNREFUSED)');
        await new Promise((r) => setTimeout(r, 50));
        return server.exchange(endpoint, audiences);
      },
    };
    const azureToken = join(dir, 'tokens', 'azure', 'token');
    let existedAtRejection: boolean | undefined;
    await assert.rejects(
      runExec({ ...base(), client: slow, dir, command: 'x', args: [], warn: () => {}, run: async () => 0 }).catch(async (e: unknown) => {
        existedAtRejection = await stat(azureToken).then(() => true, () => false);
        throw e;
      }),
      (e: DeliveryError) => e.code === 'ERR_UNREACHABLE',
    );
    assert.equal(existedAtRejection, true, "the Azure exchange had settled (and written) before exec gave up");
    await rm(dir, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await stat(dir).then(() => true, () => false), false, 'nothing wrote into the directory after exec returned');
  });

  it('a profile without identity is ERR_NO_IDENTITY, with the reason', async () => {
    server = fakeServer(() => sched.clock.now(), { ...SAMPLE_PROFILE, clouds: [], identityReason: 'Deployment etl has no workload identity' });
    await assert.rejects(runExec({ ...base(), dir, command: 'x', args: [], warn: () => {}, run: async () => 0 }), (e: DeliveryError) => e.code === 'ERR_NO_IDENTITY' && /no workload identity.*--audience: vault\.example\.com/.test(e.message));
  });

  it('an audience the cluster does not allow is refused, naming the allowed ones', async () => {
    await assert.rejects(
      runExec({ ...base(), dir, extraAudiences: ['https://evil.example'], command: 'x', args: [], warn: () => {}, run: async () => 0 }),
      (e: DeliveryError) => e.code === 'ERR_VALIDATION' && e.field === '--audience' && /allowed: .*vault\.example\.com/.test(e.message),
    );
  });

  it('agent --once writes tokens, env and ready, and schedules nothing after', async () => {
    let printed = '';
    const controller = new AbortController();
    const a = await startAgent({ ...base(), dir, once: true, signal: controller.signal, printEnv: (c) => (printed = c) });
    await a.done;
    const env = await readFile(join(dir, 'env'), 'utf8');
    assert.equal(env, printed);
    assert.match(env, /^export AWS_ROLE_ARN='arn:aws:iam::123456789012:role\/etl-reader'$/m);
    assert.match(env, new RegExp(`^export AZURE_FEDERATED_TOKEN_FILE='${dir}/tokens/azure/token'$`, 'm'));
    const ready = JSON.parse(await readFile(join(dir, 'ready'), 'utf8'));
    assert.deepEqual(ready.audiences, ['sts.amazonaws.com', 'api://AzureADTokenExchange']);
    assert.equal(sched.pending(), 0);
  });

  it("agent --metrics-file keeps node_exporter's textfile current: token expiry per audience, exchanges, failures, and its own heartbeat", async () => {
    // node_exporter's textfile directory belongs to others: its mode is left alone.
    const textfileDir = join(dir, 'textfile');
    await mkdir(textfileDir);
    await chmod(textfileDir, 0o1777);
    const metricsFile = join(textfileDir, 'airlock.prom');
    const controller = new AbortController();
    const a = await startAgent({ ...base(), dir, metricsFile, signal: controller.signal });
    const read = async () => {
      const text = await readFile(metricsFile, 'utf8');
      return { text, value: (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]) };
    };
    let m = await read();
    assert.equal((await stat(metricsFile)).mode & 0o777, 0o644, 'counts and times only: readable by the node_exporter user');
    assert.equal(m.value('airlock_agent_info{deployment="etl",component="worker"}'), 1);
    assert.equal(m.value('airlock_agent_metrics_written_timestamp_seconds'), sched.clock.now() / 1000);
    for (const held of a.session.keeper.held()) {
      assert.equal(m.value(`airlock_agent_token_expiry_timestamp_seconds{audience="${held.audience}"}`), held.expiresAt / 1000);
      assert.equal(m.value(`airlock_agent_exchanges_total{audience="${held.audience}"}`), 1);
      assert.equal(m.value(`airlock_agent_exchange_failures_total{audience="${held.audience}"}`), 0);
    }
    assert.ok(!m.text.includes(a.session.keeper.held()[0]!.token), 'never a token');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    await sched.advance(15_000);
    m = await read();
    assert.equal(m.value('airlock_agent_metrics_written_timestamp_seconds'), sched.clock.now() / 1000, 'rewritten every 15 s');
    assert.equal((await stat(textfileDir)).mode & 0o7777, 0o1777);
    controller.abort();
    await a.done;
  });

  it('agent --metrics-file shows an agent that cannot get its first token: its heartbeat and failures, no expiry', async () => {
    const metricsFile = join(dir, 'airlock.prom');
    server.failNext(1000);
    const controller = new AbortController();
    const starting = startAgent({ ...base(), dir, metricsFile, signal: controller.signal });
    // The first attempt fails; the agent backs off and keeps its file current meanwhile.
    let text = '';
    for (let i = 0; i < 200 && !/failures_total\{audience="sts\.amazonaws\.com"\} [1-9]/.test(text); i++) {
      await sched.runNext();
      await new Promise((r) => setTimeout(r, 10));
      text = existsSync(metricsFile) ? await readFile(metricsFile, 'utf8') : '';
    }
    assert.match(text, /^airlock_agent_metrics_written_timestamp_seconds \d/m);
    assert.match(text, /^airlock_agent_exchange_failures_total\{audience="sts\.amazonaws\.com"\} [1-9]/m);
    assert.doesNotMatch(text, /^airlock_agent_token_expiry_timestamp_seconds/m);
    controller.abort();
    await (await starting).done;
  });

  it('agent with --file-mode 0644 makes files another user can read', async () => {
    const controller = new AbortController();
    await (await startAgent({ ...base(), dir, once: true, fileMode: 0o644, signal: controller.signal })).done;
    assert.equal((await stat(join(dir, 'tokens', 'aws', 'token'))).mode & 0o777, 0o644);
    assert.equal((await stat(join(dir, 'tokens', 'aws'))).mode & 0o777, 0o755);
    assert.equal((await stat(dir)).mode & 0o777, 0o755);
  });

  it('agent on a socket: tokens, env, health; 1,000 concurrent reads of a stale token cost one mint; stop removes the socket', async () => {
    const socketPath = join(dir, 'agent.sock');
    const controller = new AbortController();
    const a = await startAgent({ ...base(), dir, socketPath, signal: controller.signal });
    // 200 connections at a time: kernels with a small somaxconn (128 before Linux 5.4) refuse a
    // burst of 1,000 connects with EAGAIN; the other reads queue in the client, still all waiting.
    const pool = new Agent({ keepAlive: true, maxSockets: 200 });
    try {
    assert.equal((await stat(socketPath)).mode & 0o777, 0o600);
    const get = (path: string) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = request({ socketPath, path, agent: pool }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end();
      });
    const health = await get('/healthz');
    assert.equal(health.status, 200);
    assert.equal(JSON.stringify(health.body).includes('.sig'), false, 'health never carries a token');
    assert.equal((await get('/v1/env')).body.AWS_ROLE_ARN, 'arn:aws:iam::123456789012:role/etl-reader');
    const t = await get('/v1/token?audience=sts.amazonaws.com');
    assert.equal(t.status, 200);
    assert.match(t.body.access_token, /\.sig$/);
    assert.equal((await get('/v1/token?audience=nope')).body.error.code, 'ERR_VALIDATION');
    assert.equal((await get('/nothing')).status, 404);

    sched.clock.advance(3600_000); // everything expired, no refresh ran
    assert.equal((await get('/healthz')).status, 503);
    const before = a.session.keeper.stats().mints['sts.amazonaws.com']!;
    server.hold();
    const reads = Array.from({ length: 1000 }, () => get('/v1/token?audience=sts.amazonaws.com'));
    for (let i = 0; server.calls.length < 3 && i < 10_000; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50));
    server.release();
    const answers = await Promise.all(reads);
    assert.equal(new Set(answers.map((x) => x.body.access_token)).size, 1);
    assert.equal(a.session.keeper.stats().mints['sts.amazonaws.com']! - before, 1);
    } finally {
      server.release();
      pool.destroy();
      controller.abort();
      await a.done;
    }
    assert.equal(existsSync(socketPath), false);
    assert.equal(sched.pending(), 0);
  });
});
