/**
 * Safe HCL (Terraform) emission for the cloud setup generators.
 *
 * Every value that reaches a `.tf` file goes through this module, because HCL strings are
 * templates: a role name or issuer URL containing `${…}` or `%{…}` would otherwise be evaluated by
 * Terraform, and a `"` or a newline would end the string and let the rest of the value be read as
 * configuration. The rules implemented here are those of the HCL native syntax specification
 * (hashicorp/hcl, `hclsyntax/spec.md`, "Template Expressions" and "Literal Values"):
 *
 * - quoted templates recognise the escapes `\n \r \t \" \\ \uNNNN \UNNNNNNNN`;
 * - `$${` and `%%{` are the only way to write a literal `${` / `%{` in a quoted template;
 * - identifiers are letters, digits, `_` and `-`, not starting with a digit or `-`.
 *
 * The output is a small tree of {@link HclBody} entries rendered with two-space indentation and
 * `=` aligned within runs of one-line attributes, close to what `terraform fmt` produces, and
 * always the same for the same input (the setup golden files depend on it).
 */

/**
 * A rendered HCL expression that is written verbatim (a reference or a function call). Only this
 * module's constructors make them: {@link hclValue} recognises an expression by identity, not by
 * shape, so data that merely looks like one (`{"kind": "expression", "text": "${…}"}` arriving in
 * a JSON value) is rendered as an ordinary, escaped object.
 */
export interface HclExpression {
  readonly kind: 'expression';
  /** Already-safe HCL text. */
  readonly text: string;
}

const EXPRESSIONS = new WeakSet<object>();

function expression(text: string): HclExpression {
  const e: HclExpression = Object.freeze({ kind: 'expression', text });
  EXPRESSIONS.add(e);
  return e;
}

/** A value {@link hclValue} can render: JSON-like data, or an expression built by this module. */
export type HclInput = string | number | boolean | null | HclExpression | readonly HclInput[] | { readonly [key: string]: HclInput };

/** `name = value` inside a block. */
export interface HclAttribute {
  kind: 'attribute';
  name: string;
  value: HclInput;
}

/** `type "label" … { body }`. */
export interface HclBlock {
  kind: 'block';
  type: string;
  labels: string[];
  body: HclBody;
}

/** One or more `# …` comment lines. */
export interface HclComment {
  kind: 'comment';
  text: string;
}

/** A blank line between entries of a body (for grouping only). */
export interface HclBlank {
  kind: 'blank';
}

/** One entry of a block body or of a whole file. */
export type HclBodyEntry = HclAttribute | HclBlock | HclComment | HclBlank;
/** The contents of a block, or a whole file, in order. */
export type HclBody = HclBodyEntry[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Bare words the HCL parser reads as literals or keywords, never as an identifier key. */
const KEYWORDS = new Set(['true', 'false', 'null', 'for', 'in', 'if', 'else', 'endif', 'endfor']);

/** Whether `name` is a valid HCL identifier (attribute names, block types, reference parts). */
export function isHclIdentifier(name: string): boolean {
  return IDENTIFIER.test(name);
}

/**
 * Turns arbitrary text into a valid, readable Terraform resource label: characters outside
 * `[A-Za-z0-9_]` become `_`, runs of `_` collapse, and a leading digit gets an `r_` prefix.
 * Lossy on purpose; callers that need uniqueness must ensure it themselves.
 */
export function hclIdentifier(text: string): string {
  let id = text.replace(/[^A-Za-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/^_+|_+$/g, '');
  if (id === '') id = 'r';
  if (/^[0-9]/.test(id)) id = `r_${id}`;
  return id;
}

/**
 * Renders `value` as an HCL quoted string literal whose value is exactly `value`: no part of it
 * is ever interpolated or read as a directive.
 */
export function hclString(value: string): string {
  // A lone UTF-16 surrogate has no UTF-8 encoding: it would be written as U+FFFD and the value
  // would silently change.
  if (/[\uD800-\uDFFF]/u.test(value)) throw new Error('hcl: string contains a lone surrogate');
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const next = value[i + 1];
    switch (ch) {
      case '\\':
        out += '\\\\';
        break;
      case '"':
        out += '\\"';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      case '$':
      case '%':
        // `${` / `%{` open an interpolation / directive; doubling the sigil is HCL's escape. A
        // sigil not followed by `{` is literal as it stands, and `$$${` reads as `$` + `${`.
        out += next === '{' ? ch + ch : ch;
        break;
      default: {
        const code = ch.charCodeAt(0);
        // Other control characters and the Unicode line/paragraph separators: escape them so the
        // file stays one logical line per attribute and nothing invisible hides in it.
        if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) {
          out += `\\u${code.toString(16).padStart(4, '0')}`;
        } else {
          out += ch;
        }
      }
    }
  }
  return `${out}"`;
}

