/**
 * `json.dumps(value)` with Python's defaults, byte for byte: `", "` and `": "` separators,
 * `ensure_ascii=True` (every character outside printable ASCII, DEL included, as `\uXXXX`;
 * astral characters as a surrogate pair), integers as digits and floats as Python's `repr`.
 * Airflow writes a connection's `extra` and `as_json()` with it, so an `AIRFLOW_CONN_*` value we
 * render is the one Airflow would have written.
 *
 * What a JavaScript value cannot carry: whether a number was written `1` or `1.0` (both arrive
 * from JSON.parse as 1, rendered `1`), integers beyond 2^53, and NaN/Infinity (which Python's
 * json accepts and JSON.parse does not).
 */

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** A JSON string literal as Python's json (ensure_ascii=True) writes it. */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (code < 0x20 || code > 0x7e) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** A number as Python's json writes it: an int as digits, a float as `repr(float)`. */
export function pyJsonNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Number.isInteger(n)) return BigInt(n).toString();
  // repr(float): the shortest digits that round-trip (as JavaScript's), written in fixed
  // notation when the decimal exponent is in [-4, 16), else as d.ddde±XX.
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) {
    const negative = mantissa.startsWith('-');
    const digits = mantissa.replace('-', '').replace('.', '');
    let fixed: string;
    if (exp < 0) fixed = '0.' + '0'.repeat(-exp - 1) + digits;
    else if (digits.length > exp + 1) fixed = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
    else fixed = digits + '0'.repeat(exp + 1 - digits.length) + '.0';
    return (negative ? '-' : '') + fixed;
  }
  return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** `json.dumps(value)` for a JSON-shaped value. */
export function pyJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'string') return pyJsonString(value);
  if (typeof value === 'number') return pyJsonNumber(value);
  if (Array.isArray(value)) return '[' + value.map(pyJsonDumps).join(', ') + ']';
  if (typeof value === 'object') {
    return '{' + Object.entries(value).map(([k, v]) => `${pyJsonString(k)}: ${pyJsonDumps(v)}`).join(', ') + '}';
  }
  throw new TypeError(`Object of type ${typeof value} is not JSON serializable`);
}
