import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { guardLoopback } from './loopback-guard.ts';

/**
 * Keeps the real AWS SDK to what a test file gives it: nothing from the developer's environment
 * (every `AWS_*` removed), no instance metadata service, no config or credentials files; and every
 * connection on 127.0.0.1 (one the SDK swallowed still fails the file). The SDK reads the
 * environment when clients and providers run, not when its modules load, so calling this at the
 * top of the file is early enough. Returns a scratch directory, removed after the file's tests.
 */
export function isolateAwsSdk(prefix: string): string {
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_CONFIG_FILE = join(scratch, 'no-such-config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(scratch, 'no-such-credentials');
  const guard = guardLoopback();
  after(() => {
    guard.restore();
    rmSync(scratch, { recursive: true, force: true });
    assert.deepEqual(guard.blocked, [], 'no connection left 127.0.0.1');
  });
  return scratch;
}