/**
 * A reference such as `aws_iam_openid_connect_provider.airlock.arn` or `var.customer_role_name`.
 * Every part must be an identifier, so a reference can never carry anything else.
 */
export function hclReference(...parts: string[]): HclExpression {
  if (parts.length === 0) throw new Error('hcl: empty reference');
  for (const part of parts) {
    if (!isHclIdentifier(part)) throw new Error(`hcl: ${JSON.stringify(part)} is not an identifier`);
  }
  return expression(parts.join('.'));
}

/** `jsonencode(<value>)`: the value written as an HCL object/tuple, which Terraform turns into JSON. */
export function hclJsonencode(value: HclInput): HclExpression {
  return hclCall('jsonencode', value);
}

/** A call of a Terraform function with the given arguments, each rendered by {@link hclValue}. */
export function hclCall(fn: string, ...args: HclInput[]): HclExpression {
  if (!isHclIdentifier(fn)) throw new Error(`hcl: ${JSON.stringify(fn)} is not a function name`);
  // Arguments are rendered at indent 0; the caller's indentation is applied when nested.
  const rendered = args.map((a) => hclValue(a, 0));
  return expression(`${fn}(${rendered.join(', ')})`);
}

function isExpression(value: unknown): value is HclExpression {
  return typeof value === 'object' && value !== null && EXPRESSIONS.has(value);
}

/** Object keys: bare when they are plain identifiers, otherwise a quoted (escaped) string. */
function hclKey(key: string): string {
  return IDENTIFIER.test(key) && !KEYWORDS.has(key) ? key : hclString(key);
}

/**
 * `name = value` lines with `=` aligned as terraform fmt (hclwrite) aligns them: over runs of
 * consecutive one-line assignments. A line that opens a multi-line value ends the run and keeps a
 * single space before its `=`.
 */
function alignAssignments(items: { name: string; value: string }[], pad: string): string[] {
  const out: string[] = [];
  let run: { name: string; value: string }[] = [];
  const flush = () => {
    const width = Math.max(0, ...run.map((r) => r.name.length));
    for (const r of run) out.push(`${pad}${r.name.padEnd(width)} = ${r.value}`);
    run = [];
  };
  for (const item of items) {
    if (item.value.includes('\n')) {
      flush();
      out.push(`${pad}${item.name} = ${item.value}`);
    } else {
      run.push(item);
    }
  }
  flush();
  return out;
}

function isScalar(value: HclInput): boolean {
  return value === null || typeof value !== 'object' || isExpression(value);
}

/**
 * Renders a value as an HCL expression. Objects are written one key per line and tuples of
 * scalars inline when short; `indent` is the column the expression starts at, so nested lines
 * line up. Throws on values HCL cannot represent (non-finite numbers, `undefined`).
 */
