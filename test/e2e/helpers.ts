/**
 * Shared plumbing for the end-to-end tests: a loopback-only socket guard, a SigV4-signed IAM
 * query-API client, an https JSON client that trusts only the sandbox certificate, and a POSIX
 * shell word splitter so the commands a setup prints can be applied mechanically (what a user's
 * shell would pass to gcloud / az), never re-typed by hand in a test.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/** Strips every variable through which the clouds' SDKs could find real credentials or endpoints. */
export function scrubCloudEnvironment(scratchDir: string): void {
  for (const k of Object.keys(process.env)) {
    if (/^(AWS_|GOOGLE_|GCE_|GCLOUD_|CLOUDSDK_|METADATA_SERVER|AZURE_|IDENTITY_|MSI_ENDPOINT)/i.test(k)) delete process.env[k];
  }
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_CONFIG_FILE = `${scratchDir}/no-such-aws-config`;
  process.env.AWS_SHARED_CREDENTIALS_FILE = `${scratchDir}/no-such-aws-credentials`;
}

export { guardLoopback } from '../helpers/loopback-guard.ts';

/**
 * The environment a workload child starts from: nothing of this machine's cloud setup. PATH holds
 * the Python and Node in use, HOME is a scratch directory, cloud config files do not exist,
 * metadata servers are off, and every proxy variable names the sandbox's proxy, which refuses (and
 * logs) any host beyond 127.0.0.1 — a tripwire for the clients that honour proxy variables.
 */
export function bareChildEnv(o: { home: string; python: string; sandboxProxy: string }): Record<string, string> {
  mkdirSync(o.home, { recursive: true });
  return {
    PATH: [dirname(o.python), dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: o.home,
    AWS_CONFIG_FILE: join(o.home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(o.home, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_GCE_CHECK: 'True',
    METADATA_SERVER_DETECTION: 'none',
    HTTPS_PROXY: o.sandboxProxy,
    https_proxy: o.sandboxProxy,
    HTTP_PROXY: o.sandboxProxy,
    http_proxy: o.sandboxProxy,
    NO_PROXY: '127.0.0.1,localhost,::1',
    no_proxy: '127.0.0.1,localhost,::1',
  };
}

// ---------------------------------------------------------------------------------------------
// AWS
// ---------------------------------------------------------------------------------------------

/** The sandbox's administrator key (any secret): the account root for IAM calls. */
export const AWS_SANDBOX_ADMIN = { accessKeyId: 'AKIASANDBOX', secretAccessKey: 'anything-goes' };
export const AWS_REGION = 'us-east-1';

export interface IamResult {
  status: number;
  xml: string;
  code: string | undefined;
}

/** The first `<name>` element's text. */
export function xmlTag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

/**
 * A signed IAM query-API call, as the aws CLI makes it (form body, SigV4 for service "iam"); as
 * the sandbox's administrator unless `credentials` say otherwise (a 12-digit key id acts in that account).
 */
export async function iamCall(endpoint: string, params: Record<string, string>, credentials = AWS_SANDBOX_ADMIN): Promise<IamResult> {
  const url = new URL(endpoint);
  const body = new URLSearchParams({ Version: '2010-05-08', ...params }).toString();
  const signer = new SignatureV4({ credentials, region: AWS_REGION, service: 'iam', sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const res = await fetch(url, { method: 'POST', headers: signed.headers, body });
  const xml = await res.text();
  return { status: res.status, xml, code: xmlTag(xml, 'Code') };
}

/** `arn:aws:iam::<acct>:role/<path/>name` → the CreateRole parameters IAM takes. */
export function roleNameAndPath(roleArn: string): { RoleName: string; Path: string } {
  const m = /^arn:[a-z-]+:iam::\d{12}:role(\/(?:.*\/)?)([^/]+)$/.exec(roleArn);
  assert.ok(m, `not a role ARN: ${roleArn}`);
  return { RoleName: m[2]!, Path: m[1]! };
}

// ---------------------------------------------------------------------------------------------
// Azure (https with the sandbox's self-signed certificate)
// ---------------------------------------------------------------------------------------------

/** A JSON call over TLS that trusts only the given agent's CA (the sandbox certificate). */
export { httpsJson } from '../helpers/https.ts';

// ---------------------------------------------------------------------------------------------
// Shell commands as printed by setup
// ---------------------------------------------------------------------------------------------

/**
 * Splits a POSIX shell command into the argument words the program receives: quotes removed,
 * backslash-newline continuations joined. Operators (`||`, `>/dev/null`, `2>&1`) come back as
 * plain words, which is enough to cut a command list apart. Parameter expansion is not
 * performed: `${NAME}` stays in the word as text (see {@link commandsStartingWith}).
 */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const add = (s: string) => (word = (word ?? '') + s);
  while (i < command.length) {
    const c = command[i]!;
    if (c === '\\' && command[i + 1] === '\n') {
      i += 2;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated single quote in: ${command}`);
      add(command.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      add('');
      i++;
      while (command[i] !== '"') {
        assert.ok(i < command.length, `unterminated double quote in: ${command}`);
        const d = command[i]!;
        if (d === '\\' && '$`"\\\n'.includes(command[i + 1]!)) {
          if (command[i + 1] !== '\n') add(command[i + 1]!);
          i += 2;
        } else {
          add(d);
          i++;
        }
      }
      i++;
    } else if (c === '\\') {
      add(command[i + 1] ?? '');
      i += 2;
    } else {
      add(c);
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The command a `describe … >/dev/null 2>&1 || create …` line runs when the resource is missing
 * (the last `||` branch); the whole command otherwise.
 */
export function lastBranch(words: string[]): string[] {
  const at = words.lastIndexOf('||');
  return at < 0 ? words : words.slice(at + 1);
}

/** The value of `--name=value` or `--name value`; undefined when absent, an error when repeated. */
export function flag(words: string[], name: string): string | undefined {
  const found: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith(`--${name}=`)) found.push(w.slice(name.length + 3));
    else if (w === `--${name}`) found.push(words[i + 1]!);
  }
  assert.ok(found.length <= 1, `--${name} given ${found.length} times in: ${words.join(' ')}`);
  return found[0];
}

/** Every command of every step of a setup, split into words. */
export function setupCommands(setup: { steps: { commands: string[] }[] }): string[][] {
  return setup.steps.flatMap((s) => s.commands.map(shellWords));
}

/**
 * The commands whose leading words are `prefix` (after the `||` of an ensure-pattern line). They
 * are about to be applied, so none may still hold a `${PLACEHOLDER}` or other expansion.
 */
export function commandsStartingWith(setup: { steps: { commands: string[] }[] }, ...prefix: string[]): string[][] {
  const found = setupCommands(setup)
    .map(lastBranch)
    .filter((w) => prefix.every((p, i) => w[i] === p));
  for (const w of found) assert.ok(!w.some((x) => /[$`]/.test(x)), `an unfilled placeholder or expansion in: ${w.join(' ')}`);
  return found;
}
