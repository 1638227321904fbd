/**
 * The parts of Python's `urllib.parse` that Airflow's `Connection` uses, with Python's behaviour
 * (CPython 3.11+), not the WHATWG URL standard's: Airflow parses `AIRFLOW_CONN_*` URIs with
 * `urlsplit`, `unquote` and `parse_qsl` and renders them with `quote(safe='')` and `urlencode`,
 * and the two standards disagree on exactly the inputs users get wrong (unescaped `@`, `/`, `#`,
 * upper-case hosts, `+` in query values). Facts from the CPython documentation and
 * Lib/urllib/parse.py; the code is ours.
 *
 * Every function throws {@link PythonValueError} where Python raises `ValueError`, with Python's
 * message, so callers can report Airflow's own reason.
 */
import { isIP } from 'node:net';

/** Python raised `ValueError` (or `UnicodeEncodeError`) with this message. */
export class PythonValueError extends Error {
  override readonly name = 'PythonValueError';
}

/** The result of `urllib.parse.urlsplit` with the derived properties Airflow reads. */
export interface SplitResult {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
  fragment: string;
}

const SCHEME_CHARS = /^[A-Za-z0-9+\-.]+$/;
// Python removes these anywhere in the URL before splitting (bpo-43882) and strips leading
// C0 control characters and spaces (WHATWG's "C0 control or space", bpo-43882 follow-up).
const UNSAFE = /[\t\r\n]/g;
// eslint-disable-next-line no-control-regex -- Python strips exactly these control characters
const LEADING_C0_OR_SPACE = /^[\x00-\x20]+/;

/** `urllib.parse.urlsplit(url)` (allow_fragments=True, no default scheme). */
export function urlsplit(input: string): SplitResult {
  let url = input.replace(UNSAFE, '').replace(LEADING_C0_OR_SPACE, '');
  let scheme = '';
  let netloc = '';
  let query = '';
  let fragment = '';
  const i = url.indexOf(':');
  if (i > 0 && /^[A-Za-z]/.test(url) && SCHEME_CHARS.test(url.slice(0, i))) {
    scheme = url.slice(0, i).toLowerCase();
    url = url.slice(i + 1);
  }
  if (url.startsWith('//')) {
    let delim = url.length;
    for (const c of ['/', '?', '#']) {
      const w = url.indexOf(c, 2);
      if (w >= 0) delim = Math.min(delim, w);
    }
    netloc = url.slice(2, delim);
    url = url.slice(delim);
    const open = netloc.includes('[');
    const close = netloc.includes(']');
    if (open !== close) throw new PythonValueError('Invalid IPv6 URL');
    if (open && close) checkBracketedNetloc(netloc);
  }
  const hash = url.indexOf('#');
  if (hash >= 0) {
    fragment = url.slice(hash + 1);
    url = url.slice(0, hash);
  }
  const q = url.indexOf('?');
  if (q >= 0) {
    query = url.slice(q + 1);
    url = url.slice(0, q);
  }
  checkNetloc(netloc);
  return { scheme, netloc, path: url, query, fragment };
}

/** Python's `str.partition`. */
function partition(s: string, sep: string): [string, boolean, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, false, ''] : [s.slice(0, i), true, s.slice(i + sep.length)];
}

/** Python's `str.rpartition`. */
function rpartition(s: string, sep: string): [string, boolean, string] {
  const i = s.lastIndexOf(sep);
  return i < 0 ? ['', false, s] : [s.slice(0, i), true, s.slice(i + sep.length)];
}

// CPython 3.11.4+ (gh-103848): what is inside brackets must be an IPv6 address or IPvFuture.
function checkBracketedNetloc(netloc: string): void {
  const hostAndPort = rpartition(netloc, '@')[2];
  const [before, hasOpen, bracketed] = partition(hostAndPort, '[');
  let hostname: string;
  if (hasOpen) {
    if (before) throw new PythonValueError('Invalid IPv6 URL');
    const [h, , port] = partition(bracketed, ']');
    if (port && !port.startsWith(':')) throw new PythonValueError('Invalid IPv6 URL');
    hostname = h;
  } else {
    hostname = partition(hostAndPort, ':')[0];
  }
  if (hostname.startsWith('v')) {
    if (!/^v[a-fA-F0-9]+\..+$/s.test(hostname)) throw new PythonValueError('IPvFuture address is invalid');
    return;
  }
  const kind = isIP(hostname);
  if (kind === 4) throw new PythonValueError('An IPv4 address cannot be in brackets');
  if (kind !== 6) throw new PythonValueError(`${pyRepr(hostname)} does not appear to be an IPv4 or IPv6 address`);
}

