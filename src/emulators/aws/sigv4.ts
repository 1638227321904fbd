import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AwsError } from './errors.ts';

/**
 * AWS Signature Version 4, checked the way AWS's front door checks it: the server rebuilds the
 * canonical request from what actually arrived (raw path, raw query, the headers the client says
 * it signed, and a hash of the raw body), derives the signing key from the secret it holds, and
 * compares signatures in constant time. Only the `Authorization` header form is supported; query
 * presigning (`X-Amz-Signature=` in the URL) is not.
 */

/** A request as it arrived, before any decoding the signature could depend on. */
export interface RawHttpRequest {
  method: string;
  /** Path exactly as on the request line (percent-encoded), without the query. */
  path: string;
  /** Query string as on the request line, without the `?` (empty when none). */
  query: string;
  /** Header name/value pairs as received; names in any case; repeats allowed. */
  headers: ReadonlyArray<readonly [string, string]>;
  body: Uint8Array;
}

/** What the `Authorization` header declares. */
export interface SigV4Authorization {
  accessKeyId: string;
  /** `YYYYMMDD` from the credential scope. */
  scopeDate: string;
  region: string;
  service: string;
  /** Lower-case header names, in the order the client listed them. */
  signedHeaders: string[];
  /** Hex signature as sent. */
  signature: string;
  /** `X-Amz-Date` of the request (`YYYYMMDDTHHMMSSZ`). */
  amzDate: string;
  /** `X-Amz-Security-Token`, present for temporary credentials. */
  securityToken: string | undefined;
}

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS rejects a signature whose timestamp is further than this from its own clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000;

/** The values of one header, joined the way SigV4 canonicalises repeats. Undefined when absent. */
export function headerValue(headers: RawHttpRequest['headers'], name: string): string | undefined {
  const lower = name.toLowerCase();
  const values = headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return values.length ? values.join(',') : undefined;
}

/**
 * Reads and checks the shape of the `Authorization` header and the headers SigV4 needs, without
 * looking at any secret. The caller looks the access key up next, then calls
 * {@link checkSigV4Signature}; splitting the two keeps "unknown key" distinct from "bad signature",
 * as AWS reports them.
 */
