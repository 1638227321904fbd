import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsError } from './errors.ts';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  checkSigV4Signature,
  computeSigV4Signature,
  parseSigV4Authorization,
  type RawHttpRequest,
} from './sigv4.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

/** Signs with the AWS SDK's own signer, so the verifier is checked against the real client side. */
async function sdkSigned(o: { body: string; date: Date; secret?: string; token?: string; service?: string; path?: string; query?: Record<string, string> }): Promise<RawHttpRequest> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: o.secret ?? SECRET, ...(o.token ? { sessionToken: o.token } : {}) },
    region: 'us-east-1',
    service: o.service ?? 'sts',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 4566,
      path: o.path ?? '/',
      query: o.query ?? {},
      headers: { host: '127.0.0.1:4566', 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: o.body,
    },
    { signingDate: o.date },
  );
  const query = Object.entries(o.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return { method: 'POST', path: o.path ?? '/', query, headers: Object.entries(signed.headers), body: Buffer.from(o.body) };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AwsError, `expected AwsError, got ${String(err)}`);
    return err.code;
  }
  return 'ok';
}

describe('SigV4 canonicalisation', () => {
  it('matches the AWS test-suite vector "get-vanilla"', () => {
    const req: RawHttpRequest = {
      method: 'GET',
      path: '/',
      query: '',
      headers: [
        ['Host', 'example.amazonaws.com'],
        ['X-Amz-Date', '20150830T123600Z'],
        ['Authorization', 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
      ],
      body: Buffer.alloc(0),
    };
    const auth = parseSigV4Authorization(req, 'service');
    assert.equal(
      canonicalRequest(req, auth.signedHeaders),
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    assert.equal(computeSigV4Signature(req, auth, SECRET), auth.signature);
  });

  const uris: [string, string][] = [
    ['', '/'],
    ['/', '/'],
    ['/a/./b/../c', '/a/c'],
    ['/a//b/', '/a/b/'],
    ['/%20x', '/%2520x'], // already-encoded segments are encoded once more (non-S3 services)
    ['/ü', '/%C3%BC'],
  ];
  for (const [input, expected] of uris) {
    it(`canonical URI of ${JSON.stringify(input)} is ${expected}`, () => assert.equal(canonicalUri(input), expected));
  }

  const queries: [string, string][] = [
    ['', ''],
    ['b=2&a=1', 'a=1&b=2'],
    ['a=2&a=1', 'a=1&a=2'],
    ['x=a+b&y=%7e', 'x=a%20b&y=~'],
    ['flag', 'flag='],
    ["k=!'()*", 'k=%21%27%28%29%2A'],
  ];
  for (const [input, expected] of queries) {
    it(`canonical query of ${JSON.stringify(input)} is ${JSON.stringify(expected)}`, () => assert.equal(canonicalQuery(input), expected));
  }

  it('joins repeated headers with commas and collapses inner white space', () => {
    const req: RawHttpRequest = {
      method: 'POST',
      path: '/',
      query: '',
      headers: [
        ['Host', 'h'],
        ['X-Multi', '  a   b '],
        ['x-multi', 'c'],
      ],
      body: Buffer.from(''),
    };
    assert.match(canonicalRequest(req, ['host', 'x-multi']), /\nx-multi:a b,c\n/);
  });
});

describe('SigV4 verification against requests signed by @smithy/signature-v4', () => {
  const date = new Date(Date.UTC(2026, 0, 1, 12, 0, 0));
  const now = date.getTime();
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';

  it('accepts an untouched request, with a session token and a query string', async () => {
    const req = await sdkSigned({ body, date, token: 'tok', query: { b: 'x y', a: '1' }, path: '/some/path' });
    const auth = parseSigV4Authorization(req, 'sts');
    assert.equal(auth.accessKeyId, 'ASIAEXAMPLE');
    assert.equal(auth.securityToken, 'tok');
    checkSigV4Signature(req, auth, SECRET, now);
  });

  const cases: { name: string; mutate: (r: RawHttpRequest) => RawHttpRequest; secret?: string; at?: number; service?: string; expect: string }[] = [
    { name: 'a tampered body', mutate: (r) => ({ ...r, body: Buffer.from(body.replace('GetCallerIdentity', 'AssumeRole')) }), expect: 'SignatureDoesNotMatch' },
    { name: 'one extra byte of body', mutate: (r) => ({ ...r, body: Buffer.from(body + '&') }), expect: 'SignatureDoesNotMatch' },
    { name: 'a wrong secret', mutate: (r) => r, secret: 'not-the-secret', expect: 'SignatureDoesNotMatch' },
    { name: 'a changed host header', mutate: (r) => ({ ...r, headers: r.headers.map(([n, v]) => [n, n === 'host' ? 'evil:1' : v] as const) }), expect: 'SignatureDoesNotMatch' },
    { name: 'a different path', mutate: (r) => ({ ...r, path: '/other' }), expect: 'SignatureDoesNotMatch' },
    { name: 'a timestamp 16 minutes old', mutate: (r) => r, at: now + 16 * 60_000, expect: 'SignatureDoesNotMatch' },
    { name: 'a timestamp 16 minutes ahead', mutate: (r) => r, at: now - 16 * 60_000, expect: 'SignatureDoesNotMatch' },
    { name: 'a timestamp 14 minutes old', mutate: (r) => r, at: now + 14 * 60_000, expect: 'ok' },
    { name: 'a signature scoped to another service', mutate: (r) => r, service: 'iam', expect: 'SignatureDoesNotMatch' },
    { name: 'no Authorization header', mutate: (r) => ({ ...r, headers: r.headers.filter(([n]) => n !== 'authorization') }), expect: 'MissingAuthenticationToken' },
    { name: 'no X-Amz-Date header', mutate: (r) => ({ ...r, headers: r.headers.filter(([n]) => n !== 'x-amz-date') }), expect: 'IncompleteSignature' },
    {
      name: 'a header without host in SignedHeaders',
      mutate: (r) => ({ ...r, headers: r.headers.map(([n, v]) => [n, n === 'authorization' ? v.replace(/SignedHeaders=[^,]*/, 'SignedHeaders=x-amz-date') : v] as const) }),
      expect: 'IncompleteSignature',
    },
    { name: 'another algorithm', mutate: (r) => ({ ...r, headers: r.headers.map(([n, v]) => [n, n === 'authorization' ? v.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256') : v] as const) }), expect: 'IncompleteSignature' },
    { name: 'a truncated signature', mutate: (r) => ({ ...r, headers: r.headers.map(([n, v]) => [n, n === 'authorization' ? v.slice(0, -2) : v] as const) }), expect: 'SignatureDoesNotMatch' },
  ];
  for (const c of cases) {
    it(`${c.expect === 'ok' ? 'accepts' : 'rejects'} ${c.name}${c.expect === 'ok' ? '' : ` (${c.expect})`}`, async () => {
      const req = c.mutate(await sdkSigned({ body, date, token: 'tok' }));
      const got = code(() => {
        const auth = parseSigV4Authorization(req, c.service ?? 'sts');
        checkSigV4Signature(req, auth, c.secret ?? SECRET, c.at ?? now);
      });
      assert.equal(got, c.expect);
    });
  }
});
