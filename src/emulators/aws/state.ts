import { z } from 'zod';
import { AppError } from '../../errors/index.ts';

/**
 * The IAM entities of every emulated account, held in memory. This is the part of the emulator
 * that survives a restart (the sandbox writes {@link AwsState.toJSON} to a file after each change);
 * issued STS credentials live in the session store and are deliberately not persisted.
 *
 * Accounts follow LocalStack's convention: any 12-digit account id exists as soon as something
 * names it (an access key id, a role ARN), empty until IAM entities are created in it. Only
 * accounts that hold an entity are listed and persisted.
 */

/** An IAM OIDC identity provider (`CreateOpenIDConnectProvider`). */
export interface OidcProviderRecord {
  /** `arn:aws:iam::<account>:oidc-provider/<url>`. */
  arn: string;
  /** The issuer URL without its scheme, as AWS stores and returns it (`host[:port]/path`). */
  url: string;
  /**
   * The scheme of the issuer. AWS only accepts `https`; the sandbox also accepts `http` for
   * loopback issuers. Kept so a token whose `iss` has another scheme does not match.
   */
  scheme: 'https' | 'http';
  clientIds: string[];
  thumbprints: string[];
  /** ISO 8601. */
  createDate: string;
}

/** An IAM role (`CreateRole`); only what trust decisions and the responses need. */
export interface RoleRecord {
  roleName: string;
  /** `AROA…`, unique across all accounts and never reused, as AWS does. */
  roleId: string;
  /** `/` or `/a/b/`. */
  path: string;
  arn: string;
  /** The trust policy exactly as submitted (decoded JSON text; URL-encoded only in responses). */
  assumeRolePolicyDocument: string;
  description?: string | undefined;
  /** Seconds; 3600 unless set at creation. */
  maxSessionDuration: number;
  /** ISO 8601. */
  createDate: string;
}

/** One account's entities, as persisted. */
export interface AwsAccountJson {
  accountId: string;
  oidcProviders: OidcProviderRecord[];
  roles: RoleRecord[];
}

/**
 * The persisted form, version 2: every account that holds an entity. Version 1 (one account:
 * `{ version: 1, accountId, oidcProviders, roles }`) is still read, into its `accountId`, which
 * for every file a sandbox wrote is the default account `000000000000`.
 */
export interface AwsStateJson {
  version: 2;
  accounts: AwsAccountJson[];
}

export const ACCOUNT_ID = /^\d{12}$/;

const providerSchema = z.strictObject({
  arn: z.string().min(1),
  url: z.string().min(1),
  scheme: z.enum(['https', 'http']),
  clientIds: z.array(z.string()),
  thumbprints: z.array(z.string()),
  createDate: z.string(),
});

const roleSchema = z.strictObject({
  roleName: z.string().min(1),
  roleId: z.string().min(1),
  path: z.string().min(1),
  arn: z.string().min(1),
  assumeRolePolicyDocument: z.string().min(1),
  description: z.string().optional(),
  maxSessionDuration: z.number().int(),
  createDate: z.string(),
});

const accountSchema = z
  .strictObject({
    accountId: z.string().regex(ACCOUNT_ID, 'must be 12 digits'),
    oidcProviders: z.array(providerSchema),
    roles: z.array(roleSchema),
  })
  .superRefine((a, ctx) => {
    // An entity filed under one account but named for another would answer for the wrong ARN.
    const prefix = `arn:aws:iam::${a.accountId}:`;
    a.oidcProviders.forEach((p, i) => {
      if (!p.arn.startsWith(`${prefix}oidc-provider/`)) ctx.addIssue({ code: 'custom', path: ['oidcProviders', i, 'arn'], message: `must be an OIDC provider ARN of account ${a.accountId}` });
    });
    a.roles.forEach((r, i) => {
      if (!r.arn.startsWith(`${prefix}role/`)) ctx.addIssue({ code: 'custom', path: ['roles', i, 'arn'], message: `must be a role ARN of account ${a.accountId}` });
    });
  });

const stateSchema = z.discriminatedUnion('version', [
  z.strictObject({ version: z.literal(2), accounts: z.array(accountSchema) }),
  // Version 1: one account, its fields at the top level.
  z.strictObject({ version: z.literal(1), accountId: z.string(), oidcProviders: z.array(z.unknown()), roles: z.array(z.unknown()) }),
]);

/** One account's IAM entities. Reads of an account nobody wrote to see it empty. */
export interface AwsAccountState {
  readonly accountId: string;
  provider(arn: string): OidcProviderRecord | undefined;
  /** The provider whose `<scheme>://<url>` is exactly this issuer. */
  providerForIssuer(issuer: string): OidcProviderRecord | undefined;
  providers(): OidcProviderRecord[];
  putProvider(p: OidcProviderRecord): void;
  deleteProvider(arn: string): boolean;
  /** Role names are unique regardless of case in IAM; lookups ignore case too. */
  role(name: string): RoleRecord | undefined;
  roleByArn(arn: string): RoleRecord | undefined;
  roles(): RoleRecord[];
  putRole(r: RoleRecord): void;
  deleteRole(name: string): boolean;
}

/** Every account's IAM entities, with change notification so a caller can persist them. */
export interface AwsState {
  /** The account of any access key id that is not 12 digits (`AKIASANDBOX`, `test`, …). */
  readonly defaultAccountId: string;
  /** The account with this 12-digit id (a view; nothing is stored until something is written). */
  account(accountId: string): AwsAccountState;
  /** Ids of the accounts that hold at least one entity, sorted. */
  accountIds(): string[];
  /** Whether a role id was ever handed out in any account (AWS never reuses them, even after a delete). */
  roleIdTaken(id: string): boolean;
  toJSON(): AwsStateJson;
  /**
   * Replaces everything with a persisted state (version 1 or 2). Throws `ERR_VALIDATION` (and
   * changes nothing) when the JSON is not a state file.
   */
  load(json: unknown): void;
  /** Called after every change; returns an unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

interface AccountData {
  providers: Map<string, OidcProviderRecord>;
  /** Keyed by lower-cased role name. */
  roles: Map<string, RoleRecord>;
}

