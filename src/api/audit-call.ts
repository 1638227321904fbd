/**
 * What the audit log records about one API call that changes something: who (the token), what
 * (an action named after the permission, e.g. `deployment.update`), on what (target type, id,
 * name), the fields sent with secret values redacted, the request id and source address, and
 * the outcome. Responses are never recorded: they carry the secrets that are shown once.
 */
import type { Scope } from '../access/scope.ts';
import type { Principal } from '../auth/api-tokens.ts';
import type { AuditEvent } from '../audit/log.ts';
import type { HttpMethod, RouteDef } from './route.ts';

const VERB: Record<HttpMethod, string> = { GET: 'read', POST: 'create', PUT: 'save', PATCH: 'update', DELETE: 'delete' };

/** The action a route's changes are recorded under: its declared one, or `<object>.<verb>`. */
export function actionOf(route: Pick<RouteDef, 'action' | 'permission' | 'method'>): string {
  return route.action ?? `${(route.permission ?? 'api.call').split('.')[0]}.${VERB[route.method]}`;
}

/** Names whose values are secret wherever they appear. */
const SECRET_KEY = /secret|token|password|passphrase|private|credential|api[-_]?key|^key$/i;
/** Values that are Airlock secrets whatever they are called (API tokens, join credentials). */
const SECRET_VALUE = /^(alk|alj)_/;

export const REDACTED = '[redacted]';

/** A copy of `v` with every secret value replaced by {@link REDACTED}. */
export function redact(v: unknown, key = '', names: { keep?: ReadonlySet<string> } = {}): unknown {
  if (key && SECRET_KEY.test(key) && !names.keep?.has(key)) return REDACTED;
  if (typeof v === 'string') return SECRET_VALUE.test(v) ? REDACTED : v;
  if (Array.isArray(v)) return v.map((x) => redact(x, '', names));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x, k, names)]));
  return v;
}

/** On variable routes `key` is a variable's name, not a key's value. */
const VARIABLE_NAMES = { keep: new Set(['key']) };

/**
 * Environment variables carry their secrecy beside their value (`{key, value, secret}`), and an
 * update of a secret need not repeat `secret: true`: on variable routes every `value` is recorded
 * only when its object says `secret: false`.
 */
function redactVariableValues(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactVariableValues);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, k === 'value' && o.secret !== false ? REDACTED : redactVariableValues(x)]));
  }
  return v;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const looksLikeId = (s: string) => /^[a-z]+_[0-9a-z]{20}$/.test(s);

export function describeCall(c: {
  route: RouteDef;
  principal: Principal;
  request: { id: string; source: string };
  params: unknown;
  body: unknown;
  scope: Scope | undefined;
  result: string;
  response?: unknown;
}): AuditEvent {
  const params = (c.params && typeof c.params === 'object' ? c.params : {}) as Record<string, unknown>;
  const body = (c.body && typeof c.body === 'object' && !Array.isArray(c.body) ? c.body : {}) as Record<string, unknown>;
  const response = (c.response && typeof c.response === 'object' ? c.response : {}) as Record<string, unknown>;
  const refs = Object.values(params).filter((v): v is string => typeof v === 'string');
  const last = refs[refs.length - 1];
  const named = refs.find((r) => !looksLikeId(r));
  const details: Record<string, unknown> = {};
  if (refs.length) details.params = params;
  if (Object.keys(body).length) {
    // Fields the route declares secret (an uploaded file's content) are redacted whatever their name.
    const secret = new Set(c.route.secretFields ?? []);
    const sent = secret.size ? Object.fromEntries(Object.entries(body).map(([k, v]) => [k, secret.has(k) ? REDACTED : v])) : body;
    details.changes = c.route.permission === 'variable.write' ? redact(redactVariableValues(sent), '', VARIABLE_NAMES) : redact(sent);
  }
  if (c.scope) details.workspaceId = c.scope.workspaceId;
  return {
    actor: { type: 'api-token', id: c.principal.tokenId, name: c.principal.name },
    action: actionOf(c.route),
    target: {
      type: (c.route.permission ?? 'api').split('.')[0]!,
      id: str(response.id) ?? last ?? '-',
      name: str(response.name) ?? str(body.name) ?? named,
    },
    result: c.result,
    requestId: c.request.id,
    source: c.request.source,
    details,
  };
}
