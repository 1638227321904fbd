/**
 * hcl2json prints string values in Terraform's JSON syntax, where strings are templates too, so a
 * literal `${` comes back as `$${` (and `%{` as `%%{`). Undo that to get the value Terraform sees.
 */
export function tfJsonString(s: string): string {
  return s.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');
}

/** Applies {@link tfJsonString} to every string (keys included) of a parsed value. */
export function tfJsonValue(v: unknown): unknown {
  if (typeof v === 'string') return tfJsonString(v);
  if (Array.isArray(v)) return v.map(tfJsonValue);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [tfJsonString(k), tfJsonValue(x)]));
  return v;
}
