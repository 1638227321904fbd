import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createManualScheduler, type ManualScheduler } from '../../src/lib/scheduler.ts';
import { DeliveryError } from '../../src/delivery/errors.ts';
import { dirModeFor, writePrivateFile } from '../../src/delivery/agent/files.ts';
import { fakeJwt, fakeServer, type FakeServer } from '../helpers/fake-workload-server.ts';
import { createTokenKeeper, REFRESH_AT_MAX, REFRESH_AT_MIN, RETRY_BASE_MS, RETRY_MAX_MS, type TokenKeeper } from '../../src/delivery/agent/keeper.ts';

const HOUR = 3600_000;

describe('token keeper', () => {
  let dir: string;
  let sched: ManualScheduler;
  let server: FakeServer;
  let logs: Record<string, unknown>[];
  let keeper: TokenKeeper | undefined;
  const tokens = () => [
    { audience: 'sts.amazonaws.com', path: join(dir, 'tokens', 'aws', 'token'), cloud: 'aws' as const },
    { audience: 'api://AzureADTokenExchange', path: join(dir, 'tokens', 'azure', 'token'), cloud: 'azure' as const },
  ];
  const make = (random: () => number = () => 0.5, files = tokens()) => {
    keeper = createTokenKeeper({
      client: server,
      tokenEndpoint: 'http://127.0.0.1:1/clusters/c/token',
      tokens: files,
      clock: sched.clock,
      scheduler: sched,
      logger: createLogger('debug', (l) => logs.push(JSON.parse(l))),
      random,
    });
    return keeper;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-keeper-'));
    sched = createManualScheduler(createManualClock(Date.UTC(2026, 11, 3)));
    server = fakeServer(() => sched.clock.now());
    logs = [];
  });
  afterEach(async () => {
    keeper?.stop();
    keeper = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('start mints one token per audience, writes each to its file (0600, dir 0700) and schedules one refresh each', async () => {
    const k = make();
    await k.start();
    assert.deepEqual(server.calls, [['sts.amazonaws.com'], ['api://AzureADTokenExchange']]);
    for (const t of tokens()) {
      const content = await readFile(t.path, 'utf8');
      assert.match(content, /^[\w-]+\.[\w-]+\.sig\n$/);
      assert.equal((await stat(t.path)).mode & 0o777, 0o600);
      assert.equal((await stat(join(t.path, '..'))).mode & 0o777, 0o700);
    }
    assert.equal(sched.pending(), 2);
    assert.deepEqual(k.stats(), { mints: { 'sts.amazonaws.com': 1, 'api://AzureADTokenExchange': 1 }, failures: { 'sts.amazonaws.com': 0, 'api://AzureADTokenExchange': 0 } });
  });

  for (const [name, r, fraction] of [
    ['earliest', 0, REFRESH_AT_MIN],
    ['middle', 0.5, (REFRESH_AT_MIN + REFRESH_AT_MAX) / 2],
    ['latest', 0.999999, REFRESH_AT_MAX],
  ] as const) {
    it(`refreshes inside 50-80 % of the lifetime (${name} draw)`, async () => {
      const k = make(() => r);
      const t0 = sched.clock.now();
      await k.start();
      const due = sched.nextDue()!;
      assert.ok(Math.abs(due - t0 - fraction * HOUR) < 10, `due at ${(due - t0) / HOUR} of the lifetime, want ${fraction}`);
      assert.ok(due - t0 >= REFRESH_AT_MIN * HOUR && due - t0 <= REFRESH_AT_MAX * HOUR);
    });
  }

  it('keeps rewriting the file across many refresh windows, never leaving an expired token in place', async () => {
    const k = make(() => Math.random());
    await k.start();
    const path = tokens()[0]!.path;
    let last = await readFile(path, 'utf8');
    for (let i = 0; i < 20; i++) {
      await sched.advance(HOUR / 4);
      const content = await readFile(path, 'utf8');
      const exp = (JSON.parse(Buffer.from(content.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;
      assert.ok(exp > sched.clock.now(), `the file's token expired at step ${i}`);
      if (content !== last) last = content;
    }
    // 5 hours at one refresh per 0.5-0.8 h: between 6 and 10 more mints per audience.
    const mints = k.stats().mints['sts.amazonaws.com']!;
    assert.ok(mints >= 7 && mints <= 11, `mints ${mints}`);
  });

  it('1,000 concurrent readers of a stale audience cost exactly one mint, and all get the same token', async () => {
    const k = make();
    await k.start();
    sched.clock.advance(HOUR); // past expiry, nothing ran: the next read must mint
    server.hold();
    const reads = Array.from({ length: 1000 }, () => k.token('sts.amazonaws.com'));
    await new Promise((r) => setImmediate(r));
    server.release();
    const got = await Promise.all(reads);
    assert.equal(new Set(got.map((g) => g.token)).size, 1);
    assert.equal(k.stats().mints['sts.amazonaws.com'], 2);
    // A fresh token is served from memory.
    await k.token('sts.amazonaws.com');
    assert.equal(k.stats().mints['sts.amazonaws.com'], 2);
  });

  it('a token within its stale margin (min(60 s, 10 %)) is refreshed on read, not handed out', async () => {
    const k = make();
    await k.start();
    const first = await k.token('sts.amazonaws.com');
    sched.clock.advance(HOUR - 61_000);
    assert.equal((await k.token('sts.amazonaws.com')).token, first.token);
    sched.clock.advance(2_000);
    assert.notEqual((await k.token('sts.amazonaws.com')).token, first.token);
  });

  it('an expiry in the JWT earlier than expires_in wins', async () => {
    const k = make();
    server.exchange = async (_e, audiences) => ({
      access_token: fakeJwt(audiences[0]!, 1, Math.floor(sched.clock.now() / 1000) + 600),
      issued_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_type: 'N_A',
      expires_in: 3600,
    });
    await k.start();
    assert.equal(k.held()[0]!.expiresAt - sched.clock.now(), 600_000);
  });

  it('failures back off exponentially with equal jitter up to 60 s, keep the last good file, and recover', async () => {
    const k = make(() => 0, tokens().slice(0, 1)); // jitter at its floor: exactly half the ceiling
    await k.start();
    const path = tokens()[0]!.path;
    const good = await readFile(path, 'utf8');
    server.failNext(10);
    await sched.runNext(); // the scheduled refresh: fails
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      delays.push(sched.nextDue()! - sched.clock.now());
      await sched.runNext(); // each retry fails too (10 in all)
    }
    const want = [1, 2, 4, 8, 16, 32, 60, 60, 60].map((s) => (s * 1000) / 2);
    assert.deepEqual(delays, want);
    assert.ok(delays.every((d) => d <= RETRY_MAX_MS));
    assert.equal(await readFile(path, 'utf8'), good, 'the last good token stays while refreshes fail');
    assert.ok(logs.some((l) => l.msg === 'token refresh failed' && l.code === 'ERR_UNREACHABLE' && typeof l.retryInMs === 'number'));
    assert.ok(!JSON.stringify(logs).includes(good.trim()), 'no token in the logs');
    assert.equal(k.stats().failures['sts.amazonaws.com'], 10);
    await sched.runNext(); // the eleventh attempt succeeds
    assert.notEqual(await readFile(path, 'utf8'), good, 'recovered after the failures');
    assert.equal(k.stats().mints['sts.amazonaws.com'], 12);
    assert.ok(RETRY_BASE_MS === 1000);
  });

  it('start rejects on the first refusal; startPatiently retries until the server answers', async () => {
    server.failNext(1);
    await assert.rejects(make().start(), (e: DeliveryError) => e.code === 'ERR_UNREACHABLE');
    keeper!.stop();
    server.failNext(3);
    const k = make(() => 0);
    let done = false;
    const p = k.startPatiently().then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    await sched.advance(60_000);
    await p;
    assert.equal(k.held().length, 2);
  });

  it('refuses an audience it keeps no token for, naming one it does', async () => {
    const k = make();
    await assert.rejects(k.token('https://evil.example'), (e: DeliveryError) => e.code === 'ERR_VALIDATION' && e.field === 'audience' && e.example === 'sts.amazonaws.com');
  });

  it('stop cancels every refresh', async () => {
    const k = make();
    await k.start();
    k.stop();
    assert.equal(sched.pending(), 0);
    await sched.advance(10 * HOUR);
    assert.equal(server.calls.length, 2);
  });
});

describe('private files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-files-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const [file, want] of [
    [0o600, 0o700],
    [0o640, 0o750],
    [0o644, 0o755],
    [0o400, 0o700],
  ] as const) {
    it(`a ${file.toString(8)} file lives in a ${want.toString(8)} directory`, async () => {
      assert.equal(dirModeFor(file), want);
      const p = join(dir, 'a', 'b', 'token');
      await writePrivateFile(p, 'x', file);
      assert.equal((await stat(p)).mode & 0o777, file);
      assert.equal((await stat(join(dir, 'a', 'b'))).mode & 0o777, want);
    });
  }

  it('replaces atomically and leaves no temporary file behind', async () => {
    const p = join(dir, 'token');
    await writePrivateFile(p, 'one');
    await Promise.all(Array.from({ length: 50 }, (_, i) => writePrivateFile(p, `value-${i}`)));
    assert.match(await readFile(p, 'utf8'), /^value-\d+$/);
    assert.deepEqual(await readdir(dir), ['token']);
  });

  it('replaces a symlink planted at the path instead of writing through it', async () => {
    const target = join(dir, 'elsewhere');
    await writeFile(target, 'precious');
    const p = join(dir, 'token');
    await symlink(target, p);
    await writePrivateFile(p, 'token');
    assert.equal(await readFile(target, 'utf8'), 'precious');
    assert.equal(await readFile(p, 'utf8'), 'token');
  });
});
