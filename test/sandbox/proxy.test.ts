/**
 * What `airlock exec --sandbox` relies on, against a real `startSandbox` on 127.0.0.1:
 *
 * - `GET /_sandbox/info` describes the sandbox (URLs, CA, proxy, AWS accounts);
 * - the CONNECT proxy on the http port tunnels login.microsoftonline.com:443 to the Azure
 *   emulator, so @azure/identity configured by environment alone — instance discovery left on —
 *   gets a token, and Google's STS, IAM Credentials and Cloud Resource Manager hosts to the GCP
 *   emulator; every other target is refused and logged;
 * - the emulators' unexpected failures (AWS and GCP, each forced) reach the sandbox's logger.
 *
 * The child processes install the same loopback guard as this process: a connection to anything
 * but 127.0.0.1 throws there and is reported back, so the run proves nothing left the machine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { SandboxInfoSchema } from '../../src/delivery/sandbox-info.ts';
import { GOOGLE_API_HOSTS } from '../../src/emulators/azure/certificate.ts';
import { startSandbox, type Sandbox } from '../../src/emulators/sandbox.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { httpsJson, iamCall } from '../e2e/helpers.ts';
import { guardLoopback } from '../helpers/loopback-guard.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';

const guard = guardLoopback();
after(() => {
  guard.restore();
  assert.deepEqual(guard.blocked, [], 'no connection left 127.0.0.1');
});

const run = promisify(execFile);
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SUBSCRIPTION = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
const CLIENT_ID = 'a2b3c4d5-0000-4000-8000-00000000c11e';
const PRINCIPAL_ID = 'e5f6a7b8-0000-4000-8000-0000000000b1';
const SUBJECT = 'system:serviceaccount:etl:writer';
const CHILD = join(import.meta.dirname, '..', 'fixtures', 'azure', 'credential-child.ts');
const identityPath = `/_sandbox/azure/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.ManagedIdentity/userAssignedIdentities/etl-writer`;

let dir: string;
let sandbox: Sandbox;
let issuer: TestIssuer;
let agent: Agent;
const logs: { level: string; msg: string; [k: string]: unknown }[] = [];
const logged = (msg: RegExp) => logs.filter((l) => msg.test(l.msg));
/**
 * The sandbox's clock, which a test can break for the length of one request: the GCP emulator's
 * configuration is validated whole when it loads (unlike AWS's trust policies, which a hand-edited
 * file can break), so its forced failure is a dependency that throws mid-exchange instead.
 */