// CPython's _checknetloc: a non-ASCII netloc must not grow URL delimiters under NFKC.
function checkNetloc(netloc: string): void {
  // eslint-disable-next-line no-control-regex -- str.isascii()
  if (!netloc || /^[\x00-\x7f]*$/.test(netloc)) return;
  const n = netloc.replace(/[@:#?]/g, '');
  const normalized = n.normalize('NFKC');
  if (n === normalized) return;
  for (const c of '/?#@:') {
    if (normalized.includes(c)) {
      throw new PythonValueError(`netloc ${pyRepr(netloc)} contains invalid characters under NFKC normalization`);
    }
  }
}

/** `SplitResult.username` (None → null). */
export function username(parts: SplitResult): string | null {
  const [userinfo, has] = rpartition(parts.netloc, '@');
  return has ? partition(userinfo, ':')[0] : null;
}

/** `SplitResult.password` (None → null). */
export function password(parts: SplitResult): string | null {
  const [userinfo, has] = rpartition(parts.netloc, '@');
  if (!has) return null;
  const [, hasPassword, pw] = partition(userinfo, ':');
  return hasPassword ? pw : null;
}

function hostinfo(parts: SplitResult): [string, string | null] {
  const info = rpartition(parts.netloc, '@')[2];
  const [, hasOpen, bracketed] = partition(info, '[');
  let hostname: string;
  let port: string;
  if (hasOpen) {
    const [h, , rest] = partition(bracketed, ']');
    hostname = h;
    port = partition(rest, ':')[2];
  } else {
    [hostname, , port] = partition(info, ':');
  }
  return [hostname, port === '' ? null : port];
}

/** `SplitResult.hostname`: lower-cased except for an IPv6 zone id; None → null. */
export function hostname(parts: SplitResult): string | null {
  const h = hostinfo(parts)[0];
  if (!h) return null;
  const [name, hasZone, zone] = partition(h, '%');
  return name.toLowerCase() + (hasZone ? '%' + zone : '');
}

/** `SplitResult.port`: an int in 0–65535, None → null; anything else is Python's ValueError. */
export function port(parts: SplitResult): number | null {
  const p = hostinfo(parts)[1];
  if (p === null) return null;
  // Python 3.11+: `port.isdigit() and port.isascii()`, then int(port).
  if (!/^[0-9]+$/.test(p)) throw new PythonValueError(`Port could not be cast to integer value as ${pyRepr(p)}`);
  const n = Number(p);
  if (n > 65535) throw new PythonValueError('Port out of range 0-65535');
  return n;
}

const LONE_SURROGATE = /\p{Cs}/u;

// Python's quote() never encodes these (RFC 3986 unreserved).
const ALWAYS_SAFE = /[A-Za-z0-9_.\-~]/;

/**
 * `urllib.parse.quote(s, safe='')`: UTF-8 percent-encoding of everything but letters, digits
 * and `_.-~`, upper-case hex. A lone surrogate cannot be encoded (Python's UnicodeEncodeError).
 */
export function quote(s: string, safe = ''): string {
  if (LONE_SURROGATE.test(s)) throw new PythonValueError("'utf-8' codec can't encode character: surrogates not allowed");
  let out = '';
  for (const ch of s) {
    if (ALWAYS_SAFE.test(ch) || safe.includes(ch)) {
      out += ch;
      continue;
    }
    for (const b of new TextEncoder().encode(ch)) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** `urllib.parse.quote_plus(s)`: as quote, with spaces as `+` (so `+` itself becomes `%2B`). */
export function quotePlus(s: string): string {
  return quote(s, ' ').replaceAll(' ', '+');
}

const HEX = /^[0-9A-Fa-f]{2}$/;
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * `urllib.parse.unquote(s)`: `%XX` sequences inside runs of ASCII characters become bytes,
 * each run decoded as UTF-8 with U+FFFD for invalid bytes; a `%` not followed by two hex digits
 * stays as it is; non-ASCII characters pass through untouched.
 */
export function unquote(s: string): string {
  if (!s.includes('%')) return s;
  // eslint-disable-next-line no-control-regex -- Python unquotes runs of ASCII characters
  return s.replace(/[\x00-\x7f]+/g, (run) => {
    if (!run.includes('%')) return run;
    const bytes: number[] = [];
    for (let i = 0; i < run.length; i++) {
      const pair = run.slice(i + 1, i + 3);
      if (run[i] === '%' && HEX.test(pair)) {
        bytes.push(parseInt(pair, 16));
        i += 2;
      } else {
        bytes.push(run.charCodeAt(i));
      }
    }
    return decoder.decode(new Uint8Array(bytes));
  });
}

/**
 * `dict(urllib.parse.parse_qsl(qs, keep_blank_values=True))`: `&`-separated pairs, `+` as a
 * space, percent-decoded; a later duplicate key replaces the value but keeps the first position.
 * Returned as entries, in Python's dict order.
 */
export function parseQsl(qs: string): [string, string][] {
  const out = new Map<string, string>();
  if (!qs) return [];
  for (const nameValue of qs.split('&')) {
    if (!nameValue) continue;
    const [name, hasValue, value] = partition(nameValue, '=');
    out.set(unquote(name.replaceAll('+', ' ')), hasValue ? unquote(value.replaceAll('+', ' ')) : '');
  }
  return [...out];
}

/** `urllib.parse.urlencode(pairs)` for string values (quote_plus on keys and values). */
export function urlencode(pairs: [string, string][]): string {
  return pairs.map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`).join('&');
}

/** Python's `repr()` of a str, as it appears in Python's error messages. */
export function pyRepr(s: string): string {
  const quoteChar = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quoteChar;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quoteChar || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quoteChar;
}
