/**
 * Crash safety of the embedded store: a server killed with SIGKILL in the middle of writing loses
 * nothing it had acknowledged, and a key rotation (new key + previous key revoked, one
 * transaction) is found whole or not at all. The data-directory lock left behind by the killed
 * process does not stop the next start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createStore } from '../../src/store/store.ts';

const CHILD = join(import.meta.dirname, 'crash-child.ts');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Runs the child until it has acknowledged `acks` writes, then SIGKILLs it (it is writing the next
 * ones at that moment) and returns every acknowledged line, in order.
 */
async function runAndKill(dataDir: string, mode: string, acks: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: string[] = [];
  let stderr = '';
  let buf = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l.startsWith('ack ')) seen.push(l.slice(4));
    if (seen.length >= acks && child.exitCode === null) child.kill('SIGKILL');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const { signal, code } = await exited;
  clearTimeout(timer);
  assert.equal(signal, 'SIGKILL', `the child should have been killed mid-write; it exited with ${code}. stderr:\n${stderr}`);
  assert.ok(seen.length >= acks, `the child acknowledged only ${seen.length} of ${acks} writes before dying. stderr:\n${stderr}`);
  return seen;
}

describe('embedded store: crash safety (SIGKILL)', { timeout: 300_000 }, () => {
  test('every acknowledged write is there after a kill -9 mid-write, and the stale lock is taken over', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-crash-'));
    dirs.push(dataDir);
    const acked = await runAndKill(dataDir, 'writes', 300);
    assert.ok(existsSync(join(dataDir, 'airlock.lock')), 'the killed process leaves its lock file behind (this is what the test takes over)');
    const store = await createStore({ dataDir });
    try {
      const missing: string[] = [];
      for (const i of acked) {
        const v = await store.settings.get<{ i: number }>(`crash.${i}`);
        if (v?.i !== Number(i)) missing.push(`${i} → ${JSON.stringify(v)}`);
      }
      assert.deepEqual(missing, [], `acknowledged writes lost or wrong after the crash (${acked.length} acknowledged)`);
    } finally {
      await store.close();
    }
    assert.equal(existsSync(join(dataDir, 'airlock.lock')), false, 'close() releases the lock it took over');
  });

  test('a key rotation killed mid-way is whole or absent: every acknowledged key is there, exactly one key is live', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-crash-'));
    dirs.push(dataDir);
    const acked = await runAndKill(dataDir, 'rotation', 6);
    const clusterId = acked[0]!.replace(/^cluster /, '');
    const kids = acked.slice(1).map((l) => l.replace(/^kid /, ''));
    assert.ok(existsSync(join(dataDir, 'master.key')), 'the child created its master key in the data dir');
    const store = await createStore({ dataDir });
    try {
      const keys = await store.signingKeys.listForCluster(clusterId);
      const stored = new Set(keys.map((k) => k.kid));
      assert.deepEqual(kids.filter((k) => !stored.has(k)), [], `acknowledged rotations lost; stored: ${[...stored].join(', ')}`);
      // Each rotation revokes the key before it in the same transaction: a torn rotation would
      // leave two live keys (or none).
      const live = keys.filter((k) => k.revokedAt === null).map((k) => k.kid);
      assert.equal(live.length, 1, `live keys after the crash: ${JSON.stringify(live)} (of ${keys.length})`);
      // The live key is the last acknowledged one, or the one rotation in flight that committed
      // before the kill landed.
      const last = kids[kids.length - 1]!;
      assert.ok(live[0] === last || !kids.includes(live[0]!), `live key ${live[0]} is an older acknowledged key; newest acknowledged: ${last}`);
      assert.ok(readFileSync(join(dataDir, 'master.key')).length > 0);
    } finally {
      await store.close();
    }
  });
});
