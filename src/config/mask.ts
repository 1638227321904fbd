/**
 * A database URL as it may be shown (config validate, logs): every place libpq takes a password
 * from is replaced by `****` — the userinfo (`user:pw@`, `:pw@`), and the `password` /
 * `sslpassword` query parameters. A URL that does not parse is shown as its scheme only, since
 * where its secret sits cannot be known.
 */
export const MASK = '****';
const SECRET_PARAMS = new Set(['password', 'sslpassword']);

export function maskDatabaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(raw)?.[1];
    return scheme ? `${scheme}//${MASK}` : MASK;
  }
  if (u.password) u.password = MASK;
  // Rebuild the query by hand: URLSearchParams would re-encode the mask and every other value.
  if (u.search) {
    const parts = u.search
      .slice(1)
      .split('&')
      .map((p) => {
        const eq = p.indexOf('=');
        const key = decodeURIComponentSafe(eq < 0 ? p : p.slice(0, eq)).toLowerCase();
        return SECRET_PARAMS.has(key) ? `${eq < 0 ? p : p.slice(0, eq)}=${MASK}` : p;
      });
    u.search = '?' + parts.join('&');
  }
  return u.href;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
