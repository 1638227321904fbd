/**
 * Renders the XML of AWS query-protocol responses. AWS SDKs parse these with a real XML parser, so
 * the only things that matter are element names, nesting, order of list members and correct
 * escaping; attributes appear only as the `xmlns` of the root.
 */

/** A value inside a response: text, a nested element set, or a list rendered as `<member>`s. */
export type XmlValue = string | number | boolean | XmlElements | XmlList | undefined | null;

/** Child elements in document order (object key order); `undefined`/`null` children are left out. */
export interface XmlElements {
  readonly [name: string]: XmlValue;
}

/** A list; AWS query APIs render each item as `<member>…</member>`. */
export interface XmlList {
  readonly kind: 'list';
  readonly items: readonly XmlValue[];
}

/** Wraps items so they render as `<member>` children, the shape of every AWS query-API list. */
export function members(items: readonly XmlValue[]): XmlList {
  return { kind: 'list', items };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/**
 * Escapes text for element content and attribute values. Characters XML 1.0 cannot carry at all
 * (most C0 controls, lone surrogates) are dropped rather than producing a document no parser
 * accepts; they can only come from a caller's own input echoed back (a session name is already
 * restricted, a policy document is URL-encoded first).
 */
export function escapeXml(text: string): string {
  return text
    .replace(/[&<>"']/g, (c) => ESCAPES[c]!)
    // eslint-disable-next-line no-control-regex -- XML 1.0 forbids these characters; they are removed
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '');
}

function isList(v: XmlValue): v is XmlList {
  return typeof v === 'object' && v !== null && (v as XmlList).kind === 'list' && Array.isArray((v as XmlList).items);
}

function renderValue(name: string, value: XmlValue, out: string[]): void {
  if (value === undefined || value === null) return;
  out.push(`<${name}>`);
  if (isList(value)) {
    for (const item of value.items) renderValue('member', item, out);
  } else if (typeof value === 'object') {
    for (const [child, v] of Object.entries(value)) renderValue(child, v, out);
  } else {
    out.push(escapeXml(String(value)));
  }
  out.push(`</${name}>`);
}

/** Renders a whole document: `<?xml …?><root xmlns="…">…</root>`. */
export function renderXmlDocument(root: string, namespace: string, body: XmlElements): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n', `<${root} xmlns="${escapeXml(namespace)}">`];
  for (const [name, value] of Object.entries(body)) renderValue(name, value, out);
  out.push(`</${root}>`);
  return out.join('');
}

/**
 * `<XResponse><XResult>…</XResult><ResponseMetadata><RequestId>…` — the envelope of every
 * successful query-API answer. Actions without output (DeleteRole) pass `result: undefined`
 * and get no `<XResult>` element, as AWS sends.
 */
export function renderQueryResponse(action: string, namespace: string, result: XmlElements | undefined, requestId: string): string {
  return renderXmlDocument(`${action}Response`, namespace, {
    [`${action}Result`]: result,
    ResponseMetadata: { RequestId: requestId },
  });
}

/** AWS's error envelope: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`. */
export function renderQueryError(namespace: string, e: { type: string; code: string; message: string }, requestId: string): string {
  return renderXmlDocument('ErrorResponse', namespace, {
    Error: { Type: e.type, Code: e.code, Message: e.message },
    RequestId: requestId,
  });
}