let clockBroken = false;
const clock = {
  now: () => {
    if (clockBroken) throw new Error('sandbox clock failed (forced by the test)');
    return Date.now();
  },
};
const GCP_PROJECT_NUMBER = '498127360554';
const GCP_PROVIDER = `projects/${GCP_PROJECT_NUMBER}/locations/global/workloadIdentityPools/airlock/providers/airlock-k8s`;
const GCP_AUDIENCE = 'airlock-sandbox-test';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-sandbox-proxy-'));
  issuer = await startTestIssuer();
  // A hand-edited state file (as users keep them): one AWS role whose trust policy is not a policy.
  // The emulator accepts the file, and fails at the first exchange for that role: a 500 to log.
  // And a GCP provider trusting the test issuer, for the GCP failure below.
  const provider = issuer.issuer.replace(/^http:\/\//, '');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      aws: {
        version: 2,
        accounts: [
          {
            accountId: '123456789012',
            oidcProviders: [{ arn: `arn:aws:iam::123456789012:oidc-provider/${provider}`, url: provider, scheme: 'http', clientIds: ['sts.amazonaws.com'], thumbprints: [], createDate: '2026-01-01T00:00:00Z' }],
            roles: [
              { roleName: 'broken', roleId: 'AROAAAAAAAAAAAAAAAAAA', path: '/', arn: 'arn:aws:iam::123456789012:role/broken', assumeRolePolicyDocument: '{"Version":', maxSessionDuration: 3600, createDate: '2026-01-01T00:00:00Z' },
            ],
          },
        ],
      },
      gcp: {
        projects: [
          {
            projectId: 'airlock-sandbox',
            projectNumber: GCP_PROJECT_NUMBER,
            workloadIdentityPools: [
              { poolId: 'airlock', providers: [{ providerId: 'airlock-k8s', oidc: { issuerUri: issuer.issuer, allowedAudiences: [GCP_AUDIENCE] }, attributeMapping: { 'google.subject': 'assertion.sub' } }] },
            ],
          },
        ],
      },
    }),
  );
  sandbox = await startSandbox({
    port: 0,
    dataDir: join(dir, 'sandbox'),
    inMemory: true,
    configFile: join(dir, 'config.json'),
    clock,
    logger: createLogger('debug', (line) => logs.push(JSON.parse(line))),
  });
  agent = new Agent({ ca: readFileSync(sandbox.certFile, 'utf8') });
  const admin = async (path: string, body: unknown) => {
    const r = await httpsJson(agent, `${sandbox.azureUrl}${path}`, 'PUT', body);
    assert.ok(r.status === 200 || r.status === 201, `${path}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  await admin(`/_sandbox/azure/tenants/${TENANT}`, { displayName: 'Contoso' });
  await admin(identityPath, { tenantId: TENANT, clientId: CLIENT_ID, principalId: PRINCIPAL_ID, location: 'westeurope' });
  await admin(`${identityPath}/federatedIdentityCredentials/etl-writer`, { issuer: issuer.issuer, subject: SUBJECT, audiences: ['api://AzureADTokenExchange'] });
});

after(async () => {
  agent?.destroy();
  await sandbox?.close();
  await issuer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Sends raw bytes to the sandbox's http port; resolves with everything it answered before closing. */
function rawExchange(request: string): Promise<string> {
  const url = new URL(sandbox.proxyUrl);
  return new Promise((resolve, reject) => {
    const s = connect({ host: url.hostname, port: Number(url.port) }, () => s.write(request));
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

/** @azure/identity in a child process configured by `env` alone. */
async function childCredential(kind: 'workload' | 'default', env: Record<string, string>): Promise<{ ok: boolean; token?: string; message?: string; blocked: string[] }> {
  const tokenFile = join(dir, `token-${kind}`);
  writeFileSync(tokenFile, await issuer.sign({ sub: SUBJECT, aud: 'api://AzureADTokenExchange' }), { mode: 0o600 });
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, kind], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      AZURE_CLIENT_ID: CLIENT_ID,
      AZURE_TENANT_ID: TENANT,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_AUTHORITY_HOST: sandbox.azureUrl,
      NODE_EXTRA_CA_CERTS: sandbox.certFile,
      ...env,
    },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('GET /_sandbox/info', () => {
  it('tells a client every URL, the CA, the proxy and the AWS accounts with state', async () => {
    const res = await fetch(sandbox.infoUrl);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const info = SandboxInfoSchema.parse(await res.json());
    assert.deepEqual(
      { ...info, caCertPem: undefined },
      { awsUrl: sandbox.awsUrl, gcpUrl: sandbox.gcpUrl, azureUrl: sandbox.azureUrl, proxyUrl: sandbox.proxyUrl, caCertPem: undefined, defaultAccountId: '000000000000', accounts: ['123456789012'] },
    );
    assert.equal(info.caCertPem, readFileSync(sandbox.certFile, 'utf8'));
    assert.equal(sandbox.infoUrl, `${sandbox.awsUrl}/_sandbox/info`);
  });
});

describe('the HTTPS proxy', () => {
  it('lets @azure/identity, configured by environment alone, pass instance discovery and get a token', async () => {
    for (const kind of ['workload', 'default'] as const) {
      const before = logged(/^sandbox proxy: tunnel opened$/).length;
      const r = await childCredential(kind, { HTTPS_PROXY: sandbox.proxyUrl, NO_PROXY: '127.0.0.1,localhost,::1' });
      assert.deepEqual(r.blocked, [], `${kind}: nothing left 127.0.0.1`);
      assert.equal(r.ok, true, `${kind}: ${r.message}`);
      const claims = decodeJwt(r.token!);
      assert.equal(claims.iss, `${sandbox.azureUrl}/${TENANT}/v2.0`, kind);
      assert.equal(claims.appid, CLIENT_ID, kind);
      assert.equal(claims.oid, PRINCIPAL_ID, kind);
      const me = await httpsJson(agent, `${sandbox.azureUrl}/_sandbox/azure/whoami`, 'GET', undefined, { authorization: `Bearer ${r.token}` });
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.clientId, CLIENT_ID);
      const tunnels = logged(/^sandbox proxy: tunnel opened$/).slice(before);
      assert.ok(tunnels.length >= 1, `${kind}: MSAL's instance discovery went through the proxy`);
      assert.ok(tunnels.every((t) => t.target === 'login.microsoftonline.com:443'));
    }
  });

  it('is what makes it work: without it MSAL cannot reach login.microsoftonline.com and refuses the authority', async () => {
    const r = await childCredential('workload', {});
    assert.equal(r.ok, false);
    // MSAL's untrusted_authority, as @azure/identity reports it.
    assert.match(r.message!, /^endpoints_resolution_error: Endpoints cannot be resolved/);
    assert.deepEqual(r.blocked, ['login.microsoftonline.com'], 'the one call it tried was refused by the guard, not sent');
  });

  /** One request to `host` through a CONNECT tunnel, over TLS that trusts only the sandbox certificate (and checks `host`). */
  const throughTunnel = (host: string, request: string) =>
    new Promise<string>((resolve, reject) => {
      const url = new URL(sandbox.proxyUrl);
      const raw = connect({ host: url.hostname, port: Number(url.port) }, () => raw.write(`CONNECT ${host}:443 HTTP/1.1\r\nhost: ${host}:443\r\n\r\n`));
      raw.once('data', (head) => {
        assert.match(String(head), /^HTTP\/1\.1 200 /);
        const tls = tlsConnect({ socket: raw, servername: host, ca: readFileSync(sandbox.certFile, 'utf8') }, () => tls.write(request));
        let text = '';
        tls.setEncoding('utf8');
        tls.on('data', (c) => (text += c));
        tls.on('end', () => resolve(text));
        tls.on('error', reject);
      });
      raw.on('error', reject);
    });

  for (const host of GOOGLE_API_HOSTS) {
    it(`tunnels ${host}:443 to the GCP emulator (Google's libraries call it at a fixed URL)`, async () => {
      const answer = await throughTunnel(host, `GET /v1/projects/498127360554 HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 401 /, answer);
      assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.status, 'UNAUTHENTICATED', answer);
      assert.ok(logged(/^sandbox proxy: tunnel opened$/).some((t) => t.target === `${host}:443`));
    });
  }

  it('answers instance discovery through the tunnel for the sandbox authority (the loopback-port rule)', async () => {
    const authority = `${sandbox.azureUrl}/${TENANT}/oauth2/v2.0/authorize`;
    const body = await throughTunnel(
      'login.microsoftonline.com',
      `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(authority)} HTTP/1.1\r\nhost: login.microsoftonline.com\r\nconnection: close\r\n\r\n`,
    );
    const json = JSON.parse(body.slice(body.indexOf('\r\n\r\n') + 4));
    const host = new URL(sandbox.azureUrl).host;
    assert.deepEqual(json.metadata, [{ preferred_network: host, preferred_cache: host, aliases: [host] }]);
    assert.equal(json.tenant_discovery_endpoint, `${sandbox.azureUrl}/${TENANT}/v2.0/.well-known/openid-configuration`);
  });

  const refused: { name: string; request: string; status: number; target: string }[] = [
    { name: 'any other host', request: 'CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n', status: 403, target: 'example.com:443' },
    { name: 'a cloud endpoint the sandbox does not tunnel', request: 'CONNECT sts.amazonaws.com:443 HTTP/1.1\r\nhost: sts.amazonaws.com:443\r\n\r\n', status: 403, target: 'sts.amazonaws.com:443' },
    { name: 'the right host on another port', request: 'CONNECT login.microsoftonline.com:80 HTTP/1.1\r\nhost: login.microsoftonline.com:80\r\n\r\n', status: 403, target: 'login.microsoftonline.com:80' },
    { name: 'a loopback port (no reaching the machine’s other services either)', request: 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nhost: 127.0.0.1:22\r\n\r\n', status: 403, target: '127.0.0.1:22' },
    { name: 'a target without a port', request: 'CONNECT login.microsoftonline.com HTTP/1.1\r\nhost: login.microsoftonline.com\r\n\r\n', status: 400, target: 'login.microsoftonline.com' },
    { name: 'plain-http proxying', request: 'GET http://example.com/ HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n', status: 403, target: 'http://example.com/' },
  ];
  for (const r of refused) {
    it(`refuses ${r.name} (${r.status}) and logs it`, async () => {
      const answer = await rawExchange(r.request);
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${r.status} `), answer);
      assert.match(answer, /airlock sandbox proxy: /);
      const line = logs.find((l) => l.level === 'warn' && /^sandbox proxy: refused/.test(l.msg) && l.target === r.target);
      assert.ok(line, `a warning names ${r.target}; saw ${JSON.stringify(logs.filter((l) => l.level === 'warn'))}`);
    });
  }
});