export function hclValue(value: HclInput, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (value === null) return 'null';
  if (typeof value === 'string') return hclString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`hcl: ${value} cannot be written in HCL`);
    return String(value);
  }
  if (isExpression(value)) {
    // Multi-line expressions (a jsonencode of an object) are re-indented to the current column.
    return value.text.split('\n').join(`\n${pad}`);
  }
  if (Array.isArray(value)) {
    const items = value as readonly HclInput[];
    if (items.length === 0) return '[]';
    if (items.every(isScalar)) {
      const inline = `[${items.map((v) => hclValue(v, 0)).join(', ')}]`;
      if (inline.length + indent <= 100 && !inline.includes('\n')) return inline;
    }
    const inner = items.map((v) => `${pad}  ${hclValue(v, indent + 2)},`);
    return `[\n${inner.join('\n')}\n${pad}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, HclInput>);
    for (const [k, v] of entries) {
      if (v === undefined) throw new Error(`hcl: key ${JSON.stringify(k)} has no value`);
    }
    if (entries.length === 0) return '{}';
    const lines = alignAssignments(
      entries.map(([k, v]) => ({ name: hclKey(k), value: hclValue(v, indent + 2) })),
      `${pad}  `,
    );
    return `{\n${lines.join('\n')}\n${pad}}`;
  }
  throw new Error(`hcl: cannot render a value of type ${typeof value}`);
}

/** `name = value`. */
export function hclAttribute(name: string, value: HclInput): HclAttribute {
  if (!isHclIdentifier(name)) throw new Error(`hcl: ${JSON.stringify(name)} is not an attribute name`);
  return { kind: 'attribute', name, value };
}

/**
 * A block. Labels must be identifiers: every label Terraform gives meaning to (resource types and
 * names, variable, provider and output names) is one, and HCL reads labels as literal strings
 * with their own escape rules, so admitting only identifiers leaves nothing to escape.
 */
export function hclBlock(type: string, labels: string[], body: HclBody): HclBlock {
  if (!isHclIdentifier(type)) throw new Error(`hcl: ${JSON.stringify(type)} is not a block type`);
  for (const label of labels) {
    if (!isHclIdentifier(label)) throw new Error(`hcl: block label ${JSON.stringify(label)} is not an identifier (use hclIdentifier)`);
  }
  return { kind: 'block', type, labels: [...labels], body };
}

/**
 * Comment lines. Any line break in `text` (including a lone `\r` and U+2028/2029) starts a new
 * `#` line, so a value quoted in a comment can never end the comment and become configuration.
 */
export function hclComment(text: string): HclComment {
  return { kind: 'comment', text };
}

/** A blank line. */
export const HCL_BLANK: HclBlank = { kind: 'blank' };

function renderComment(text: string, pad: string): string[] {
  return text.split(/\r\n|\r|\n|\u2028|\u2029/).map((line) => {
    // Other control characters are dropped: they have no business in a comment.
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    const clean = line.replace(/[\u0000-\u001f\u007f]/g, '');
    return clean === '' ? `${pad}#` : `${pad}# ${clean}`;
  });
}

function renderBody(body: HclBody, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  // `=` is aligned over runs of consecutive attributes, as terraform fmt does.
  let i = 0;
  while (i < body.length) {
    const entry = body[i]!;
    if (entry.kind === 'attribute') {
      let j = i;
      while (j < body.length && body[j]!.kind === 'attribute') j++;
      const run = body.slice(i, j) as HclAttribute[];
      lines.push(...alignAssignments(run.map((a) => ({ name: a.name, value: hclValue(a.value, indent) })), pad));
      i = j;
      continue;
    }
    if (entry.kind === 'comment') lines.push(...renderComment(entry.text, pad));
    else if (entry.kind === 'blank') lines.push('');
    else lines.push(...renderBlock(entry, indent));
    i++;
  }
  return lines;
}

function renderBlock(block: HclBlock, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const head = [block.type, ...block.labels.map(hclString)].join(' ');
  if (block.body.length === 0) return [`${pad}${head} {}`];
  return [`${pad}${head} {`, ...renderBody(block.body, indent + 2), `${pad}}`];
}

/**
 * Renders a whole file: top-level entries separated as given, ending in one newline. Top-level
 * blocks are separated by a blank line unless the caller already put one there.
 */
export function renderHcl(body: HclBody): string {
  const spaced: HclBody = [];
  for (const entry of body) {
    const prev = spaced[spaced.length - 1];
    if (entry.kind === 'block' && prev && prev.kind === 'block') spaced.push(HCL_BLANK);
    spaced.push(entry);
  }
  return `${renderBody(spaced, 0).join('\n')}\n`;
}
