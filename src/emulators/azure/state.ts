import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { AzureAdminError, type AdminErrorDetail } from './errors.ts';
import {
  ficBodySchema,
  ficSchema,
  FIC_NAME,
  IDENTITY_NAME,
  identityBodySchema,
  isGuid,
  MAX_FICS_PER_IDENTITY,
  RESOURCE_GROUP,
  sandboxConfigSchema,
  tenantSchema,
  type AzureSandboxConfig,
  type FederatedCredential,
  type IdentityRef,
  type ManagedIdentity,
  type Tenant,
} from './model.ts';

/** The result of a create-or-update: ARM answers 201 for a create and 200 for an update. */
export interface PutResult<T> {
  value: T;
  created: boolean;
}

/**
 * The sandbox's in-memory directory: what Entra and ARM would know. Every write is validated
 * against Azure's rules before anything changes, so a refused write leaves the state as it was.
 */
export interface AzureState {
  listTenants(): Tenant[];
  getTenant(tenantId: string): Tenant | undefined;
  putTenant(tenantId: string, body: unknown): PutResult<Tenant>;
  /** Refused while identities still live in the tenant. */
  deleteTenant(tenantId: string): void;

  listIdentities(): ManagedIdentity[];
  getIdentity(ref: IdentityRef): ManagedIdentity | undefined;
  /** The identity whose client id this is, if it lives in `tenantId` (client ids are matched case-insensitively, as GUIDs). */
  findByClientId(tenantId: string, clientId: string): ManagedIdentity | undefined;
  putIdentity(ref: IdentityRef, body: unknown): PutResult<ManagedIdentity>;
  /** Deletes the identity and its federated credentials. */
  deleteIdentity(ref: IdentityRef): void;

  putCredential(ref: IdentityRef, name: string, body: unknown): PutResult<FederatedCredential>;
  deleteCredential(ref: IdentityRef, name: string): void;

  /** The config-file JSON of everything held, with generated ids filled in. */
  toJSON(): AzureSandboxConfig;
  /** Replaces everything with `json` (a config file's content); all problems are reported together. */
  load(json: unknown): void;
}

