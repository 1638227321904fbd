import assert from 'node:assert/strict';
import { readFileSync, statSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { httpsJson } from '../helpers/https.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startSandbox } from '../../src/emulators/sandbox.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

const httpsJsonCa = (url: string, ca: string, method = 'GET', body?: unknown) => httpsJson(new Agent({ ca }), url, method, body);

describe('airlock sandbox', () => {
  it('binds to loopback only', async () => {
    await assert.rejects(startSandbox({ host: '0.0.0.0', port: 0, dataDir: mkdtempSync(join(tmpdir(), 'sb-')) }), { code: 'ERR_VALIDATION', field: 'host' });
  });

  it('serves AWS and GCP over http and Azure over https with a certificate clients can trust, and keeps configuration across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-'));
    const open: { close(): Promise<void> }[] = [];
    const start = async (o: Partial<Parameters<typeof startSandbox>[0]> = {}) => {
      const sb = await startSandbox({ port: 0, dataDir, ...o });
      open.push(sb);
      return sb;
    };
    try {
      let sb = await start();
      const ca = readFileSync(sb.certFile, 'utf8');
      assert.equal(sb.clientEnv.NODE_EXTRA_CA_CERTS, sb.certFile);
      assert.equal(sb.clientEnv.AWS_ENDPOINT_URL_STS, sb.awsUrl);

      // AWS answers in its XML wire format; GCP and Azure admin APIs take configuration.
      const aws = await fetch(sb.awsUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetCallerIdentity&Version=2011-06-15' });
      assert.equal(aws.status, 403);
      assert.match(await aws.text(), /<Code>MissingAuthenticationToken<\/Code>/);
      const project = await fetch(`${sb.gcpUrl}/_sandbox/gcp/projects`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ projectId: 'my-proj', projectNumber: '123456789012' }) });
      assert.equal(project.status, 201);
      const tenant = await httpsJsonCa(`${sb.azureUrl}/_sandbox/azure/tenants/${TENANT}`, ca, 'PUT', { displayName: 'Contoso' });
      assert.equal(tenant.status, 201, `a new tenant is created: ${JSON.stringify(tenant.body)}`);
      const discovery = await httpsJsonCa(`${sb.azureUrl}/${TENANT}/v2.0/.well-known/openid-configuration`, ca);
      assert.equal(discovery.status, 200);
      assert.equal(discovery.body.token_endpoint, `${sb.azureUrl}/${TENANT}/oauth2/v2.0/token`);
      await sb.close();
      open.pop();

      assert.equal(statSync(sb.stateFile!).mode & 0o777, 0o600);
      sb = await start();
      const again = await fetch(`${sb.gcpUrl}/_sandbox/gcp/projects/123456789012`);
      assert.equal(again.status, 200, 'the GCP project survived the restart');
      assert.equal((await again.json()).projectId, 'my-proj');
      assert.equal((await httpsJsonCa(`${sb.azureUrl}/${TENANT}/v2.0/.well-known/openid-configuration`, readFileSync(sb.certFile, 'utf8'))).status, 200, 'the tenant survived, and the certificate was reused');
      assert.equal(readFileSync(sb.certFile, 'utf8'), ca);
      await sb.close();

      const configFile = join(dataDir, 'config.json');
      writeFileSync(configFile, JSON.stringify({ gcp: { projects: [{ projectId: 'from-file', projectNumber: '222222222222' }] } }));
      const configured = await start({ inMemory: true, configFile });
      const fromFile = await fetch(`${configured.gcpUrl}/_sandbox/gcp/projects/from-file`);
      assert.equal((await fromFile.json()).projectNumber, '222222222222', '--config loads a configuration file');
      writeFileSync(configFile, JSON.stringify({ gpc: {} }));
      await assert.rejects(start({ inMemory: true, configFile }), { code: 'ERR_VALIDATION', field: 'configFile' });

      const fresh = await start({ inMemory: true });
      const gone = await fetch(`${fresh.gcpUrl}/_sandbox/gcp/projects/123456789012`);
      await gone.text();
      assert.equal(gone.status, 404, '--in-memory starts empty');
    } finally {
      await Promise.allSettled(open.map((x) => x.close()));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
