/**
 * IAM role trust policies: a strict parser and an evaluator with AWS's documented semantics.
 *
 * Two callers depend on this being right in opposite directions. The Deployment setup generates
 * trust policies and tests them here, so an evaluator that is *more* permissive than AWS would let
 * a broken policy ship. The local STS emulator decides `AssumeRoleWithWebIdentity` / `AssumeRole`
 * here, so one that is *less* permissive would fail workloads that work on AWS. Where AWS's docs
 * leave a corner open, the choice is written down beside the code that makes it.
 *
 * References (AWS IAM User Guide): "Policy evaluation logic", "IAM JSON policy elements:
 * Principal / NotPrincipal / Action / NotAction / Condition / Condition operators",
 * "Creating a condition with multiple context keys or values", "Single-valued vs. multivalued
 * context keys", "IAM policy elements: Variables and tags".
 */
import { BlockList, isIP } from 'node:net';
import { AppError } from '../errors/index.ts';
import { JsonSyntaxError, parseJsonText, type DuplicateKey, type ParsedJson, type PathSegment } from './json-text.ts';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** The principal kinds a role trust policy can name. */
export type PrincipalType = 'AWS' | 'Federated' | 'Service';

/** `"*"` (everyone) or a map from principal kind to one or more identifiers. */
export type PolicyPrincipal = '*' | Partial<Record<PrincipalType, string | string[]>>;

/**
 * A condition value as stored after parsing. Numbers in the JSON are turned into their string form
 * (AWS compares them as text for string operators and parses them for numeric ones).
 */
export type ConditionValue = string | string[] | boolean;

/** One statement of a trust policy. Exactly one of Principal/NotPrincipal and of Action/NotAction is set. */
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: PolicyPrincipal;
  NotPrincipal?: PolicyPrincipal;
  Action?: string | string[];
  NotAction?: string | string[];
  /** Operator (e.g. `StringEquals`, `ForAnyValue:StringLike`) → condition key → value(s). */
  Condition?: Record<string, Record<string, ConditionValue>>;
}