export interface AzureStateOptions {
  /** Source of generated client and principal ids; injected so tests get stable ids. */
  randomUUID?: () => string;
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const sameRef = (i: IdentityRef, r: IdentityRef) =>
  sameName(i.subscriptionId, r.subscriptionId) && sameName(i.resourceGroup, r.resourceGroup) && sameName(i.name, r.name);

function zodDetails(error: z.ZodError, prefix: (string | number)[] = []): AdminErrorDetail[] {
  return error.issues.map((i) => {
    const path = [...prefix, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const d: AdminErrorDetail = { code: 'BadRequest', message: i.message };
    if (path.length) d.target = path.join('.');
    return d;
  });
}

function invalid(details: AdminErrorDetail[]): AzureAdminError {
  const first = details[0]!;
  const message = details.length === 1 ? first.message : `${details.length} problems; the first: ${first.message}`;
  return new AzureAdminError('BadRequest', message, { details, ...(first.target ? { target: first.target } : {}) });
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw invalid(zodDetails(r.error));
  return r.data;
}

function checkRefNames(ref: IdentityRef): void {
  if (!IDENTITY_NAME.test(ref.name)) {
    throw new AzureAdminError('InvalidResourceName', `Resource name '${ref.name}' is invalid. The name can be 3-128 characters long and can contain letters, digits, '-' and '_'; it must start with a letter or digit.`, { target: 'name' });
  }
  if (!RESOURCE_GROUP.test(ref.resourceGroup)) {
    throw new AzureAdminError('InvalidResourceName', `Resource group name '${ref.resourceGroup}' is invalid.`, { target: 'resourceGroup' });
  }
}

/**
 * The rules that span records, shared by the admin API and config loading so both refuse the
 * same things with the same words. Returns the problems found in `identity`'s credentials.
 */
function credentialProblems(identity: ManagedIdentity, prefix: string): AdminErrorDetail[] {
  const out: AdminErrorDetail[] = [];
  const creds = identity.federatedIdentityCredentials;
  if (creds.length > MAX_FICS_PER_IDENTITY) {
    out.push({ code: 'BadRequest', target: `${prefix}.federatedIdentityCredentials`, message: tooManyMessage(identity) });
  }
  creds.forEach((c, i) => {
    const dupName = creds.findIndex((o) => sameName(o.name, c.name));
    if (dupName !== i) out.push({ code: 'BadRequest', target: `${prefix}.federatedIdentityCredentials.${i}.name`, message: `a federated identity credential named '${c.name}' is listed twice` });
    const dupPair = creds.findIndex((o) => o.issuer === c.issuer && o.subject === c.subject);
    if (dupPair !== i) out.push({ code: 'Conflict', target: `${prefix}.federatedIdentityCredentials.${i}`, message: duplicatePairMessage(identity, creds[dupPair]!) });
  });
  return out;
}

function tooManyMessage(identity: ManagedIdentity): string {
  return `The managed identity '${identity.name}' already has the maximum of ${MAX_FICS_PER_IDENTITY} federated identity credentials. A maximum of ${MAX_FICS_PER_IDENTITY} federated identity credentials can be added to an application or user-assigned managed identity.`;
}

function duplicatePairMessage(identity: ManagedIdentity, existing: FederatedCredential): string {
  return `The federated identity credential '${existing.name}' on managed identity '${identity.name}' already has issuer '${existing.issuer}' and subject '${existing.subject}'. The combination of issuer and subject must be unique on a managed identity.`;
}

/** Creates the sandbox directory, empty. */
export function createAzureState(o: AzureStateOptions = {}): AzureState {
  const newGuid = o.randomUUID ?? randomUUID;
  let tenants: Tenant[] = [];
  let identities: ManagedIdentity[] = [];

  const findIdentity = (ref: IdentityRef) => identities.find((i) => sameRef(i, ref));
  const requireIdentity = (ref: IdentityRef) => {
    const found = findIdentity(ref);
    if (!found) {
      throw new AzureAdminError('ResourceNotFound', `The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/${ref.name}' under resource group '${ref.resourceGroup}' was not found.`);
    }
    return found;
  };

  /** Checks the identity-level uniqueness rules of `candidate` against everything but `self`. */
  function identityConflicts(candidate: ManagedIdentity, others: ManagedIdentity[], prefix: string): AdminErrorDetail[] {
    const out: AdminErrorDetail[] = [];
    if (!tenants.some((t) => sameName(t.tenantId, candidate.tenantId))) {
      out.push({ code: 'BadRequest', target: `${prefix}tenantId`, message: `tenant '${candidate.tenantId}' is not configured in the sandbox; add it first (PUT /_sandbox/azure/tenants/${candidate.tenantId})` });
    }
    for (const other of others) {
      if (sameName(other.clientId, candidate.clientId)) {
        out.push({ code: 'Conflict', target: `${prefix}clientId`, message: `client id '${candidate.clientId}' already belongs to managed identity '${other.name}'` });
      }
      if (sameName(other.principalId, candidate.principalId)) {
        out.push({ code: 'Conflict', target: `${prefix}principalId`, message: `principal id '${candidate.principalId}' already belongs to managed identity '${other.name}'` });
      }
    }
    return out;
  }

  return {
    listTenants: () => tenants.map((t) => ({ ...t })),
    getTenant: (tenantId) => {
      const t = tenants.find((x) => sameName(x.tenantId, tenantId));
      return t && { ...t };
    },
    putTenant(tenantId, body) {
      const input = parse(tenantSchema, { ...(body as object), tenantId });
      const existing = tenants.find((x) => sameName(x.tenantId, input.tenantId));
      const value: Tenant = { tenantId: input.tenantId.toLowerCase(), ...(input.displayName ? { displayName: input.displayName } : {}) };
      tenants = existing ? tenants.map((t) => (t === existing ? value : t)) : [...tenants, value];
      return { value: { ...value }, created: !existing };
    },
    deleteTenant(tenantId) {
      const existing = tenants.find((x) => sameName(x.tenantId, tenantId));
      if (!existing) throw new AzureAdminError('ResourceNotFound', `Tenant '${tenantId}' is not configured in the sandbox.`);
      const users = identities.filter((i) => sameName(i.tenantId, tenantId));
      if (users.length) {
        throw new AzureAdminError('Conflict', `Tenant '${tenantId}' still holds ${users.length} managed identit${users.length === 1 ? 'y' : 'ies'} (${users.map((u) => u.name).join(', ')}); delete them first.`);
      }
      tenants = tenants.filter((t) => t !== existing);
    },

    listIdentities: () => identities.map(cloneIdentity),
    getIdentity: (ref) => {
      const i = findIdentity(ref);
      return i && cloneIdentity(i);
    },
    findByClientId(tenantId, clientId) {
      const i = identities.find((x) => sameName(x.clientId, clientId) && sameName(x.tenantId, tenantId));
      return i && cloneIdentity(i);
    },
    putIdentity(ref, body) {
      checkRefNames(ref);
      const input = parse(identityBodySchema, body);
      for (const key of ['name', 'resourceGroup', 'subscriptionId'] as const) {
        if (input[key] !== undefined && !sameName(input[key], ref[key])) {
          throw new AzureAdminError('BadRequest', `body ${key} '${input[key]}' does not match the path ('${ref[key]}')`, { target: key });
        }
      }
      const existing = findIdentity(ref);
      if (existing && !sameName(existing.tenantId, input.tenantId)) {
        throw new AzureAdminError('Conflict', `managed identity '${ref.name}' lives in tenant '${existing.tenantId}'; an identity cannot move to another tenant`, { target: 'tenantId' });
      }
      // Azure generates client and principal ids and never changes them; an update may restate them but not alter them.
      for (const key of ['clientId', 'principalId'] as const) {
        if (existing && input[key] !== undefined && !sameName(existing[key], input[key])) {
          throw new AzureAdminError('Conflict', `${key} of managed identity '${ref.name}' is '${existing[key]}' and cannot be changed`, { target: key });
        }
      }
      const value: ManagedIdentity = {
        name: existing?.name ?? ref.name,
        resourceGroup: existing?.resourceGroup ?? ref.resourceGroup,
        subscriptionId: (existing?.subscriptionId ?? ref.subscriptionId).toLowerCase(),
        tenantId: input.tenantId.toLowerCase(),
        clientId: (existing?.clientId ?? input.clientId ?? newGuid()).toLowerCase(),
        principalId: (existing?.principalId ?? input.principalId ?? newGuid()).toLowerCase(),
        location: input.location,
        federatedIdentityCredentials: existing?.federatedIdentityCredentials ?? [],
      };
      if (!isGuid(value.subscriptionId)) {
        throw new AzureAdminError('BadRequest', `subscription id '${ref.subscriptionId}' must be a GUID`, { target: 'subscriptionId' });
      }
      const problems = identityConflicts(value, identities.filter((i) => i !== existing), '');
      if (problems.length) throw problems[0]!.code === 'Conflict' ? new AzureAdminError('Conflict', problems[0]!.message, { target: problems[0]!.target! }) : invalid(problems);
      identities = existing ? identities.map((i) => (i === existing ? value : i)) : [...identities, value];
      return { value: cloneIdentity(value), created: !existing };
    },
    deleteIdentity(ref) {
      const existing = requireIdentity(ref);
      identities = identities.filter((i) => i !== existing);
    },

    putCredential(ref, name, body) {
      const identity = requireIdentity(ref);
      if (!FIC_NAME.test(name)) {
        throw new AzureAdminError('InvalidResourceName', `The federated identity credential name '${name}' is invalid. It must be 3-120 characters long, contain only letters, digits, '-' and '_', and start with a letter or digit.`, { target: 'name' });
      }
      const input = parse(ficBodySchema, body);
      if (input.name !== undefined && input.name !== name) {
        throw new AzureAdminError('BadRequest', `body name '${input.name}' does not match the path ('${name}')`, { target: 'name' });
      }
      const value = parse(ficSchema, { ...input, name }) as FederatedCredential;
      const creds = identity.federatedIdentityCredentials;
      const existing = creds.find((c) => sameName(c.name, name));
      if (!existing && creds.length >= MAX_FICS_PER_IDENTITY) {
        throw new AzureAdminError('BadRequest', tooManyMessage(identity), { target: 'federatedIdentityCredentials' });
      }
      const clash = creds.find((c) => c !== existing && c.issuer === value.issuer && c.subject === value.subject);
      if (clash) throw new AzureAdminError('Conflict', duplicatePairMessage(identity, clash));
      // The name is immutable in Azure; an update keeps the stored spelling.
      const stored: FederatedCredential = { ...value, name: existing?.name ?? name };
      const next: ManagedIdentity = {
        ...identity,
        federatedIdentityCredentials: existing ? creds.map((c) => (c === existing ? stored : c)) : [...creds, stored],
      };
      identities = identities.map((i) => (i === identity ? next : i));
      return { value: { ...stored, audiences: [...stored.audiences] as [string] }, created: !existing };
    },
    deleteCredential(ref, name) {
      const identity = requireIdentity(ref);
      const existing = identity.federatedIdentityCredentials.find((c) => sameName(c.name, name));
      if (!existing) {
        throw new AzureAdminError('ResourceNotFound', `The federated identity credential '${name}' was not found on managed identity '${identity.name}'.`);
      }
      const next = { ...identity, federatedIdentityCredentials: identity.federatedIdentityCredentials.filter((c) => c !== existing) };
      identities = identities.map((i) => (i === identity ? next : i));
    },

    toJSON: () => ({ tenants: tenants.map((t) => ({ ...t })), identities: identities.map(cloneIdentity) }),
    load(json) {
      const r = sandboxConfigSchema.safeParse(json ?? {});
      if (!r.success) throw invalid(zodDetails(r.error));
      const problems: AdminErrorDetail[] = [];
      const nextTenants: Tenant[] = [];
      r.data.tenants.forEach((t, i) => {
        if (nextTenants.some((n) => sameName(n.tenantId, t.tenantId))) problems.push({ code: 'BadRequest', target: `tenants.${i}.tenantId`, message: `tenant '${t.tenantId}' is listed twice` });
        else nextTenants.push({ tenantId: t.tenantId.toLowerCase(), ...(t.displayName ? { displayName: t.displayName } : {}) });
      });
      const nextIdentities: ManagedIdentity[] = [];
      // Validated against the incoming tenants, so a file may be loaded into a non-empty sandbox.
      const saved = tenants;
      tenants = nextTenants;
      try {
        r.data.identities.forEach((input, i) => {
          const value: ManagedIdentity = {
            ...input,
            subscriptionId: input.subscriptionId.toLowerCase(),
            tenantId: input.tenantId.toLowerCase(),
            clientId: (input.clientId ?? newGuid()).toLowerCase(),
            principalId: (input.principalId ?? newGuid()).toLowerCase(),
            federatedIdentityCredentials: input.federatedIdentityCredentials.map((c) => ({ ...c, audiences: [c.audiences[0]!] as [string] })),
          };
          if (nextIdentities.some((n) => sameRef(n, value))) {
            problems.push({ code: 'Conflict', target: `identities.${i}.name`, message: `managed identity '${value.name}' in resource group '${value.resourceGroup}' is listed twice` });
          }
          problems.push(...identityConflicts(value, nextIdentities, `identities.${i}.`), ...credentialProblems(value, `identities.${i}`));
          nextIdentities.push(value);
        });
      } finally {
        tenants = saved;
      }
      if (problems.length) throw invalid(problems);
      tenants = nextTenants;
      identities = nextIdentities;
    },
  };
}

function cloneIdentity(i: ManagedIdentity): ManagedIdentity {
  return { ...i, federatedIdentityCredentials: i.federatedIdentityCredentials.map((c) => ({ ...c, audiences: [...c.audiences] as [string] })) };
}
