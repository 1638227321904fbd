/**
 * A small, strict subset of CEL (Common Expression Language), enough for the attribute conditions
 * people actually write on a workload identity provider:
 *
 *   assertion['kubernetes.io']['namespace'] == 'etl' && attribute.sa.startsWith('etl-')
 *   google.subject in ['system:serviceaccount:etl:worker', 'system:serviceaccount:etl:loader']
 *
 * Supported: string, integer and boolean literals; list literals; the roots `assertion`,
 * `attribute` and `google` with `.field` and `['key']` selection; `==`, `!=`, `in`, `&&`, `||`,
 * `!`, parentheses; and the methods `startsWith` / `endsWith` on strings. Anything else (other
 * functions, `has()`, arithmetic, comparisons, the ternary, macros) is refused when the condition
 * is configured, never silently ignored at exchange time: a condition the sandbox cannot evaluate
 * exactly as Google would must not be accepted, or a test would pass that production fails.
 *
 * Evaluation follows CEL's rules where they matter for security: selecting a missing field is an
 * error, not null; `&&` / `||` absorb an error only when the other side decides the result; a
 * condition passes only when it evaluates to exactly `true`.
 */

/** A parsed expression. */
export type CelNode =
  | { kind: 'literal'; value: string | number | boolean }
  | { kind: 'list'; items: CelNode[] }
  | { kind: 'root'; name: CelRoot }
  | { kind: 'select'; target: CelNode; field: string }
  | { kind: 'call'; target: CelNode; method: CelMethod; arg: CelNode }
  | { kind: 'not'; operand: CelNode }
  | { kind: 'binary'; op: '==' | '!=' | 'in' | '&&' | '||'; left: CelNode; right: CelNode };

/** The names an expression may start from: the token's claims, custom attributes, google.* attributes. */
export type CelRoot = 'assertion' | 'attribute' | 'google';
type CelMethod = 'startsWith' | 'endsWith';

const ROOTS: readonly string[] = ['assertion', 'attribute', 'google'];
const METHODS: readonly string[] = ['startsWith', 'endsWith'];
/** Longest expression accepted; Google's own limit on attribute conditions is 4096 characters. */
export const MAX_CONDITION_LENGTH = 4096;
const MAX_DEPTH = 64;

/** Why an expression was refused at configuration time; `offset` points into the source. */
export class CelSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'CelSyntaxError';
  }
}

type Token =
  | { t: 'ident'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'int'; v: number; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'end'; at: number };

const OPERATORS = ['==', '!=', '&&', '||', '!', '(', ')', '[', ']', '.', ',', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '?', ':', '{', '}'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'ident', v: m[0], at: i });
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(src.slice(i))!;
      const after = src[i + m[0].length];
      if (after !== undefined && /[.eExXuU]/.test(after)) {
        throw new CelSyntaxError(`only plain decimal integers are supported (at ${i})`, i);
      }
      const v = Number(m[0]);
      if (!Number.isSafeInteger(v)) throw new CelSyntaxError(`integer ${m[0]} is too large (at ${i})`, i);
      out.push({ t: 'int', v, at: i });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      if (src.startsWith(c.repeat(3), i)) throw new CelSyntaxError(`triple-quoted strings are not supported (at ${i})`, i);
      let j = i + 1;
      let v = '';
      for (;;) {
        if (j >= src.length) throw new CelSyntaxError(`unterminated string starting at ${i}`, i);
        const d = src[j]!;
        if (d === c) break;
        if (d === '\n') throw new CelSyntaxError(`newline inside the string starting at ${i}`, i);
        if (d === '\\') {
          const e = src[j + 1];
          const map: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r' };
          if (e === undefined || !(e in map)) throw new CelSyntaxError(`unsupported escape \\${e ?? ''} in the string starting at ${i}`, j);
          v += map[e];
          j += 2;
          continue;
        }
        v += d;
        j++;
      }
      out.push({ t: 'string', v, at: i });
      i = j + 1;
      continue;
    }
    const op = OPERATORS.filter((o) => src.startsWith(o, i)).sort((a, b) => b.length - a.length)[0];
    if (!op) throw new CelSyntaxError(`unexpected character ${JSON.stringify(c)} at ${i}`, i);
    out.push({ t: 'op', v: op, at: i });
    i += op.length;
  }
  out.push({ t: 'end', at: src.length });
  return out;
}

