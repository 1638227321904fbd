import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SandboxInfoSchema } from '../../src/delivery/sandbox-info.ts';
import { airlock } from '../helpers/cli.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

describe('airlock sandbox', () => {
  it('prints its info URL and how exec uses it, serves it, logs refused proxy requests on stderr, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-cli-sandbox-'));
    const child = spawn(process.execPath, [BIN, 'sandbox', '--port', '0', '--in-memory', '--data-dir', dir], { env: { PATH: process.env.PATH ?? '' }, cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const exited = once(child, 'exit');
    /** Waits for more output until `done()`; fails at once if the sandbox exits instead. */
    const until = async (done: () => boolean, stream: NodeJS.ReadableStream) => {
      while (!done()) {
        const more = await Promise.race([once(stream, 'data').then(() => true), exited.then(() => false)]);
        assert.ok(more, `the sandbox exited early: ${stderr}`);
      }
    };
    try {
      await until(() => /Or set a shell up by hand/.test(stdout), child.stdout);
      const infoUrl = /^ {2}info +(http:\/\/127\.0\.0\.1:\d+\/_sandbox\/info)$/m.exec(stdout)?.[1];
      assert.ok(infoUrl, stdout);
      const base = infoUrl.replace('/_sandbox/info', '');
      assert.match(stdout, new RegExp(`airlock exec --deployment <name> --component <component> --sandbox ${base} -- <command>`));
      assert.match(stdout, /AWS_ACCESS_KEY_ID=<12-digit account id> acts in that account/);
      const info = SandboxInfoSchema.parse(await (await fetch(infoUrl)).json());
      assert.equal(info.proxyUrl, base);

      const url = new URL(base);
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: url.hostname, port: Number(url.port) }, () => s.write('CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n'));
        let text = '';
        s.setEncoding('utf8').on('data', (c: string) => (text += c));
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 403 /);
      await until(() => stderr.includes('example.com:443'), child.stderr);
      const line = JSON.parse(stderr.split('\n').find((l) => l.includes('example.com:443'))!);
      assert.equal(line.level, 'warn');
      assert.match(line.msg, /^sandbox proxy: refused CONNECT/);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code] = await exited;
      rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, `exit code after SIGTERM (stderr: ${stderr})`);
    }
  });

  it('refuses a log level it does not know, with the flag and an example', async () => {
    const r = await airlock(['sandbox', '--port', '0', '--in-memory', '--log-level', 'loud'], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ERR_VALIDATION: --log-level must be one of fatal, error, warn, info, debug, trace, silent\n {2}field: --log-level\n {2}example: info/);
  });
});