export function parseSigV4Authorization(req: RawHttpRequest, expectedService: string): SigV4Authorization {
  const auth = headerValue(req.headers, 'authorization');
  if (auth === undefined) {
    if (/(^|&)X-Amz-Signature=/i.test(req.query)) {
      throw new AwsError('IncompleteSignature', 'Query-string (presigned) authentication is not supported by the Airlock sandbox; sign with the Authorization header.');
    }
    throw new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token');
  }
  const space = auth.indexOf(' ');
  const algorithm = space < 0 ? auth : auth.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new AwsError('IncompleteSignature', `Unsupported AWS 'algorithm': '${algorithm}'`);
  }
  const fields = new Map<string, string>();
  for (const part of auth.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new AwsError('IncompleteSignature', `Authorization header requires each component to be of the form key=value; got '${part.trim()}'`);
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  const missing = [!credential && 'Credential', !signedHeaders && 'SignedHeaders', !signature && 'Signature'].filter(Boolean);
  if (missing.length) {
    throw new AwsError('IncompleteSignature', `Authorization header requires ${missing.map((m) => `'${m}'`).join(', ')} parameter(s).`);
  }
  const scope = credential!.split('/');
  if (scope.length !== 5 || scope.some((s) => s.length === 0)) {
    throw new AwsError('IncompleteSignature', `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`);
  }
  const [accessKeyId, scopeDate, region, service, terminator] = scope as [string, string, string, string, string];
  if (!/^[0-9a-f]{64}$/.test(signature!)) {
    // A signature that cannot be a SHA-256 HMAC in hex can never match; AWS says the same thing.
    throw new AwsError('SignatureDoesNotMatch', SIGNATURE_MISMATCH);
  }
  const amzDate = headerValue(req.headers, 'x-amz-date');
  if (amzDate === undefined) {
    throw new AwsError('IncompleteSignature', "Authorization header requires existence of a 'X-Amz-Date' header (the 'Date' header is not supported by the Airlock sandbox).");
  }
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || Number.isNaN(amzDateToMs(amzDate))) {
    throw new AwsError('IncompleteSignature', `Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`);
  }
  const list = signedHeaders!.split(';');
  if (!list.includes('host')) {
    throw new AwsError('IncompleteSignature', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (terminator !== 'aws4_request') {
    throw new AwsError('SignatureDoesNotMatch', `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'.`);
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    throw new AwsError('SignatureDoesNotMatch', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`);
  }
  if (service !== expectedService) {
    throw new AwsError('SignatureDoesNotMatch', `Credential should be scoped to correct service: '${expectedService}'.`);
  }
  return {
    accessKeyId,
    scopeDate,
    region,
    service,
    signedHeaders: list,
    signature: signature!,
    amzDate,
    securityToken: headerValue(req.headers, 'x-amz-security-token'),
  };
}

export const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * Checks the request time against `nowMs` and the signature against `secretAccessKey`. Throws
 * `SignatureDoesNotMatch` (AWS's code for both a stale timestamp and a wrong signature).
 */
export function checkSigV4Signature(req: RawHttpRequest, auth: SigV4Authorization, secretAccessKey: string, nowMs: number): void {
  checkSigV4Time(auth, nowMs);
  const expected = computeSigV4Signature(req, auth, secretAccessKey);
  // Both sides are 64 hex characters here (the parser rejected anything else), so the lengths
  // match and timingSafeEqual can compare without leaking where they differ.
  if (!timingSafeEqual(Buffer.from(expected, 'utf8'), Buffer.from(auth.signature, 'utf8'))) {
    throw new AwsError('SignatureDoesNotMatch', SIGNATURE_MISMATCH);
  }
}

/** The 15-minute window around the server clock, with AWS's messages. */
export function checkSigV4Time(auth: SigV4Authorization, nowMs: number): void {
  const at = amzDateToMs(auth.amzDate);
  if (at < nowMs - MAX_CLOCK_SKEW_MS) {
    throw new AwsError(
      'SignatureDoesNotMatch',
      `Signature expired: ${auth.amzDate} is now earlier than ${msToAmzDate(nowMs - MAX_CLOCK_SKEW_MS)} (${msToAmzDate(nowMs)} - 15 min.)`,
    );
  }
  if (at > nowMs + MAX_CLOCK_SKEW_MS) {
    throw new AwsError(
      'SignatureDoesNotMatch',
      `Signature not yet current: ${auth.amzDate} is still later than ${msToAmzDate(nowMs + MAX_CLOCK_SKEW_MS)} (${msToAmzDate(nowMs)} + 15 min.)`,
    );
  }
}

/** Hex HMAC-SHA256 signature of the request as the server reconstructs it. */
export function computeSigV4Signature(req: RawHttpRequest, auth: SigV4Authorization, secretAccessKey: string): string {
  const creq = canonicalRequest(req, auth.signedHeaders);
  const sts = stringToSign(auth.amzDate, `${auth.scopeDate}/${auth.region}/${auth.service}/aws4_request`, creq);
  const key = signingKey(secretAccessKey, auth.scopeDate, auth.region, auth.service);
  return createHmac('sha256', key).update(sts, 'utf8').digest('hex');
}

/**
 * The canonical request: method, canonical URI, canonical query, canonical headers, signed header
 * list, and the hex SHA-256 of the body that arrived (never a client-declared hash: a body changed
 * in transit must break the signature).
 */
export function canonicalRequest(req: RawHttpRequest, signedHeaders: readonly string[]): string {
  const headerLines = signedHeaders.map((name) => `${name}:${canonicalHeaderValue(req.headers, name)}\n`).join('');
  return [
    req.method.toUpperCase(),
    canonicalUri(req.path),
    canonicalQuery(req.query),
    headerLines,
    signedHeaders.join(';'),
    createHash('sha256').update(req.body).digest('hex'),
  ].join('\n');
}

/** `AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256 of canonical request>`. */
export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [SIGV4_ALGORITHM, amzDate, scope, createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  let k: Buffer = createHmac('sha256', `AWS4${secret}`).update(date, 'utf8').digest();
  for (const part of [region, service, 'aws4_request']) k = createHmac('sha256', k).update(part, 'utf8').digest();
  return k;
}

/** RFC 3986 percent-encoding: everything but `A-Za-z0-9-._~` (and `/` when asked). */
export function uriEncode(s: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * For every service but S3: remove empty, `.` and `..` segments, then percent-encode the
 * (already encoded) path once more — SigV4's "encode each segment twice".
 */
export function canonicalUri(rawPath: string): string {
  const path = rawPath === '' ? '/' : rawPath;
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return uriEncode(normalized, true);
}

/** Decodes each `name=value` pair, re-encodes it strictly, and sorts by name then value. */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([uriEncode(safeDecode(name)), uriEncode(safeDecode(value))]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Trimmed values with inner runs of spaces collapsed, repeats joined by `,`. */
function canonicalHeaderValue(headers: RawHttpRequest['headers'], name: string): string {
  return headers
    .filter(([n]) => n.toLowerCase() === name)
    .map(([, v]) => v.trim().replace(/\s+/g, ' '))
    .join(',');
}

/** `YYYYMMDDTHHMMSSZ` → epoch ms (NaN when not a real date). */
export function amzDateToMs(d: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(d);
  if (!m) return NaN;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return msToAmzDate(ms) === d ? ms : NaN;
}

/** Epoch ms → `YYYYMMDDTHHMMSSZ`. */
export function msToAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
