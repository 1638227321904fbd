import { AwsError } from './errors.ts';

/**
 * The parameters of an AWS query-protocol request (`Action=…&Version=…&X.member.1=…`), read from
 * an `application/x-www-form-urlencoded` body.
 */
export interface QueryParams {
  /** The first value of a parameter, or undefined when it is absent. */
  get(name: string): string | undefined;
  /** A required parameter; absent or empty → `MissingParameter`, as AWS answers. */
  require(name: string): string;
  /**
   * A list parameter in query form: `Name.member.1`, `Name.member.2`, … in index order. Indexes
   * need not be contiguous (AWS accepts gaps); they must be positive integers.
   */
  list(name: string): string[];
  /** Every parameter name present, for diagnostics. */
  names(): string[];
}

const MEMBER = /^(.+)\.member\.([1-9][0-9]{0,5})$/;

/**
 * Parses a form body. `+` means space and `%XX` is UTF-8, per the HTML form encoding AWS SDKs
 * send. When a name repeats, the first value wins: AWS does not define the case, and taking one
 * value keeps a second copy from silently overriding a checked one.
 */
export function parseQueryForm(body: string): QueryParams {
  const values = new Map<string, string>();
  const lists = new Map<string, Map<number, string>>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (values.has(name)) continue;
    values.set(name, value);
    const m = MEMBER.exec(name);
    if (m) {
      let l = lists.get(m[1]!);
      if (!l) lists.set(m[1]!, (l = new Map<number, string>()));
      l.set(Number(m[2]), value);
    }
  }
  return {
    get: (name) => values.get(name),
    require(name) {
      const v = values.get(name);
      if (v === undefined || v === '') throw new AwsError('MissingParameter', `The request must contain the parameter ${name}`);
      return v;
    },
    list(name) {
      const l = lists.get(name);
      if (!l) return [];
      return [...l.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    },
    names: () => [...values.keys()],
  };
}

/**
 * Reads an optional whole-number parameter within bounds. Out of range or not a number gives
 * AWS's `ValidationError` wording ("1 validation error detected: Value 'x' at 'durationSeconds'
 * failed to satisfy constraint: …").
 */
export function intParam(p: QueryParams, name: string, min: number, max: number): number | undefined {
  const raw = p.get(name);
  if (raw === undefined) return undefined;
  const n = /^-?[0-9]{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n)) {
    throw new AwsError('ValidationError', `1 validation error detected: Value '${raw}' at '${lowerFirst(name)}' failed to satisfy constraint: Member must be a number`);
  }
  if (n < min) {
    throw new AwsError('ValidationError', `1 validation error detected: Value '${raw}' at '${lowerFirst(name)}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`);
  }
  if (n > max) {
    throw new AwsError('ValidationError', `1 validation error detected: Value '${raw}' at '${lowerFirst(name)}' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
  }
  return n;
}

/**
 * Checks a string parameter against AWS's documented length and pattern, with AWS's wording.
 * The pattern must match the whole value.
 */
export function checkString(name: string, value: string, o: { min?: number; max?: number; pattern?: RegExp; patternText?: string }): string {
  const field = lowerFirst(name);
  if (o.min !== undefined && value.length < o.min) {
    throw new AwsError('ValidationError', `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must have length greater than or equal to ${o.min}`);
  }
  if (o.max !== undefined && value.length > o.max) {
    throw new AwsError('ValidationError', `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${o.max}`);
  }
  if (o.pattern && !o.pattern.test(value)) {
    throw new AwsError(
      'ValidationError',
      `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${o.patternText ?? o.pattern.source}`,
    );
  }
  return value;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