/** Operators CEL has that this subset refuses, with a hint why. */
const REFUSED_OPS: Record<string, string> = {
  '<': 'ordering comparisons', '<=': 'ordering comparisons', '>': 'ordering comparisons', '>=': 'ordering comparisons',
  '+': 'arithmetic and string concatenation', '-': 'arithmetic', '*': 'arithmetic', '/': 'arithmetic', '%': 'arithmetic',
  '?': 'the conditional operator', ':': 'the conditional operator', '{': 'map literals', '}': 'map literals',
};

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.i]!;
  }
  private next(): Token {
    return this.toks[this.i++]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private expectOp(v: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw this.unexpected(t, `expected "${v}"`);
  }
  private unexpected(t: Token, what: string): CelSyntaxError {
    if (t.t === 'op' && t.v in REFUSED_OPS) {
      return new CelSyntaxError(`${REFUSED_OPS[t.v]} ("${t.v}" at ${t.at}) are not in the supported CEL subset`, t.at);
    }
    const shown = t.t === 'end' ? 'end of expression' : t.t === 'string' ? `string ${JSON.stringify(t.v)}` : `"${t.v}"`;
    return new CelSyntaxError(`${what}, found ${shown} at ${t.at}`, t.at);
  }
  private enter(at: number) {
    if (++this.depth > MAX_DEPTH) throw new CelSyntaxError(`expression nests deeper than ${MAX_DEPTH} levels (at ${at})`, at);
  }

  parseAll(): CelNode {
    const n = this.or();
    const t = this.peek();
    if (t.t !== 'end') throw this.unexpected(t, 'expected an operator or the end of the expression');
    return n;
  }

  private or(): CelNode {
    let left = this.and();
    while (this.isOp('||')) {
      this.next();
      left = { kind: 'binary', op: '||', left, right: this.and() };
    }
    return left;
  }
  private and(): CelNode {
    let left = this.relation();
    while (this.isOp('&&')) {
      this.next();
      left = { kind: 'binary', op: '&&', left, right: this.relation() };
    }
    return left;
  }
  private relation(): CelNode {
    const left = this.unary();
    const t = this.peek();
    let op: '==' | '!=' | 'in' | undefined;
    if (t.t === 'op' && (t.v === '==' || t.v === '!=')) op = t.v;
    else if (t.t === 'ident' && t.v === 'in') op = 'in';
    if (!op) return left;
    this.next();
    const right = this.unary();
    const u = this.peek();
    // CEL's relations are left-associative, but `a == b == c` is almost always a mistake; refuse it.
    if ((u.t === 'op' && (u.v === '==' || u.v === '!=')) || (u.t === 'ident' && u.v === 'in')) {
      throw new CelSyntaxError(`chained comparison at ${u.at}; add parentheses`, u.at);
    }
    return { kind: 'binary', op, left, right };
  }
  private unary(): CelNode {
    if (this.isOp('!')) {
      const t = this.next();
      this.enter(t.at);
      const operand = this.unary();
      this.depth--;
      return { kind: 'not', operand };
    }
    if (this.isOp('-')) throw this.unexpected(this.peek(), 'negative numbers are not supported');
    return this.member();
  }
  private member(): CelNode {
    let node = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.next();
        const id = this.next();
        if (id.t !== 'ident') throw this.unexpected(id, 'expected a field name after "."');
        if (this.isOp('(')) {
          if (!METHODS.includes(id.v)) {
            throw new CelSyntaxError(`function "${id.v}" (at ${id.at}) is not in the supported CEL subset; supported: ${METHODS.join(', ')}`, id.at);
          }
          this.next();
          const arg = this.or();
          if (this.isOp(',')) throw new CelSyntaxError(`${id.v}() takes exactly one argument (at ${this.peek().at})`, this.peek().at);
          this.expectOp(')');
          node = { kind: 'call', target: node, method: id.v as CelMethod, arg };
        } else {
          node = { kind: 'select', target: node, field: id.v };
        }
        continue;
      }
      if (this.isOp('[')) {
        const open = this.next();
        const key = this.next();
        if (key.t !== 'string') throw this.unexpected(key, `only string keys are supported in [...] (at ${open.at})`);
        this.expectOp(']');
        node = { kind: 'select', target: node, field: key.v };
        continue;
      }
      return node;
    }
  }
  private primary(): CelNode {
    const t = this.next();
    if (t.t === 'string' || t.t === 'int') return { kind: 'literal', value: t.v };
    if (t.t === 'ident') {
      if (t.v === 'true' || t.v === 'false') return { kind: 'literal', value: t.v === 'true' };
      if (this.isOp('(')) {
        throw new CelSyntaxError(`function "${t.v}" (at ${t.at}) is not in the supported CEL subset; supported: ${METHODS.map((m) => `.${m}()`).join(', ')}`, t.at);
      }
      if (!ROOTS.includes(t.v)) {
        throw new CelSyntaxError(`unknown name "${t.v}" at ${t.at}; an expression may refer to ${ROOTS.join(', ')}`, t.at);
      }
      return { kind: 'root', name: t.v as CelRoot };
    }
    if (t.t === 'op' && t.v === '(') {
      this.enter(t.at);
      const inner = this.or();
      this.expectOp(')');
      this.depth--;
      return inner;
    }
    if (t.t === 'op' && t.v === '[') {
      this.enter(t.at);
      const items: CelNode[] = [];
      if (!this.isOp(']')) {
        for (;;) {
          items.push(this.or());
          if (!this.isOp(',')) break;
          this.next();
          if (this.isOp(']')) break; // CEL allows a trailing comma
        }
      }
      this.expectOp(']');
      this.depth--;
      return { kind: 'list', items };
    }
    throw this.unexpected(t, 'expected a value');
  }
}

