/**
 * Attribute mapping of a workload identity provider: how claims of the incoming token
 * (`assertion.*`) become Google attributes (`google.subject`, `google.groups`,
 * `attribute.<name>`), which IAM bindings then match as `principal://…/subject/<s>` and
 * `principalSet://…/attribute.<name>/<value>`.
 *
 * Google accepts any CEL expression on the right-hand side; the sandbox accepts only a path into
 * the token — `assertion.sub`, `assertion.a.b`, `assertion['kubernetes.io']['namespace']` — and
 * refuses anything else when the provider is configured, so a mapping that works here works the
 * same way in Google.
 */
import { CelSyntaxError, parseCel, type CelNode } from './cel.ts';

/** The `google.*` attributes the sandbox can map. */
export const GOOGLE_ATTRIBUTES = ['google.subject', 'google.groups', 'google.display_name'] as const;
/** Custom attribute names, as Google restricts them. */
export const CUSTOM_ATTRIBUTE = /^attribute\.[a-z_][a-z0-9_]{0,99}$/;
/** Google's limit on the mapped subject. */
export const MAX_SUBJECT_BYTES = 127;
/** Google's limit on the number of mapped attributes. */
export const MAX_MAPPINGS = 50;

/** A mapping that passed configuration checks: each target with the claim path it reads. */
export interface CompiledMapping {
  /** target → path into the assertion (field names, outermost first). */
  entries: { target: string; path: string[]; source: string }[];
}

/** One problem with a mapping, keyed by the target it concerns. */
export interface MappingProblem {
  key: string;
  message: string;
}

function pathOf(node: CelNode): string[] | undefined {
  if (node.kind === 'root') return node.name === 'assertion' ? [] : undefined;
  if (node.kind === 'select') {
    const p = pathOf(node.target);
    return p ? [...p, node.field] : undefined;
  }
  return undefined;
}

/**
 * Checks a mapping and compiles it. Returns every problem found, not just the first, so a config
 * file can be fixed in one pass.
 */
export function compileMapping(mapping: Record<string, string>): { mapping?: CompiledMapping; problems: MappingProblem[] } {
  const problems: MappingProblem[] = [];
  const entries: CompiledMapping['entries'] = [];
  const keys = Object.keys(mapping);
  if (!keys.includes('google.subject')) {
    problems.push({ key: 'google.subject', message: 'the mapping must define google.subject, for example "google.subject": "assertion.sub"' });
  }
  if (keys.length > MAX_MAPPINGS) problems.push({ key: keys[MAX_MAPPINGS]!, message: `at most ${MAX_MAPPINGS} attributes may be mapped` });
  for (const [target, source] of Object.entries(mapping)) {
    if (!(GOOGLE_ATTRIBUTES as readonly string[]).includes(target) && !CUSTOM_ATTRIBUTE.test(target)) {
      problems.push({
        key: target,
        message: target.startsWith('google.')
          ? `"${target}" is not supported; the sandbox maps ${GOOGLE_ATTRIBUTES.join(', ')}`
          : `"${target}" is not an attribute name; use attribute.<name> with lower-case letters, digits and underscores (at most 100)`,
      });
      continue;
    }
    let node: CelNode;
    try {
      node = parseCel(source);
    } catch (err) {
      problems.push({ key: target, message: `cannot parse ${JSON.stringify(source)}: ${(err as CelSyntaxError).message}` });
      continue;
    }
    const path = pathOf(node);
    if (!path || path.length === 0) {
      problems.push({
        key: target,
        message: `${JSON.stringify(source)} is not a path into the token; the sandbox supports assertion.<claim>, assertion.<a>.<b> and assertion['<key>'] only`,
      });
      continue;
    }
    entries.push({ target, path, source });
  }
  return problems.length ? { problems } : { mapping: { entries }, problems };
}

/** What a token maps to. */
export interface MappedAttributes {
  /** `google.subject`, or undefined when the claim is absent or not a string. */
  subject: string | undefined;
  /** `google.*` values (subject included), as CEL's `google` map sees them. */
  google: Record<string, string | string[]>;
  /** `attribute.<name>` values, keyed by `<name>`. */
  attributes: Record<string, string | string[]>;
}

/** Why a token's claims could not be mapped; STS answers `invalid_request` with it. */
export class MappingError extends Error {
  constructor(
    readonly target: string,
    message: string,
  ) {
    super(message);
    this.name = 'MappingError';
  }
}

function read(claims: unknown, path: string[]): unknown {
  let cur: unknown = claims;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * Applies a compiled mapping to verified claims. A claim that is absent leaves its attribute
 * unset (a condition that reads it then fails, as in Google). Numbers and booleans become
 * strings; maps, and lists of anything but strings, are refused.
 */
export function applyMapping(m: CompiledMapping, claims: Record<string, unknown>): MappedAttributes {
  const google: Record<string, string | string[]> = {};
  const attributes: Record<string, string | string[]> = {};
  for (const { target, path } of m.entries) {
    const raw = read(claims, path);
    if (raw === undefined || raw === null) continue;
    let value: string | string[];
    if (typeof raw === 'string') value = raw;
    else if (typeof raw === 'number' || typeof raw === 'boolean') value = String(raw);
    else if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) value = raw as string[];
    else throw new MappingError(target, `The mapped attribute ${target} must be a string or a list of strings.`);
    if (target === 'google.subject' && typeof value !== 'string') {
      throw new MappingError(target, 'The mapped attribute google.subject must be a string.');
    }
    if (target.startsWith('google.')) google[target.slice('google.'.length)] = value;
    else attributes[target.slice('attribute.'.length)] = value;
  }
  const subject = typeof google.subject === 'string' ? google.subject : undefined;
  return { subject, google, attributes };
}