/** A trust policy document as returned by {@link parseTrustPolicy}. */
export interface PolicyDocument {
  /** Filled in as `2008-10-17` when absent, which is what AWS assumes (policy variables then stay literal). */
  Version: '2012-10-17' | '2008-10-17';
  Id?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

/** The request a trust policy is asked about. */
export interface TrustRequest {
  /** e.g. `sts:AssumeRoleWithWebIdentity`, `sts:AssumeRole` or `sts:TagSession`. */
  action: string;
  /**
   * Who asks: for web identity the OIDC provider ARN (`Federated`); for AssumeRole the caller's ARN
   * (`AWS`), e.g. `arn:aws:sts::123456789012:assumed-role/r/s` or `arn:aws:iam::123456789012:role/r`.
   */
  principal: { type: PrincipalType; id: string };
  /**
   * Condition context keys → values. Keys compare case-insensitively (AWS: condition key names are
   * not case-sensitive). Multi-valued keys (an `aud` claim with several audiences) are arrays; an
   * empty array is treated as an absent key. Non-string values are compared as their string form.
   */
  context: Record<string, string | string[]>;
}

/**
 * The outcome of {@link evaluateTrustPolicy}. `statement` is the index into `Statement` (0 when
 * `Statement` is a single object). `reason` is meant for logs and for the emulator's error message;
 * it quotes request values, which are the caller's own claims, never secrets.
 */
export type TrustDecision =
  | { decision: 'allow'; statement: number }
  | { decision: 'explicit-deny'; statement: number; reason: string }
  | { decision: 'implicit-deny'; reason: string };

// ---------------------------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------------------------

/**
 * Parses and validates a trust policy given as JSON text or as an object, and returns a normalised
 * copy (the input is never aliased).
 *
 * Rejects with `AppError('ERR_VALIDATION')` whose `field` names the place at fault (for example
 * `Statement[0].Condition.StringEquals`) and whose `example` shows an accepted form:
 * - text that is not JSON (with line and column), or that repeats a key inside one object — JSON.parse
 *   would silently keep the last one, AWS rejects the document. A condition key repeated inside one
 *   operator block (the product guide's own mistake: several `"<issuer>:sub"` keys in one StringLike)
 *   gets a message that names the key and shows the values merged into one array;
 * - unknown top-level or statement keys, `Resource` (prohibited in trust policies), a missing Effect,
 *   Principal or Action, partial wildcards in a principal, unknown condition operators, and condition
 *   values of the wrong form for their operator (Bool/Null take true/false, Numeric a number, ...).
 *
 * Stricter than AWS in one place: two keys in one operator block that differ only in case are
 * rejected, because they are the same condition key and the pair can only be the duplicate-key
 * mistake again.
 */
export function parseTrustPolicy(input: string | object): PolicyDocument {
  let value: unknown = input;
  if (typeof input === 'string') {
    let parsed: ParsedJson;
    try {
      parsed = parseJsonText(input);
    } catch (err) {
      if (!(err instanceof JsonSyntaxError)) throw err;
      invalid(err.path, `is not valid JSON: ${err.message}`, EXAMPLE_DOCUMENT);
    }
    const first = parsed.duplicates[0];
    if (first) duplicateKeyError(first);
    value = parsed.value;
  }
  return compileDocument(value).document;
}

/**
 * Decides whether `req` may proceed under `policy`, following AWS's evaluation logic for a single
 * resource-based policy: a matching Deny statement wins over everything, otherwise a matching Allow
 * statement allows, otherwise the request is implicitly denied.
 *
 * A statement matches when its Action/NotAction, its Principal/NotPrincipal and all of its
 * conditions match. Condition semantics:
 * - several operator blocks, and several keys in one block, are ANDed; several values for one key
 *   are ORed;
 * - a key absent from the request makes a positive operator false and a negated one
 *   (`StringNotEquals`, `StringNotLike`, ...) true; `...IfExists` makes any operator true when the
 *   key is absent; `Null: true` holds exactly when it is absent;
 * - `ForAllValues:` holds when every request value matches (so also when the key is absent or
 *   empty), `ForAnyValue:` when at least one does (so never when absent or empty);
 * - a negated operator with several policy values means "matches none of them";
 * - without a set prefix, a multivalued request key satisfies a positive operator when ANY of its
 *   values matches, and a negated operator when NONE of its values matches any policy value (the
 *   exact complement, so `StringNotEquals` is always "not StringEquals"). AWS's docs say multivalued
 *   keys "require" a set operator and do not define the unprefixed case; any-match is the reading
 *   under which a token whose `aud` is `["sts.amazonaws.com", "other"]` satisfies the usual
 *   `StringEquals <issuer>:aud sts.amazonaws.com`, as an audience check should, and it keeps single-
 *   valued keys (the common case) exactly as documented.
 *
 * Principal matching: `"*"` matches everyone; `{"AWS": "*"}` matches any AWS principal (not a
 * Federated or Service caller); a 12-digit account id or `arn:<partition>:iam::<acct>:root` matches
 * any principal of that account; a role ARN `arn:aws:iam::A:role/path/name` also matches that role's
 * sessions `arn:aws:sts::A:assumed-role/name/<session>` (role chaining). In `NotPrincipal` a role
 * ARN does NOT cover its sessions: AWS's NotPrincipal docs tell you to list the session ARN as well,
 * so the evaluator applies a Deny+NotPrincipal to a session whose ARN is not listed.
 *
 * The policy is validated as {@link parseTrustPolicy} does (throwing the same errors), so an
 * unvalidated object cannot smuggle in an operator the evaluator would not understand.
 */
export function evaluateTrustPolicy(policy: PolicyDocument, req: TrustRequest): TrustDecision {
  const { statements, variables } = compileDocument(policy);
  const ctx = contextMap(req.context);
  const who = `${req.principal.type} ${JSON.stringify(req.principal.id)}`;
  let allowedBy: number | undefined;
  const misses: string[] = [];
  for (const s of statements) {
    const miss = whyNotApplies(s, req, ctx, variables);
    if (miss === undefined) {
      // An explicit Deny decides the request no matter what any other statement says.
      if (s.effect === 'Deny') {
        return { decision: 'explicit-deny', statement: s.index, reason: `${s.label} explicitly denies ${req.action} to ${who}` };
      }
      allowedBy ??= s.index;
    } else if (s.effect === 'Allow') {
      misses.push(miss);
    }
  }
  if (allowedBy !== undefined) return { decision: 'allow', statement: allowedBy };
  return {
    decision: 'implicit-deny',
    reason: misses.length === 0 ? `the trust policy has no Allow statement, so ${req.action} is denied to ${who}` : `no statement allows ${req.action} to ${who}: ${misses.join('; ')}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Errors and field paths
// ---------------------------------------------------------------------------------------------


const EXAMPLE_STATEMENT = {
  Effect: 'Allow',
  Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/airlock.example.com/clusters/cl_abc' },
  Action: 'sts:AssumeRoleWithWebIdentity',
  Condition: {
    StringEquals: {
      'airlock.example.com/clusters/cl_abc:aud': 'sts.amazonaws.com',
      'airlock.example.com/clusters/cl_abc:sub': ['system:serviceaccount:ns:ns-worker-serviceaccount', 'system:serviceaccount:ns:ns-scheduler-serviceaccount'],
    },
  },
} as const;
const EXAMPLE_DOCUMENT = { Version: '2012-10-17', Statement: [EXAMPLE_STATEMENT] } as const;

/** `Statement[0].Condition.StringEquals["issuer:sub"]`: dotted where the name allows it, bracketed JSON otherwise. */
function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    // Operators may carry a set prefix (`ForAnyValue:StringLike`); condition keys (`aws:x`) are bracketed.
    else if (/^(?:ForAnyValue:|ForAllValues:)?[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function invalid(path: readonly PathSegment[], message: string, example?: unknown, details?: Record<string, unknown>): never {
  const field = formatPath(path);
  throw new AppError('ERR_VALIDATION', `cloud(aws): trust policy ${field || 'document'} ${message}`, {
    field: field || undefined,
    example,
    details,
  });
}

function quoteList(values: readonly string[], max = 8): string {
  const shown = values.slice(0, max).map((v) => JSON.stringify(v));
  if (values.length > max) shown.push(`… (${values.length - max} more)`);
  return shown.join(', ');
}

function uniqueStrings(values: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of values.flatMap((x): unknown[] => (Array.isArray(x) ? (x as unknown[]) : [x]))) if (!out.includes(v)) out.push(v);
  return out;
}

/** A key repeated in one operator block: name it, and show the one-key-with-an-array form that was meant. */
function conditionKeyRepeated(path: readonly PathSegment[], spellings: readonly string[], values: readonly unknown[]): never {
  const key = spellings[0] as string;
  const merged = uniqueStrings(values);
  const named = spellings.length > 1 && spellings.some((s) => s !== key) ? `names the condition key "${key}" ${spellings.length} times (as ${quoteList(spellings)}; condition keys are not case-sensitive)` : `names the condition key "${key}" ${spellings.length} times`;
  invalid(
    path,
    `${named}. JSON keeps only the last one, so the other values would be silently dropped, and AWS rejects the document. ` +
      `The values belong in one key as an array: "${key}": [${merged.map((v) => JSON.stringify(v)).join(', ')}]`,
    Object.fromEntries([[key, merged]]),
    { key, occurrences: spellings.length },
  );
}

function duplicateKeyError(d: DuplicateKey): never {
  if (d.path.length >= 2 && d.path[d.path.length - 2] === 'Condition') {
    conditionKeyRepeated(d.path, d.values.map(() => d.key), d.values);
  }
  // Two blocks of the same operator were meant as one block with all of their keys.
  const operatorBlocks = d.path[d.path.length - 1] === 'Condition' && d.values.every(isObject);
  const hint =
    d.key === 'Statement' ? ' Put all statements in one "Statement" array.' : operatorBlocks ? ` The operator blocks belong in one "${d.key}" object holding all of their keys.` : '';
  const example = operatorBlocks
    ? Object.fromEntries([[d.key, Object.fromEntries(d.values.flatMap((v) => Object.entries(v as Record<string, unknown>)))]])
    : d.path.length === 0 ? EXAMPLE_DOCUMENT : EXAMPLE_STATEMENT;
  invalid(
    [...d.path, d.key],
    `appears ${d.values.length} times in the same object. JSON keeps only the last one, so the others would be silently ignored, and AWS rejects the document.${hint}`,
    example,
    { key: d.key, occurrences: d.values.length },
  );
}

// ---------------------------------------------------------------------------------------------
// Validation and compilation
// ---------------------------------------------------------------------------------------------

type BaseOperator =
  | 'StringEquals'
  | 'StringEqualsIgnoreCase'
  | 'StringLike'
  | 'NumericEquals'
  | 'NumericLessThan'
  | 'NumericLessThanEquals'
  | 'NumericGreaterThan'
  | 'NumericGreaterThanEquals'
  | 'DateEquals'
  | 'DateLessThan'
  | 'DateLessThanEquals'
  | 'DateGreaterThan'
  | 'DateGreaterThanEquals'
  | 'Bool'
  | 'BinaryEquals'
  | 'IpAddress'
  | 'ArnLike'
  | 'Null';

/**
 * Every operator AWS documents, as the positive comparison it is built on. A negated operator is
 * evaluated as "the request value matches none of the policy values" under its positive twin.
 * ArnEquals and ArnLike are the same comparison: AWS documents both as component-wise and
 * wildcard-aware.
 */
const OPERATORS = new Map<string, { base: BaseOperator; negated: boolean }>([
  ['StringEquals', { base: 'StringEquals', negated: false }],
  ['StringNotEquals', { base: 'StringEquals', negated: true }],
  ['StringEqualsIgnoreCase', { base: 'StringEqualsIgnoreCase', negated: false }],
  ['StringNotEqualsIgnoreCase', { base: 'StringEqualsIgnoreCase', negated: true }],
  ['StringLike', { base: 'StringLike', negated: false }],
  ['StringNotLike', { base: 'StringLike', negated: true }],
  ['NumericEquals', { base: 'NumericEquals', negated: false }],
  ['NumericNotEquals', { base: 'NumericEquals', negated: true }],
  ['NumericLessThan', { base: 'NumericLessThan', negated: false }],
  ['NumericLessThanEquals', { base: 'NumericLessThanEquals', negated: false }],
  ['NumericGreaterThan', { base: 'NumericGreaterThan', negated: false }],
  ['NumericGreaterThanEquals', { base: 'NumericGreaterThanEquals', negated: false }],
  ['DateEquals', { base: 'DateEquals', negated: false }],
  ['DateNotEquals', { base: 'DateEquals', negated: true }],
  ['DateLessThan', { base: 'DateLessThan', negated: false }],
  ['DateLessThanEquals', { base: 'DateLessThanEquals', negated: false }],
  ['DateGreaterThan', { base: 'DateGreaterThan', negated: false }],
  ['DateGreaterThanEquals', { base: 'DateGreaterThanEquals', negated: false }],
  ['Bool', { base: 'Bool', negated: false }],
  ['BinaryEquals', { base: 'BinaryEquals', negated: false }],
  ['IpAddress', { base: 'IpAddress', negated: false }],
  ['NotIpAddress', { base: 'IpAddress', negated: true }],
  ['ArnEquals', { base: 'ArnLike', negated: false }],
  ['ArnLike', { base: 'ArnLike', negated: false }],
  ['ArnNotEquals', { base: 'ArnLike', negated: true }],
  ['ArnNotLike', { base: 'ArnLike', negated: true }],
  ['Null', { base: 'Null', negated: false }],
]);

type SetOperator = 'ForAnyValue' | 'ForAllValues';

interface CompiledCondition {
  path: PathSegment[];
  key: string;
  set: SetOperator | undefined;
  base: BaseOperator;
  negated: boolean;
  ifExists: boolean;
  /** Policy values in string form; booleans and numbers are compared as text, as AWS does. */
  values: string[];
}

interface CompiledPrincipal {
  negated: boolean;
  any: boolean;
  byType: Map<PrincipalType, string[]>;
}

interface CompiledStatement {
  index: number;
  /** `Statement[1] (Sid DenyOthers)`, for reasons. */
  label: string;
  path: PathSegment[];
  effect: 'Allow' | 'Deny';
  principal: CompiledPrincipal;
  action: { negated: boolean; patterns: GlobToken[][] };
  conditions: CompiledCondition[];
}

interface CompiledDocument {
  document: PolicyDocument;
  statements: CompiledStatement[];
  /** Policy variables (`${aws:username}`) are only substituted in version 2012-10-17 documents. */
  variables: boolean;
}

const TOP_LEVEL_KEYS = ['Version', 'Id', 'Statement'];
const STATEMENT_KEYS = ['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Condition'];
const PRINCIPAL_TYPES: readonly PrincipalType[] = ['AWS', 'Federated', 'Service'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** "did you mean" for near-misses such as `effect` or `StringEqual`. */
function suggest(given: string, known: Iterable<string>): string {
  const lower = given.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : `; did you mean "${best}"?`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: PathSegment[], example: unknown): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    if (path.length > 0 && (key === 'Resource' || key === 'NotResource')) {
      invalid([...path, key], 'is not allowed in a trust policy: the role itself is the resource (AWS: "Has prohibited field Resource")', example);
    }
    invalid([...path, key], `is not a known key (allowed: ${allowed.join(', ')})${suggest(key, allowed)}`, example);
  }
}

/** A string or a non-empty array of strings, as Action and Principal values are written. */
function stringList(value: unknown, path: PathSegment[], what: string, example: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) invalid(path, `must list at least one ${what}`, example);
  list.forEach((v, i) => {
    if (typeof v !== 'string' || v === '') invalid(Array.isArray(value) ? [...path, i] : path, `must be a non-empty string (${what})`, example);
  });
  return list as string[];
}

function compileDocument(input: unknown): CompiledDocument {
  if (!isObject(input)) invalid([], 'must be a JSON object with "Version" and "Statement"', EXAMPLE_DOCUMENT);
  checkKeys(input, TOP_LEVEL_KEYS, [], EXAMPLE_DOCUMENT);

  let version: PolicyDocument['Version'] = '2008-10-17';
  if (input.Version !== undefined) {
    if (input.Version !== '2012-10-17' && input.Version !== '2008-10-17') {
      invalid(['Version'], `must be "2012-10-17" (or the legacy "2008-10-17"), not ${JSON.stringify(input.Version)}`, '2012-10-17');
    }
    version = input.Version;
  }
  if (input.Id !== undefined && typeof input.Id !== 'string') invalid(['Id'], 'must be a string', 'airlock-trust');

  const raw = input.Statement;
  if (raw === undefined) invalid(['Statement'], 'is missing', EXAMPLE_DOCUMENT);
  const single = isObject(raw);
  if (!single && !Array.isArray(raw)) invalid(['Statement'], 'must be a statement object or an array of them', EXAMPLE_DOCUMENT);
  const rawStatements: unknown[] = single ? [raw] : (raw as unknown[]);
  if (rawStatements.length === 0) invalid(['Statement'], 'must contain at least one statement', EXAMPLE_DOCUMENT);

  const sids = new Set<string>();
  const statements: CompiledStatement[] = [];
  const outStatements: PolicyStatement[] = [];
  rawStatements.forEach((s, index) => {
    const path: PathSegment[] = single ? ['Statement'] : ['Statement', index];
    const { compiled, normalized } = compileStatement(s, path, index);
    if (normalized.Sid !== undefined && normalized.Sid !== '') {
      if (sids.has(normalized.Sid)) invalid([...path, 'Sid'], `repeats the Sid "${normalized.Sid}"; Sids must be unique within a policy`, `${normalized.Sid}2`);
      sids.add(normalized.Sid);
    }
    statements.push(compiled);
    outStatements.push(normalized);
  });

  const document: PolicyDocument = {
    Version: version,
    ...(input.Id !== undefined ? { Id: input.Id as string } : {}),
    Statement: single ? (outStatements[0] as PolicyStatement) : outStatements,
  };
  return { document, statements, variables: version === '2012-10-17' };
}

function compileStatement(s: unknown, path: PathSegment[], index: number): { compiled: CompiledStatement; normalized: PolicyStatement } {
  if (!isObject(s)) invalid(path, 'must be an object', EXAMPLE_STATEMENT);
  checkKeys(s, STATEMENT_KEYS, path, EXAMPLE_STATEMENT);

  let sid: string | undefined;
  if (s.Sid !== undefined) {
    // IAM (unlike some resource policies) only accepts ASCII letters and digits in a Sid.
    if (typeof s.Sid !== 'string' || !/^[A-Za-z0-9]*$/.test(s.Sid)) invalid([...path, 'Sid'], 'may contain only the letters A-Z, a-z and the digits 0-9', 'AllowAirlockDeployment');
    sid = s.Sid;
  }

  if (s.Effect === undefined) invalid([...path, 'Effect'], 'is missing; it must be "Allow" or "Deny"', 'Allow');
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') {
    invalid([...path, 'Effect'], `must be "Allow" or "Deny", not ${JSON.stringify(s.Effect)}${typeof s.Effect === 'string' ? suggest(s.Effect, ['Allow', 'Deny']) : ''}`, 'Allow');
  }
  const effect = s.Effect;

  // Principal ------------------------------------------------------------------------------
  if (s.Principal !== undefined && s.NotPrincipal !== undefined) invalid([...path, 'NotPrincipal'], 'cannot be used together with Principal in one statement', EXAMPLE_STATEMENT);
  if (s.Principal === undefined && s.NotPrincipal === undefined) invalid([...path, 'Principal'], 'is missing; a trust policy statement must say who may assume the role', EXAMPLE_STATEMENT.Principal);
  const principalKey = s.Principal !== undefined ? 'Principal' : 'NotPrincipal';
  const { compiled: principal, normalized: principalOut } = compilePrincipal(s[principalKey], [...path, principalKey], principalKey === 'NotPrincipal');

  // Action ---------------------------------------------------------------------------------
  if (s.Action !== undefined && s.NotAction !== undefined) invalid([...path, 'NotAction'], 'cannot be used together with Action in one statement', EXAMPLE_STATEMENT.Action);
  if (s.Action === undefined && s.NotAction === undefined) invalid([...path, 'Action'], 'is missing', EXAMPLE_STATEMENT.Action);
  const actionKey = s.Action !== undefined ? 'Action' : 'NotAction';
  const actions = stringList(s[actionKey], [...path, actionKey], 'action', EXAMPLE_STATEMENT.Action);
  actions.forEach((a, i) => {
    if (a !== '*' && !/^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$/.test(a)) {
      invalid(Array.isArray(s[actionKey]) ? [...path, actionKey, i] : [...path, actionKey], `has ${JSON.stringify(a)}, which is not an action of the form "service:Action"`, EXAMPLE_STATEMENT.Action);
    }
  });

  // Condition ------------------------------------------------------------------------------
  const { compiled: conditions, normalized: conditionOut } = compileConditions(s.Condition, [...path, 'Condition']);

  const normalized: PolicyStatement = {
    ...(sid !== undefined ? { Sid: sid } : {}),
    Effect: effect,
    [principalKey]: principalOut,
    [actionKey]: Array.isArray(s[actionKey]) ? [...actions] : actions[0],
    ...(conditionOut !== undefined ? { Condition: conditionOut } : {}),
  };
  const label = `${formatPath(path)}${sid ? ` (Sid ${sid})` : ''}`;
  return {
    compiled: {
      index,
      label,
      path,
      effect,
      principal,
      action: { negated: actionKey === 'NotAction', patterns: actions.map((a) => toTokens(a.toLowerCase(), true)) },
      conditions,
    },
    normalized,
  };
}

const ACCOUNT_ID = /^\d{12}$/;
const IAM_OR_STS_ARN = /^arn:[a-z-]+:(?:iam|sts)::\d{12}:\S+$/;
/** IAM shows a unique id (AROA…, AIDA…) in place of an ARN whose principal was deleted; it matches nothing new. */
const UNIQUE_ID = /^A[A-Z0-9]{15,127}$/;

function compilePrincipal(raw: unknown, path: PathSegment[], negated: boolean): { compiled: CompiledPrincipal; normalized: PolicyPrincipal } {
  const example = EXAMPLE_STATEMENT.Principal;
  if (raw === '*') return { compiled: { negated, any: true, byType: new Map() }, normalized: '*' };
  if (!isObject(raw)) invalid(path, 'must be "*" or an object such as {"Federated": "<provider ARN>"} or {"AWS": "<role ARN>"}', example);
  const keys = Object.keys(raw);
  if (keys.length === 0) invalid(path, 'names no principal', example);
  const byType = new Map<PrincipalType, string[]>();
  const normalized: Partial<Record<PrincipalType, string | string[]>> = {};
  for (const key of keys) {
    if (key === 'CanonicalUser') invalid([...path, key], 'is an S3 principal and cannot assume a role', example);
    if (!(PRINCIPAL_TYPES as readonly string[]).includes(key)) invalid([...path, key], `is not a principal type (use AWS, Federated or Service)${suggest(key, PRINCIPAL_TYPES)}`, example);
    const type = key as PrincipalType;
    const value = raw[type];
    const list = stringList(value, [...path, type], `${type} principal`, example);
    list.forEach((v, i) => {
      const at = Array.isArray(value) ? [...path, type, i] : [...path, type];
      // AWS allows "*" on its own but no wildcard inside a principal name or ARN.
      if (v !== '*' && (v.includes('*') || v.includes('?'))) {
        invalid(at, `has ${JSON.stringify(v)}; wildcards are not allowed inside a principal, only "*" on its own (narrow it with a condition on aws:PrincipalArn instead)`, example);
      }
      if (type === 'AWS' && v !== '*' && !ACCOUNT_ID.test(v) && !IAM_OR_STS_ARN.test(v) && !UNIQUE_ID.test(v)) {
        invalid(at, `has ${JSON.stringify(v)}, which is not an account id or an IAM/STS ARN`, { AWS: 'arn:aws:iam::123456789012:role/airlock-deployment' });
      }
    });
    byType.set(type, list);
    normalized[type] = Array.isArray(value) ? [...list] : (list[0] as string);
  }
  return { compiled: { negated, any: false, byType }, normalized };
}

function compileConditions(raw: unknown, path: PathSegment[]): { compiled: CompiledCondition[]; normalized: PolicyStatement['Condition'] } {
  if (raw === undefined) return { compiled: [], normalized: undefined };
  const example = EXAMPLE_STATEMENT.Condition;
  if (!isObject(raw)) invalid(path, 'must be an object of operators, e.g. {"StringEquals": {"<key>": "<value>"}}', example);
  const compiled: CompiledCondition[] = [];
  const normalized: Record<string, Record<string, ConditionValue>> = {};
  for (const [operator, block] of Object.entries(raw)) {
    const opPath = [...path, operator];
    const op = parseOperator(operator, opPath);
    if (!isObject(block)) invalid(opPath, 'must be an object of condition keys to values', example);
    const entries = Object.entries(block);
    if (entries.length === 0) invalid(opPath, 'has no condition keys', example);
    const byLowerKey = new Map<string, string[]>();
    for (const [key] of entries) {
      const spellings = byLowerKey.get(key.toLowerCase()) ?? [];
      spellings.push(key);
      byLowerKey.set(key.toLowerCase(), spellings);
    }
    for (const spellings of byLowerKey.values()) {
      if (spellings.length > 1) conditionKeyRepeated(opPath, spellings, spellings.map((k) => block[k]));
    }
    const out: [string, ConditionValue][] = [];
    for (const [key, value] of entries) {
      const keyPath = [...opPath, key];
      if (key === '') invalid(keyPath, 'has an empty condition key', example);
      const list = Array.isArray(value) ? value : [value];
      if (list.length === 0) invalid(keyPath, 'must have at least one value', example);
      const values = list.map((v, i) => {
        if (typeof v === 'string') return v;
        if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
        return invalid(Array.isArray(value) ? [...keyPath, i] : keyPath, 'must be a string, a number or a boolean (or an array of them)', example);
      });
      values.forEach((v, i) => checkConditionValue(op.base, v, Array.isArray(value) ? [...keyPath, i] : keyPath));
      compiled.push({ path: keyPath, key, ...op, values });
      out.push([key, Array.isArray(value) ? values : typeof value === 'boolean' ? value : values[0] as string]);
    }
    // fromEntries, not assignment, so a condition key named "__proto__" stays a key.
    Object.defineProperty(normalized, operator, { value: Object.fromEntries(out), enumerable: true, writable: true, configurable: true });
  }
  return { compiled, normalized };
}

function parseOperator(name: string, path: PathSegment[]): { set: SetOperator | undefined; base: BaseOperator; negated: boolean; ifExists: boolean } {
  let rest = name;
  let set: SetOperator | undefined;
  for (const prefix of ['ForAnyValue', 'ForAllValues'] as const) {
    if (rest.startsWith(`${prefix}:`)) {
      set = prefix;
      rest = rest.slice(prefix.length + 1);
    }
  }
  let ifExists = false;
  if (rest.endsWith('IfExists') && rest !== 'IfExists') {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  const op = OPERATORS.get(rest);
  if (!op) {
    invalid(path, `is not a condition operator${suggest(rest, OPERATORS.keys())}`, { StringEquals: { '<issuer>:sub': 'system:serviceaccount:<namespace>:<service-account>' } });
  }
  if (op.base === 'Null' && (set !== undefined || ifExists)) {
    invalid(path, 'cannot combine Null with a set operator or IfExists: Null already tests whether the key is present', { Null: { 'aws:TagKeys': 'false' } });
  }
  return { set, base: op.base, negated: op.negated, ifExists };
}

function checkConditionValue(base: BaseOperator, v: string, path: PathSegment[]): void {
  switch (base) {
    case 'Bool':
    case 'Null':
      if (v.toLowerCase() !== 'true' && v.toLowerCase() !== 'false') invalid(path, `must be true or false, not ${JSON.stringify(v)}`, 'true');
      return;
    case 'NumericEquals':
    case 'NumericLessThan':
    case 'NumericLessThanEquals':
    case 'NumericGreaterThan':
    case 'NumericGreaterThanEquals':
      if (parseNumber(v) === undefined) invalid(path, `must be a number, not ${JSON.stringify(v)}`, '3600');
      return;
    case 'DateEquals':
    case 'DateLessThan':
    case 'DateLessThanEquals':
    case 'DateGreaterThan':
    case 'DateGreaterThanEquals':
      if (parseDate(v) === undefined) invalid(path, `must be an ISO 8601 date or epoch seconds, not ${JSON.stringify(v)}`, '2030-01-01T00:00:00Z');
      return;
    case 'IpAddress':
      if (parseCidr(v) === undefined) invalid(path, `must be an IP address or CIDR range, not ${JSON.stringify(v)}`, '203.0.113.0/24');
      return;
    case 'BinaryEquals':
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) invalid(path, 'must be base64', 'QmluYXJ5VmFsdWU=');
      return;
    case 'ArnLike':
      // A value built from a policy variable is only known at request time.
      if (!v.includes('${') && (!v.startsWith('arn:') || splitArn(v) === undefined)) {
        invalid(path, `must be an ARN with six colon-separated parts, not ${JSON.stringify(v)}`, 'arn:aws:iam::123456789012:role/*');
      }
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

type Context = Map<string, string[]>;

/**
 * Lower-cased keys (condition key names are case-insensitive); an empty array is dropped so that it
 * behaves as an absent key, which is what AWS calls a "null dataset" for ForAllValues. Two keys that
 * differ only in case are merged rather than one silently winning.
 */
function contextMap(context: TrustRequest['context']): Context {
  const map: Context = new Map();
  for (const [key, raw] of Object.entries(context)) {
    const values = (Array.isArray(raw) ? raw : [raw]).map((v) => String(v));
    if (values.length === 0) continue;
    const lower = key.toLowerCase();
    map.set(lower, [...(map.get(lower) ?? []), ...values]);
  }
  return map;
}

/** `undefined` when the statement applies to the request; otherwise the first reason it does not. */
function whyNotApplies(s: CompiledStatement, req: TrustRequest, ctx: Context, variables: boolean): string | undefined {
  const at = (key: string) => formatPath([...s.path, key]);
  const action = req.action.toLowerCase();
  const actionListed = s.action.patterns.some((p) => globMatch(p, action));
  if (actionListed === s.action.negated) {
    return s.action.negated ? `${at('NotAction')} excludes ${req.action}` : `${at('Action')} does not include ${req.action}`;
  }
  const principalListed = principalMatches(s.principal, req.principal);
  if (principalListed === s.principal.negated) {
    const who = `${req.principal.type} ${JSON.stringify(req.principal.id)}`;
    return s.principal.negated ? `${at('NotPrincipal')} excludes ${who}` : `${at('Principal')} does not include ${who}`;
  }
  for (const c of s.conditions) {
    if (!conditionHolds(c, ctx, variables)) {
      const actual = ctx.get(c.key.toLowerCase());
      const got = actual === undefined ? 'the request has no value for it' : `the request has ${quoteList(actual)}`;
      return `${formatPath(c.path)} is not satisfied: ${got}; the policy says ${c.negated ? 'none of ' : ''}${quoteList(c.values)}`;
    }
  }
  return undefined;
}

function principalMatches(spec: CompiledPrincipal, caller: TrustRequest['principal']): boolean {
  if (spec.any) return true;
  const listed = spec.byType.get(caller.type);
  if (!listed) return false;
  return listed.some((v) => principalValueMatches(caller.type, v, caller.id, !spec.negated));
}

const ROOT_ARN = /^arn:([a-z-]+):iam::(\d{12}):root$/;
const ROLE_ARN = /^arn:([a-z-]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;
const SESSION_ARN = /^arn:([a-z-]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/;
const CALLER_ARN = /^arn:([a-z-]+):(?:iam|sts)::(\d{12}):/;

function principalValueMatches(type: PrincipalType, listed: string, caller: string, roleCoversSessions: boolean): boolean {
  if (listed === '*' || listed === caller) return true;
  if (type !== 'AWS') return false;

  // An account (bare id or its root ARN) stands for every principal in that account.
  const root = ROOT_ARN.exec(listed);
  const account = ACCOUNT_ID.test(listed) ? { partition: undefined, id: listed } : root ? { partition: root[1], id: root[2] } : undefined;
  if (account) {
    if (ACCOUNT_ID.test(caller)) return caller === account.id;
    const c = CALLER_ARN.exec(caller);
    return c !== null && c[2] === account.id && (account.partition === undefined || account.partition === c[1]);
  }

  // A role stands for its sessions too: a session ARN carries the role name but not its path.
  if (roleCoversSessions) {
    const role = ROLE_ARN.exec(listed);
    const session = SESSION_ARN.exec(caller);
    if (role && session) return role[1] === session[1] && role[2] === session[2] && role[3] === session[3];
  }
  return false;
}

function conditionHolds(c: CompiledCondition, ctx: Context, variables: boolean): boolean {
  const actual = ctx.get(c.key.toLowerCase());
  if (c.base === 'Null') {
    const absent = actual === undefined;
    return c.values.some((v) => (v.toLowerCase() === 'true') === absent);
  }
  if (actual === undefined) {
    if (c.ifExists) return true;
    if (c.set === 'ForAllValues') return true; // vacuously: every one of no values matches
    if (c.set === 'ForAnyValue') return false;
    // "not equal to any of these" is true of a value that is not there.
    return c.negated;
  }
  const matchesAny = (a: string) => c.values.some((expected) => compare(c.base, a, expected, ctx, variables));
  // Per request value: a positive operator wants a match with some policy value, a negated one with none.
  const satisfied = (a: string) => (c.negated ? !matchesAny(a) : matchesAny(a));
  if (c.set === 'ForAllValues') return actual.every(satisfied);
  if (c.set === 'ForAnyValue') return actual.some(satisfied);
  // No set operator: positive = some value matches; negated = no value matches (the exact complement).
  return c.negated ? actual.every(satisfied) : actual.some(satisfied);
}

function compare(base: BaseOperator, actual: string, expected: string, ctx: Context, variables: boolean): boolean {
  switch (base) {
    case 'StringEquals': {
      const t = resolveVariables(expected, variables, ctx, false);
      return t !== undefined && t.join('') === actual;
    }
    case 'StringEqualsIgnoreCase': {
      const t = resolveVariables(expected, variables, ctx, false);
      return t !== undefined && t.join('').toLowerCase() === actual.toLowerCase();
    }
    case 'StringLike': {
      const t = resolveVariables(expected, variables, ctx, true);
      return t !== undefined && globMatch(t, actual);
    }
    case 'ArnLike': {
      const t = resolveVariables(expected, variables, ctx, true);
      return t !== undefined && arnMatches(t, actual);
    }
    case 'NumericEquals':
    case 'NumericLessThan':
    case 'NumericLessThanEquals':
    case 'NumericGreaterThan':
    case 'NumericGreaterThanEquals':
      return ordered(base.slice('Numeric'.length), parseNumber(actual), parseNumber(expected));
    case 'DateEquals':
    case 'DateLessThan':
    case 'DateLessThanEquals':
    case 'DateGreaterThan':
    case 'DateGreaterThanEquals':
      return ordered(base.slice('Date'.length), parseDate(actual), parseDate(expected));
    case 'Bool':
      return actual.toLowerCase() === expected.toLowerCase();
    case 'BinaryEquals':
      return Buffer.from(actual, 'base64').equals(Buffer.from(expected, 'base64'));
    case 'IpAddress':
      return ipInRange(actual, expected);
    case 'Null':
      return false; // handled in conditionHolds
  }
}

function ordered(relation: string, a: number | undefined, b: number | undefined): boolean {
  // A request value that is not a number/date matches nothing (and so satisfies the negated form).
  if (a === undefined || b === undefined) return false;
  switch (relation) {
    case 'Equals':
      return a === b;
    case 'LessThan':
      return a < b;
    case 'LessThanEquals':
      return a <= b;
    case 'GreaterThan':
      return a > b;
    default:
      return a >= b;
  }
}

function parseNumber(v: string): number | undefined {
  if (v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** AWS accepts ISO 8601 dates and epoch seconds. */
function parseDate(v: string): number | undefined {
  if (/^-?\d+$/.test(v)) return Number(v) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function parseCidr(v: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const parts = v.split('/');
  if (parts.length > 2) return undefined;
  const address = parts[0] as string;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = parts[1] === undefined ? max : /^\d{1,3}$/.test(parts[1]) ? Number(parts[1]) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function ipInRange(actual: string, range: string): boolean {
  const cidr = parseCidr(range);
  const version = isIP(actual);
  if (!cidr || version === 0 || (version === 4 ? 'ipv4' : 'ipv6') !== cidr.family) return false;
  const list = new BlockList();
  list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  return list.check(actual, cidr.family);
}

// ---------------------------------------------------------------------------------------------
// Wildcards, ARNs and policy variables
// ---------------------------------------------------------------------------------------------

const ANY_RUN = 0;
const ANY_CHAR = 1;
/** One code point of literal text, or a wildcard. Tokens keep a literal `*` (from `${*}`) apart from the wildcard. */
type GlobToken = string | typeof ANY_RUN | typeof ANY_CHAR;

function toTokens(text: string, wildcards: boolean): GlobToken[] {
  return Array.from(text, (ch) => (wildcards && ch === '*' ? ANY_RUN : wildcards && ch === '?' ? ANY_CHAR : ch));
}

/**
 * `*` matches any run of characters (also none, also `:` and `/`), `?` exactly one; everything else
 * is literal and case-sensitive. Iterative with a single backtrack point, so the cost is bounded by
 * pattern length × input length: a request value (a token claim the caller chose) cannot make a
 * pattern like `*a*a*a*b` backtrack exponentially, as a regular expression could.
 */
function globMatch(pattern: readonly GlobToken[], input: string): boolean {
  const text = Array.from(input);
  let p = 0;
  let t = 0;
  let starAt = -1;
  let starText = 0;
  while (t < text.length) {
    const tok = pattern[p];
    if (p < pattern.length && (tok === ANY_CHAR || tok === text[t])) {
      p++;
      t++;
    } else if (tok === ANY_RUN) {
      starAt = p++;
      starText = t;
    } else if (starAt >= 0) {
      p = starAt + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (pattern[p] === ANY_RUN) p++;
  return p === pattern.length;
}

/** The six parts of an ARN; the resource part keeps its own colons. */
function splitArn(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6) return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** AWS compares ARNs part by part, so a `*` in the account part cannot swallow the colons around it. */
function arnMatches(pattern: readonly GlobToken[], actual: string): boolean {
  const actualParts = splitArn(actual);
  if (!actualParts) return false;
  const patternParts: GlobToken[][] = [[]];
  for (const tok of pattern) {
    if (tok === ':' && patternParts.length < 6) patternParts.push([]);
    else (patternParts[patternParts.length - 1] as GlobToken[]).push(tok);
  }
  if (patternParts.length !== 6) return false;
  return patternParts.every((part, i) => globMatch(part, actualParts[i] as string));
}

/**
 * Substitutes `${key}`, `${key, 'default'}` and the escapes `${*}`, `${?}`, `${$}` in a version
 * 2012-10-17 document. A substituted value is data, never a pattern: a caller whose claim contains
 * `*` must not widen a StringLike. Returns undefined when a variable has no value (absent, or
 * multivalued, which AWS does not allow as a variable) and no default; such a policy value then
 * matches nothing.
 */
function resolveVariables(value: string, enabled: boolean, ctx: Context, wildcards: boolean): GlobToken[] | undefined {
  if (!enabled || !value.includes('${')) return toTokens(value, wildcards);
  const out: GlobToken[] = [];
  let last = 0;
  for (const m of value.matchAll(/\$\{([^}]*)\}/g)) {
    out.push(...toTokens(value.slice(last, m.index), wildcards));
    last = m.index + m[0].length;
    const inner = (m[1] as string).trim();
    if (inner === '*' || inner === '?' || inner === '$') {
      out.push(inner);
      continue;
    }
    const withDefault = /^(.*?)\s*,\s*'(.*)'$/.exec(inner);
    const name = (withDefault ? (withDefault[1] as string) : inner).trim().toLowerCase();
    const found = ctx.get(name);
    const resolved = found === undefined ? withDefault?.[2] : found.length === 1 ? found[0] : undefined;
    if (resolved === undefined) return undefined;
    out.push(...toTokens(resolved, false));
  }
  out.push(...toTokens(value.slice(last), wildcards));
  return out;
}