describe('sandbox logging', () => {
  it("logs an AWS emulator failure (here: a hand-edited role whose trust policy is not JSON) with its cause, and not the token", async () => {
    const token = await issuer.sign({ sub: 'system:serviceaccount:etl:reader', aud: 'sts.amazonaws.com' });
    const body = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: 'arn:aws:iam::123456789012:role/broken', RoleSessionName: 'x1', WebIdentityToken: token });
    const res = await fetch(sandbox.awsUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const xml = await res.text();
    assert.equal(res.status, 500, xml);
    assert.match(xml, /<Code>InternalFailure<\/Code>/);
    const requestId = res.headers.get('x-amzn-requestid');
    const line = logs.find((l) => l.msg === 'aws sandbox: unexpected failure' && l.requestId === requestId);
    assert.ok(line, `logged; saw ${JSON.stringify(logs.filter((l) => l.level === 'error'))}`);
    assert.equal(line.level, 'error');
    assert.equal(line.method, 'POST');
    assert.match(JSON.stringify(line.err), /not valid JSON/);
    assert.ok(!JSON.stringify(logs).includes(token), 'the web identity token is never logged');
  });

  it('logs a GCP emulator failure (here: the clock throws mid-exchange) with its cause, and not the token', async () => {
    const token = await issuer.sign({ sub: 'system:serviceaccount:etl:reader', aud: GCP_AUDIENCE });
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience: `//iam.googleapis.com/${GCP_PROVIDER}`,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      subject_token: token,
    });
    const before = logs.length;
    clockBroken = true;
    let res: Response;
    try {
      res = await fetch(`${sandbox.gcpUrl}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    } finally {
      clockBroken = false;
    }
    const body = await res.text();
    assert.equal(res.status, 500, body);
    assert.deepEqual(JSON.parse(body), { error: 'server_error', error_description: 'Internal error.' });
    const fresh = logs.slice(before);
    const line = fresh.find((l) => l.msg === 'gcp sandbox: token exchange failed');
    assert.ok(line, `logged; saw ${JSON.stringify(fresh)}`);
    assert.equal(line.level, 'error');
    assert.equal(line.method, 'POST');
    assert.equal(line.url, '/v1/token');
    assert.match(JSON.stringify(line.err), /sandbox clock failed \(forced by the test\)/);
    assert.ok(!JSON.stringify(logs).includes(token), 'the subject token is never logged');
    // With the clock back, the same exchange succeeds: the 500 was the forced failure, not the setup.
    const ok = await fetch(`${sandbox.gcpUrl}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    assert.equal(ok.status, 200, await ok.text());
  });

  it('names the AWS accounts IAM state was created in, through the real signing path', async () => {
    const r = await iamCall(sandbox.awsUrl, { Action: 'ListRoles' });
    assert.equal(r.status, 200, r.xml);
    const info = SandboxInfoSchema.parse(await (await fetch(sandbox.infoUrl)).json());
    assert.deepEqual(info.accounts, ['123456789012'], 'reading in the default account creates nothing');
  });
});
