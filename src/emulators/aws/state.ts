import { z } from 'zod';
import { AppError } from '../../errors/index.ts';

/**
 * The IAM entities of the emulated account, held in memory. This is the part of the emulator that
 * survives a restart (the sandbox writes {@link AwsState.toJSON} to a file after each change);
 * issued STS credentials live in the session store and are deliberately not persisted.
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
  /** `AROA…`, unique and never reused, as AWS does. */
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

/** The persisted form: versioned so a later format can still read today's files. */
export interface AwsStateJson {
  version: 1;
  accountId: string;
  oidcProviders: OidcProviderRecord[];
  roles: RoleRecord[];
}

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

const stateSchema = z.strictObject({
  version: z.literal(1),
  accountId: z.string().regex(/^\d{12}$/),
  oidcProviders: z.array(providerSchema),
  roles: z.array(roleSchema),
});

/** The account's IAM entities, with change notification so a caller can persist them. */
export interface AwsState {
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
  /** Whether a role id was ever handed out (AWS never reuses them, even after a delete). */
  roleIdTaken(id: string): boolean;
  toJSON(): AwsStateJson;
  /**
   * Replaces everything with a persisted state. Throws `ERR_VALIDATION` (and changes nothing)
   * when the JSON is not a state file of this account.
   */
  load(json: unknown): void;
  /** Called after every change; returns an unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

export function createAwsState(accountId: string): AwsState {
  const providers = new Map<string, OidcProviderRecord>();
  const roles = new Map<string, RoleRecord>();
  const usedRoleIds = new Set<string>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  const copy = <T>(v: T): T => structuredClone(v);

  return {
    accountId,
    provider: (arn) => {
      const p = providers.get(arn);
      return p && copy(p);
    },
    providerForIssuer(issuer) {
      for (const p of providers.values()) if (`${p.scheme}://${p.url}` === issuer) return copy(p);
      return undefined;
    },
    providers: () => [...providers.values()].map(copy),
    putProvider(p) {
      providers.set(p.arn, copy(p));
      changed();
    },
    deleteProvider(arn) {
      const had = providers.delete(arn);
      if (had) changed();
      return had;
    },
    role: (name) => {
      const r = roles.get(name.toLowerCase());
      return r && copy(r);
    },
    roleByArn(arn) {
      for (const r of roles.values()) if (r.arn === arn) return copy(r);
      return undefined;
    },
    roles: () => [...roles.values()].map(copy),
    putRole(r) {
      roles.set(r.roleName.toLowerCase(), copy(r));
      usedRoleIds.add(r.roleId);
      changed();
    },
    deleteRole(name) {
      const had = roles.delete(name.toLowerCase());
      if (had) changed();
      return had;
    },
    roleIdTaken: (id) => usedRoleIds.has(id),
    toJSON: () => ({
      version: 1,
      accountId,
      oidcProviders: [...providers.values()].map(copy),
      // A role without a description has no `description` key, so the JSON reads back equal.
      roles: [...roles.values()].map(({ description, ...rest }) => copy(description === undefined ? rest : { ...rest, description })),
    }),
    load(json) {
      const parsed = stateSchema.safeParse(json);
      if (!parsed.success) {
        throw new AppError('ERR_VALIDATION', `not an AWS sandbox state file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
      }
      if (parsed.data.accountId !== accountId) {
        throw new AppError('ERR_VALIDATION', `the state file is for account ${parsed.data.accountId}, but this emulator runs account ${accountId}`);
      }
      providers.clear();
      roles.clear();
      for (const p of parsed.data.oidcProviders) providers.set(p.arn, p);
      for (const r of parsed.data.roles) {
        roles.set(r.roleName.toLowerCase(), { ...r, description: r.description });
        usedRoleIds.add(r.roleId);
      }
      changed();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