function invalid(issues: readonly { path: PropertyKey[]; message: string }[]): never {
  const text = issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new AppError('ERR_VALIDATION', `not an AWS sandbox state file: ${text}`, {
    field: 'aws',
    example: { version: 2, accounts: [{ accountId: '123456789012', oidcProviders: [], roles: [] }] },
  });
}

/** Reads a state file of either version into version 2's shape. */
function parseStateJson(json: unknown): AwsStateJson {
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) invalid(parsed.error.issues);
  let accounts: unknown[];
  if (parsed.data.version === 1) {
    const { version: _v, ...account } = parsed.data;
    accounts = [account];
  } else {
    accounts = parsed.data.accounts;
  }
  const checked = z.array(accountSchema).safeParse(accounts);
  if (!checked.success) invalid(parsed.data.version === 1 ? checked.error.issues.map((i) => ({ ...i, path: i.path.slice(1) })) : checked.error.issues.map((i) => ({ ...i, path: ['accounts', ...i.path] })));
  const seen = new Set<string>();
  const roleIds = new Set<string>();
  for (const a of checked.data) {
    if (seen.has(a.accountId)) invalid([{ path: ['accounts'], message: `account ${a.accountId} appears twice` }]);
    seen.add(a.accountId);
    for (const r of a.roles) {
      if (roleIds.has(r.roleId)) invalid([{ path: ['accounts'], message: `role id ${r.roleId} is used twice (role ids are unique across accounts)` }]);
      roleIds.add(r.roleId);
    }
  }
  return { version: 2, accounts: checked.data };
}

export function createAwsState(defaultAccountId: string): AwsState {
  if (!ACCOUNT_ID.test(defaultAccountId)) throw new TypeError(`defaultAccountId must be 12 digits, got ${JSON.stringify(defaultAccountId)}`);
  const accounts = new Map<string, AccountData>();
  const usedRoleIds = new Set<string>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  const copy = <T>(v: T): T => structuredClone(v);
  const read = (id: string): AccountData | undefined => accounts.get(id);
  const write = (id: string): AccountData => {
    let a = accounts.get(id);
    if (!a) accounts.set(id, (a = { providers: new Map(), roles: new Map() }));
    return a;
  };
  /** Drops an account left with nothing in it, so it is neither listed nor persisted. */
  const tidy = (id: string) => {
    const a = accounts.get(id);
    if (a && a.providers.size === 0 && a.roles.size === 0) accounts.delete(id);
  };

  function account(accountId: string): AwsAccountState {
    if (!ACCOUNT_ID.test(accountId)) throw new TypeError(`accountId must be 12 digits, got ${JSON.stringify(accountId)}`);
    return {
      accountId,
      provider: (arn) => {
        const p = read(accountId)?.providers.get(arn);
        return p && copy(p);
      },
      providerForIssuer(issuer) {
        for (const p of read(accountId)?.providers.values() ?? []) if (`${p.scheme}://${p.url}` === issuer) return copy(p);
        return undefined;
      },
      providers: () => [...(read(accountId)?.providers.values() ?? [])].map(copy),
      putProvider(p) {
        write(accountId).providers.set(p.arn, copy(p));
        changed();
      },
      deleteProvider(arn) {
        const had = read(accountId)?.providers.delete(arn) ?? false;
        tidy(accountId);
        if (had) changed();
        return had;
      },
      role: (name) => {
        const r = read(accountId)?.roles.get(name.toLowerCase());
        return r && copy(r);
      },
      roleByArn(arn) {
        for (const r of read(accountId)?.roles.values() ?? []) if (r.arn === arn) return copy(r);
        return undefined;
      },
      roles: () => [...(read(accountId)?.roles.values() ?? [])].map(copy),
      putRole(r) {
        write(accountId).roles.set(r.roleName.toLowerCase(), copy(r));
        usedRoleIds.add(r.roleId);
        changed();
      },
      deleteRole(name) {
        const had = read(accountId)?.roles.delete(name.toLowerCase()) ?? false;
        tidy(accountId);
        if (had) changed();
        return had;
      },
    };
  }

  return {
    defaultAccountId,
    account,
    accountIds: () => [...accounts.keys()].sort(),
    roleIdTaken: (id) => usedRoleIds.has(id),
    toJSON: () => ({
      version: 2,
      accounts: [...accounts.keys()].sort().map((accountId) => {
        const a = accounts.get(accountId)!;
        return {
          accountId,
          oidcProviders: [...a.providers.values()].map(copy),
          // A role without a description has no `description` key, so the JSON reads back equal.
          roles: [...a.roles.values()].map(({ description, ...rest }) => copy(description === undefined ? rest : { ...rest, description })),
        };
      }),
    }),
    load(json) {
      const state = parseStateJson(json);
      accounts.clear();
      for (const a of state.accounts) {
        if (a.oidcProviders.length === 0 && a.roles.length === 0) continue;
        const data = write(a.accountId);
        for (const p of a.oidcProviders) data.providers.set(p.arn, p);
        for (const r of a.roles) {
          data.roles.set(r.roleName.toLowerCase(), { ...r, description: r.description });
          usedRoleIds.add(r.roleId);
        }
      }
      changed();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
