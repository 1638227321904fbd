/**
 * A stand-in for the Airlock server's workload API, for tests of the agent's own logic (refresh
 * timing, backoff, single flight) where a real server would only add noise. The real server is
 * exercised end to end in test/delivery/exec-sandbox.test.ts.
 */
import type { WorkloadClient } from '../../src/delivery/client.ts';
import { DeliveryError } from '../../src/delivery/errors.ts';
import type { TokenResponse, WorkloadProfile } from '../../src/delivery/profile.ts';

/** A JWT-shaped token (unsigned: the keeper only reads `exp`) naming the audience and a serial. */
export function fakeJwt(aud: string, n: number, expSeconds: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part({ aud, n, exp: expSeconds })}.sig`;
}

export interface FakeServer extends WorkloadClient {
  calls: string[][];
  /** Fail the next `n` exchanges. */
  failNext(n: number): void;
  /** expires_in of the following answers. */
  ttlSeconds: number;
  /** Hold answers until release() (to pile up concurrent callers). */
  hold(): void;
  release(): void;
}

export function fakeServer(now: () => number, profile?: WorkloadProfile): FakeServer {
  let failures = 0;
  let held: (() => void)[] | undefined;
  const s: FakeServer = {
    serverUrl: 'http://127.0.0.1:1',
    calls: [],
    ttlSeconds: 3600,
    failNext: (n) => void (failures = n),
    hold: () => void (held = []),
    release: () => {
      const h = held ?? [];
      held = undefined;
      for (const r of h) r();
    },
    profile: () => (profile ? Promise.resolve(structuredClone(profile)) : Promise.reject(new Error('no profile given'))),
    async exchange(_endpoint, audiences): Promise<TokenResponse> {
      s.calls.push([...audiences]);
      if (held) await new Promise<void>((r) => held!.push(r));
      if (failures > 0) {
        failures--;
        throw new DeliveryError('ERR_UNREACHABLE', 'cannot reach the token endpoint at http://127.0.0.1:1 (ECONNREFUSED)');
      }
      const aud = audiences[0]!;
      return {
        access_token: fakeJwt(aud, s.calls.length, Math.floor(now() / 1000) + s.ttlSeconds),
        issued_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_type: 'N_A',
        expires_in: s.ttlSeconds,
      };
    },
  };
  return s;
}


/** A worker of Deployment `etl` whose identity is in AWS and Azure, on a cluster with one custom audience. */
export const SAMPLE_PROFILE: WorkloadProfile = {
  deployment: { id: 'dep_0123456789abcdefghij', name: 'etl', namespace: 'quasar-etl-1234' },
  component: 'worker',
  serviceAccount: 'quasar-etl-1234-worker-serviceaccount',
  subject: 'system:serviceaccount:quasar-etl-1234:quasar-etl-1234-worker-serviceaccount',
  cluster: { id: 'cls_0123456789abcdefghij', name: 'prod', cloud: 'aws', region: 'us-east-1', issuerMode: 'airlock' },
  issuer: 'http://127.0.0.1:1/clusters/cls_0123456789abcdefghij',
  tokenEndpoint: 'http://127.0.0.1:1/clusters/cls_0123456789abcdefghij/token',
  attestationAudience: 'http://127.0.0.1:1/clusters/cls_0123456789abcdefghij',
  tokenTtlSeconds: 3600,
  clouds: [
    { cloud: 'aws', audience: 'sts.amazonaws.com', acceptedAudiences: ['sts.amazonaws.com'], roleArn: 'arn:aws:iam::123456789012:role/etl-reader', region: 'us-east-1' },
    {
      cloud: 'azure',
      audience: 'api://AzureADTokenExchange',
      acceptedAudiences: ['api://AzureADTokenExchange'],
      clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      tenantId: '99999999-8888-7777-6666-555555555555',
      authorityHost: 'https://login.microsoftonline.com/',
    },
  ],
  audiences: ['sts.amazonaws.com', 'api://AzureADTokenExchange', 'vault.example.com'],
  customAudiences: ['vault.example.com'],
};
