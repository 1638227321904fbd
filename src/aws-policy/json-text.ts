/**
 * JSON text read the way a policy document needs: every repeated key reported (JSON.parse keeps
 * the last one silently, and a repeated key in a trust policy narrows or widens who may assume the
 * role), and syntax errors placed by line, column and the policy field they occur in.
 *
 * The tokenizing and the grammar are jsonc-parser's (its visitor, with comments and trailing
 * commas refused, so it reads strict RFC 8259 JSON); this module builds the value, keeps the path
 * and words the errors.
 */
import { printParseErrorCode, visit, type ParseErrorCode } from 'jsonc-parser';

/** A key or an array index on the way to a value. */
export type PathSegment = string | number;

/** Deep enough for any policy (Condition values sit at depth 5); a guard for hostile input. */
const MAX_JSON_DEPTH = 32;

/** A key given more than once in one object. */
export interface DuplicateKey {
  /** Path of the object that holds the repeated key. */
  path: PathSegment[];
  key: string;
  /** Every value given for the key, in document order. */
  values: unknown[];
}

export interface ParsedJson {
  value: unknown;
  duplicates: DuplicateKey[];
}

/** Text that is not JSON; `path` is the field it broke in, the message ends with line and column. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly path: PathSegment[],
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

type Frame =
  | { kind: 'object'; value: Record<string, unknown>; path: PathSegment[]; key: string | undefined; seen: Map<string, unknown[]> }
  | { kind: 'array'; value: unknown[]; path: PathSegment[] };

/** Parses `text` as strict JSON (a leading byte-order mark is allowed), collecting repeated keys. */
export function parseJsonText(text: string): ParsedJson {
  // A byte-order mark is what editors on some platforms put in front of saved JSON; it is not content.
  const shift = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const body = text.slice(shift);
  const fail = (message: string, path: PathSegment[], offset: number): never => {
    const before = text.slice(0, offset + shift);
    const line = before.split('\n').length;
    const column = offset + shift - before.lastIndexOf('\n');
    throw new JsonSyntaxError(`${message} at line ${line}, column ${column}`, path);
  };
  checkDepth(body, fail);

  const duplicates: DuplicateKey[] = [];
  const stack: Frame[] = [];
  let root: unknown;
  let rootSet = false;
  let closed: Frame | undefined;
  let firstError: { code: ParseErrorCode; offset: number; length: number; frame: Frame | undefined; complete: boolean } | undefined;

  const childPath = (): PathSegment[] => {
    const top = stack[stack.length - 1];
    if (!top) return [];
    return top.kind === 'array' ? [...top.path, top.value.length] : [...top.path, top.key ?? ''];
  };
  const put = (value: unknown) => {
    const top = stack[stack.length - 1];
    if (!top) {
      root = value;
      rootSet = true;
    }
    else if (top.kind === 'array') top.value.push(value);
    else {
      const key = top.key ?? '';
      const earlier = top.seen.get(key);
      if (earlier) {
        earlier.push(value);
        if (earlier.length === 2) duplicates.push({ path: top.path, key, values: earlier });
      } else top.seen.set(key, [value]);
      // defineProperty, not assignment: a "__proto__" key must stay data, never a prototype.
      Object.defineProperty(top.value, key, { value, enumerable: true, writable: true, configurable: true });
    }
  };

  visit(
    body,
    {
      onObjectBegin: () => {
        const frame: Frame = { kind: 'object', value: {}, path: childPath(), key: undefined, seen: new Map() };
        put(frame.value);
        stack.push(frame);
      },
      onObjectProperty: (property) => {
        const top = stack[stack.length - 1];
        if (top?.kind === 'object') top.key = property;
      },
      onArrayBegin: () => {
        const frame: Frame = { kind: 'array', value: [], path: childPath() };
        put(frame.value);
        stack.push(frame);
      },
      onObjectEnd: () => void (closed = stack.pop()),
      onArrayEnd: () => void (closed = stack.pop()),
      onLiteralValue: (value: unknown) => put(value),
      onError: (code, offset, length) => {
        // The parser goes on after an error (it is made for editors); only the first one is meaningful.
        if (firstError) return;
        const name = printParseErrorCode(code);
        // A missing closing bracket is found after the container has already been left.
        const unclosed = name === 'CloseBraceExpected' || name === 'CloseBracketExpected';
        const frame = unclosed ? closed : stack[stack.length - 1];
        firstError = { code, offset, length, frame, complete: !unclosed && rootSet && stack.length === 0 };
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );

  if (firstError) {
    const { code, offset, length, frame, complete } = firstError;
    if (complete) return fail('unexpected text after the end of the document', [], offset);
    const path = frame?.path ?? [];
    const key = frame?.kind === 'object' ? frame.key : undefined;
    const after = key === undefined ? '' : ` after the value of ${JSON.stringify(key)}`;
    const here = body[offset];
    switch (printParseErrorCode(code)) {
      case 'PropertyNameExpected':
        return fail('expected a key in double quotes', path, offset);
      case 'ColonExpected':
        return fail(`expected ":" after the key ${JSON.stringify(key)}`, path, offset);
      case 'CommaExpected':
        if (frame?.kind === 'array') return fail('expected "," or "]" in an array', path, offset);
        if (here === '"') {
          // The product guide's broken example is exactly this: entries without commas that also
          // repeat a key. Say both, so fixing the commas does not lead straight into the next error.
          const next = stringAt(body, offset, length);
          const repeat =
            next !== undefined && frame?.kind === 'object' && frame.seen.has(next)
              ? `; also, ${JSON.stringify(next)} is already a key of this object, so its values belong in one key as an array`
              : '';
          return fail(`expected ","${after} (a comma is missing between two entries${repeat})`, path, offset);
        }
        return fail(`expected "," or "}"${after}`, path, offset);
      case 'CloseBraceExpected':
        return fail(`expected "," or "}"${after}`, path, offset);
      case 'CloseBracketExpected':
        return fail('expected "," or "]" in an array', path, offset);
      case 'EndOfFileExpected':
        return fail('unexpected text after the end of the document', path, offset);
      case 'InvalidNumberFormat':
      case 'UnexpectedEndOfNumber':
        return fail('malformed number', path, offset);
      case 'UnexpectedEndOfString':
        return fail('unterminated string', path, offset);
      case 'InvalidUnicode':
        return fail('bad \\u escape in a string', path, offset);
      case 'InvalidEscapeCharacter':
        return fail('bad escape in a string', path, offset);
      case 'InvalidCharacter':
        return fail('unescaped control character in a string', path, offset);
      case 'InvalidCommentToken':
      case 'UnexpectedEndOfComment':
        return fail('comments are not JSON', path, offset);
      default:
        if (here === undefined) return fail('unexpected end of text where a value was expected', path, offset);
        return fail(`unexpected character ${JSON.stringify(here)} where a value was expected`, path, offset);
    }
  }
  return { value: root, duplicates };
}

/** The string literal at `offset` (the parser's current token), decoded; undefined when it is not one. */
function stringAt(text: string, offset: number, length: number): string | undefined {
  try {
    const v: unknown = JSON.parse(text.slice(offset, offset + length));
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses nesting deeper than MAX_JSON_DEPTH before the (recursive) parser sees the text, so hostile
 * input cannot exhaust the stack. Brackets inside strings do not count.
 */
function checkDepth(text: string, fail: (message: string, path: PathSegment[], offset: number) => never): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string, escapes included; an unterminated one is the parser's to report.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) fail('is nested too deeply', [], i);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}