/** A reference to a mapped or asserted value, as `attribute.team` / `google.subject` / `assertion.sub`. */
export interface CelReference {
  root: CelRoot;
  /** The selected field names after the root, outermost first. */
  path: string[];
}

/** Collects every root-based path the expression reads, for configuration-time checks. */
export function references(node: CelNode): CelReference[] {
  const out: CelReference[] = [];
  const pathOf = (n: CelNode): CelReference | undefined => {
    if (n.kind === 'root') return { root: n.name, path: [] };
    if (n.kind === 'select') {
      const p = pathOf(n.target);
      return p ? { root: p.root, path: [...p.path, n.field] } : undefined;
    }
    return undefined;
  };
  const walk = (n: CelNode): void => {
    const p = pathOf(n);
    if (p) {
      out.push(p);
      return;
    }
    switch (n.kind) {
      case 'list':
        n.items.forEach(walk);
        return;
      case 'call':
        walk(n.target);
        walk(n.arg);
        return;
      case 'not':
        walk(n.operand);
        return;
      case 'binary':
        walk(n.left);
        walk(n.right);
        return;
      default:
        return;
    }
  };
  walk(node);
  return out;
}

/**
 * Parses a condition and checks it is in the supported subset. Throws {@link CelSyntaxError}
 * naming the first problem and where it is.
 */
export function parseCel(src: string): CelNode {
  if (src.length > MAX_CONDITION_LENGTH) throw new CelSyntaxError(`expression is longer than ${MAX_CONDITION_LENGTH} characters`, MAX_CONDITION_LENGTH);
  if (src.trim() === '') throw new CelSyntaxError('expression is empty', 0);
  const node = new Parser(tokenize(src)).parseAll();
  for (const ref of references(node)) {
    if (ref.path.length === 0) throw new CelSyntaxError(`"${ref.root}" must be followed by a field, as in ${ref.root === 'google' ? 'google.subject' : `${ref.root}.name`}`, 0);
    if (ref.root !== 'assertion' && ref.path.length > 1) {
      throw new CelSyntaxError(`${ref.root}.${ref.path[0]} is a string or a list of strings; it has no field "${ref.path[1]}"`, 0);
    }
  }
  // A bare literal or list is never a meaningful condition; refuse it rather than let `'false'` pass.
  if (node.kind === 'literal' && typeof node.value !== 'boolean') throw new CelSyntaxError('the expression is a constant, not a condition', 0);
  if (node.kind === 'list') throw new CelSyntaxError('the expression is a list, not a condition', 0);
  return node;
}

