import { randomBytes } from 'node:crypto';

// Crockford's base32 alphabet, lower-cased: no i, l, o, u, so ids read back unambiguously.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Prefixes of every id kind. The underscore keeps an id from ever being a valid DNS-1123 name. */
export const ID_PREFIX = {
  organization: 'org',
  workspace: 'ws',
  cluster: 'cl',
  deployment: 'dep',
  identity: 'wid',
  apiToken: 'tok',
  joinCredential: 'jc',
  connection: 'conn',
  metastoreConnection: 'mconn',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

/** A new random id such as `cl_4k9…` (100 bits of randomness). */
export function newId(kind: IdKind, random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(20);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return `${ID_PREFIX[kind]}_${out}`;
}

/** Whether `s` has the shape of an id of `kind` (used to tell ids from names). */
export function isId(kind: IdKind, s: string): boolean {
  return new RegExp(`^${ID_PREFIX[kind]}_[0-9a-z]{20}$`).test(s);
}