/** The values an expression can see: the token's claims and the mapped attributes. */
export interface CelActivation {
  assertion: Record<string, unknown>;
  attribute: Record<string, unknown>;
  google: Record<string, unknown>;
}

/** An evaluation error. CEL treats it as a value so `&&`/`||` can absorb it. */
class CelRuntimeError {
  constructor(readonly message: string) {}
}

type Value = unknown; // JSON values, or CelRuntimeError

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'map' : typeof v === 'number' ? 'int' : typeof v === 'boolean' ? 'bool' : typeof v);

function evalNode(n: CelNode, env: CelActivation): Value {
  switch (n.kind) {
    case 'literal':
      return n.value;
    case 'list': {
      const items = n.items.map((i) => evalNode(i, env));
      return items.find((v) => v instanceof CelRuntimeError) ?? items;
    }
    case 'root':
      return env[n.name];
    case 'select': {
      const target = evalNode(n.target, env);
      if (target instanceof CelRuntimeError) return target;
      if (target === null || typeof target !== 'object' || Array.isArray(target)) {
        return new CelRuntimeError(`cannot select field "${n.field}" from a ${typeName(target)}`);
      }
      if (!Object.hasOwn(target, n.field)) return new CelRuntimeError(`no such key: ${n.field}`);
      return (target as Record<string, unknown>)[n.field];
    }
    case 'call': {
      const target = evalNode(n.target, env);
      if (target instanceof CelRuntimeError) return target;
      const arg = evalNode(n.arg, env);
      if (arg instanceof CelRuntimeError) return arg;
      if (typeof target !== 'string' || typeof arg !== 'string') {
        return new CelRuntimeError(`no matching overload for ${typeName(target)}.${n.method}(${typeName(arg)})`);
      }
      return n.method === 'startsWith' ? target.startsWith(arg) : target.endsWith(arg);
    }
    case 'not': {
      const v = evalNode(n.operand, env);
      if (v instanceof CelRuntimeError) return v;
      return typeof v === 'boolean' ? !v : new CelRuntimeError(`no matching overload for !${typeName(v)}`);
    }
    case 'binary': {
      if (n.op === '&&' || n.op === '||') {
        // CEL's logical operators are commutative over errors: false && error is false, true || error is true.
        const decisive = n.op === '||';
        const l = evalNode(n.left, env);
        if (l === decisive) return decisive;
        const r = evalNode(n.right, env);
        if (r === decisive) return decisive;
        for (const v of [l, r]) {
          if (v instanceof CelRuntimeError) return v;
          if (typeof v !== 'boolean') return new CelRuntimeError(`no matching overload for ${typeName(v)} ${n.op} …`);
        }
        return !decisive;
      }
      const l = evalNode(n.left, env);
      if (l instanceof CelRuntimeError) return l;
      const r = evalNode(n.right, env);
      if (r instanceof CelRuntimeError) return r;
      if (n.op === '==') return deepEqual(l, r);
      if (n.op === '!=') return !deepEqual(l, r);
      if (Array.isArray(r)) return r.some((x) => deepEqual(l, x));
      if (r !== null && typeof r === 'object') return typeof l === 'string' && Object.hasOwn(r, l);
      return new CelRuntimeError(`no matching overload for ${typeName(l)} in ${typeName(r)}`);
    }
  }
}

/** The outcome of a condition: it passes only on exactly `true`. */
export type CelResult = { pass: true } | { pass: false; reason: string };

/** Evaluates a parsed condition against a token's claims and mapped attributes. */
export function evaluateCondition(node: CelNode, env: CelActivation): CelResult {
  const v = evalNode(node, env);
  if (v === true) return { pass: true };
  if (v instanceof CelRuntimeError) return { pass: false, reason: v.message };
  return { pass: false, reason: v === false ? 'evaluated to false' : `evaluated to a ${typeName(v)}, not a bool` };
}
