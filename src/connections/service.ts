/**
 * Airflow connections held by Airlock: the Environment Manager (connections of a workspace,
 * linked to chosen Deployments or to all of them, with per-Deployment field overrides) and each
 * Deployment's metadata-database connections (imported from `airflow connections export` files).
 *
 * Passwords are write-only: sealed at rest with the master key, never in a view, a log line, an
 * audit record or an error. Only {@link ConnectionService.connectionsForDeployment} and
 * {@link ConnectionService.metastoreConnections} unseal them, for rendering what a Deployment's
 * Airflow reads.
 */
import { z } from 'zod';
import type { Scope } from '../access/scope.ts';
import type { CloudProvider } from '../cloud/types.ts';
import type { Sealer } from '../crypto/envelope.ts';
import type { DeploymentService } from '../deployments/service.ts';
import type { ConnectionLinkRecord, ConnectionOverrides, ConnectionRecord, Deployment, MetastoreConnectionRecord } from '../domain/records.ts';
import type { Cloud } from '../domain/terms.ts';
import { AppError } from '../errors/index.ts';
import type { IdentityService } from '../identity/service.ts';
import type { Clock } from '../lib/clock.ts';
import { newId } from '../lib/ids.ts';
import type { NamedConnectionLink, Repos } from '../store/repos.ts';
import type { Store } from '../store/store.ts';
import { isValidConnId, type AirflowConnectionFields } from './codec.ts';
import { EXPORT_FORMATS, parseConnectionsExport } from './export-files.ts';
import { connectionForDeployment, connectionForSavedIdentity, setupTarget, type IdentityConnection } from './from-identity.ts';
import { awsExtra, awsHelperSchema, azureExtra, azureHelperSchema, checkExtraForType, checkHelperFits, gcpExtra, gcpHelperSchema, isAzureConnType, CLOUD_CONN_TYPES } from './typed.ts';

// ---------------------------------------------------------------------------------------------
// Input schemas (the API validates with these; the CLI builds them)

export const connIdSchema = z
  .string()
  .min(1)
  .max(250)
  .refine(isValidConnId, 'must be 1–250 of letters, digits and _ # ! ( ) - . : / \\ (Airflow\'s conn_id rule)')
  .meta({ example: 'aws_default' });
const connTypeSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.+-]{0,99}$/, 'must start with a letter: letters, digits, _ . + - (e.g. aws, google_cloud_platform, postgres)')
  .meta({ example: 'aws' });
const text = (max: number, example: string) => z.string().max(max).nullable().optional().meta({ example });
const portSchema = z.number().int().min(0).max(65535).nullable().optional().meta({ example: 5432 });
const extraSchema = z.record(z.string(), z.unknown()).meta({ example: { region_name: 'us-east-1' } });
// Write-only: accepted, sealed, never returned.
const passwordSchema = z.string().max(16_384).nullable().optional().meta({ example: 's3cr3t', description: 'Write-only: never returned.' });

const fieldsShape = {
  description: z.string().max(5000).optional().meta({ example: 'Lake ingestion role' }),
  host: text(1024, 'db.example.com'),
  schema: text(1024, 'analytics'),
  login: text(1024, 'etl'),
  password: passwordSchema,
  port: portSchema,
  extra: extraSchema.optional(),
  aws: awsHelperSchema.optional(),
  gcp: gcpHelperSchema.optional(),
  azure: azureHelperSchema.optional(),
  fromIdentity: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .meta({ example: 'etl', description: 'A Deployment (deployment:<name>) or a saved identity (identity:<name>); a bare name is looked up as a Deployment, then as a saved identity.' }),
};

export const connectionCreateSchema = z
  .object({ connId: connIdSchema, connType: connTypeSchema.optional(), ...fieldsShape })
  .strict();
export type ConnectionCreateInput = z.input<typeof connectionCreateSchema>;

/** PATCH semantics: an absent field stays; null clears; `extra` replaces the whole object; the helpers merge into it. */
export const connectionUpdateSchema = z
  .object({
    connType: connTypeSchema.optional(),
    ...fieldsShape,
    version: z.number().int().min(1).optional().meta({ example: 3, description: 'The version the change is based on; refused with ERR_CONFLICT when the connection changed since.' }),
  })
  .strict();
export type ConnectionUpdateInput = z.input<typeof connectionUpdateSchema>;

export const overridesSchema = z
  .object({
    connType: connTypeSchema.optional(),
    description: z.string().max(5000).optional(),
    host: text(1024, 'replica.example.com'),
    schema: text(1024, 'analytics'),
    login: text(1024, 'etl'),
    password: passwordSchema,
    port: portSchema,
    extra: extraSchema.optional().meta({ example: { region_name: 'eu-west-1' }, description: 'Merged into the connection\'s extra key by key; null removes a key.' }),
  })
  .strict();

export const connectionLinkSchema = z
  .object({
    deployment: z.string().min(1).max(100).optional().meta({ example: 'etl' }),
    allDeployments: z.literal(true).optional().meta({ example: true }),
    overrides: overridesSchema.optional(),
  })
  .strict();

export const connectionUnlinkSchema = z
  .object({
    deployment: z.string().min(1).max(100).optional().meta({ example: 'etl' }),
    allDeployments: z.literal(true).optional().meta({ example: true }),
  })
  .strict();

export const metastoreImportSchema = z
  .object({
    deployment: z.string().min(1).max(100).meta({ example: 'etl' }),
    format: z.enum(EXPORT_FORMATS).meta({ example: 'json' }),
    content: z.string().max(4_000_000).meta({ example: '{"my_postgres": {"conn_type": "postgres", "host": "db", "port": 5432}}' }),
    source: z.string().max(500).optional().meta({ example: 'connections.json' }),
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// Views (what callers see: never a password)

export interface ConnectionLinkView {
  deployment: { id: string; name: string };
  /** The overridden fields (a password override shows as `passwordSet`). */
  overrides: Omit<ConnectionOverrides, never>;
  passwordOverridden: boolean;
}

export interface ConnectionView {
  connection: ConnectionRecord;
  links: ConnectionLinkView[];
}

/** A connection where a Deployment's variables still mention it (the variables side reports these). */
export interface ConnectionReference {
  deployment: { id: string; name: string };
  /** What refers to it, e.g. `variable AIRFLOW_CONN_AWS_DEFAULT`. */
  where: string;
}

/**
 * Finds where a conn_id is still referenced in a workspace (Deployment variables). Registered by
 * the module that owns those objects; consulted before unlinking or deleting.
 */
export type ConnectionReferenceFinder = (tx: Repos, workspaceId: string, connId: string) => Promise<ConnectionReference[]>;

/**
 * One connection as a Deployment's Airflow reads it: the Airflow fields (password unsealed) after
 * the Deployment's overrides.
 */
export interface EffectiveConnection {
  connId: string;
  /** Where it lives in Airflow's lookup order. */
  source: 'environment-manager' | 'metadata-database';
  /** Airlock's id of the stored object. */
  id: string;
  description: string | null;
  fields: AirflowConnectionFields;
  /** Whether it has a password (`fields.password` is null when asked without passwords). */
  passwordSet: boolean;
  /** Environment Manager only: linked to this Deployment explicitly, or through all-deployments. */
  linkedBy?: 'deployment' | 'all-deployments';
  /** Environment Manager only: fields this Deployment overrides. */
  overridden?: string[];
  updatedAt: Date;
}

export interface MetastoreImportResult {
  deployment: { id: string; name: string };
  created: string[];
  replaced: string[];
}

export interface ChangeResult {
  view: ConnectionView;
  /** Places that still refer to the connection where it no longer reaches. */
  warnings: ConnectionReference[];
}

export interface ConnectionService {
  create(scope: Scope, input: ConnectionCreateInput): Promise<ConnectionView & { derivation?: string }>;
  list(scope: Scope): Promise<ConnectionView[]>;
  get(scope: Scope, ref: string): Promise<ConnectionView>;
  update(scope: Scope, ref: string, input: ConnectionUpdateInput): Promise<ConnectionView & { derivation?: string }>;
  /** Deletes it; returns where it is still referenced (the delete is done: the references now dangle). */
  delete(scope: Scope, ref: string): Promise<{ connection: ConnectionRecord; warnings: ConnectionReference[] }>;
  link(scope: Scope, ref: string, input: z.input<typeof connectionLinkSchema>): Promise<ConnectionView>;
  unlink(scope: Scope, ref: string, input: z.input<typeof connectionUnlinkSchema>): Promise<ChangeResult>;
  /** Imports an `airflow connections export` file into a Deployment's metadata-database connections (all or nothing). */
  importMetastore(scope: Scope, input: z.input<typeof metastoreImportSchema>): Promise<MetastoreImportResult>;
  listMetastore(scope: Scope, deploymentRef: string): Promise<{ deployment: Deployment; items: MetastoreConnectionRecord[] }>;
  deleteMetastore(scope: Scope, deploymentRef: string, connId: string): Promise<void>;
  /**
   * The Environment Manager connections that reach a Deployment (by id: the server's own use,
   * after the caller checked the scope), overrides applied, passwords unsealed; by conn_id.
   */
  connectionsForDeployment(deploymentId: string, o?: { withPasswords?: boolean }): Promise<EffectiveConnection[]>;
  /** The metadata-database connections of a Deployment (by id), passwords unsealed unless `withPasswords: false`; by conn_id. */
  metastoreConnections(deploymentId: string, o?: { withPasswords?: boolean }): Promise<EffectiveConnection[]>;
  /** Registers where else a conn_id may be referenced (Deployment variables). */
  addReferenceFinder(finder: ConnectionReferenceFinder): void;
}

export interface ConnectionServiceDeps {
  store: Store;
  clock: Clock;
  sealer: Sealer;
  deployments: DeploymentService;
  identities: IdentityService;
  providers: Readonly<Record<Cloud, CloudProvider>>;
}

export const passwordAad = (id: string) => `connection-password:${id}`;
export const linkPasswordAad = (connectionId: string, deploymentId: string) => `connection-link-password:${connectionId}:${deploymentId}`;
export const metastorePasswordAad = (id: string) => `metastore-connection-password:${id}`;

const OVERRIDE_FIELDS = ['connType', 'description', 'host', 'schema', 'login', 'port', 'extra'] as const;

export function createConnectionService(d: ConnectionServiceDeps): ConnectionService {
  const finders: ConnectionReferenceFinder[] = [];
  const seal = (plain: string | null | undefined, aad: string): string | null | undefined =>
    plain === undefined ? undefined : plain === null || plain === '' ? null : d.sealer.seal(Buffer.from(plain, 'utf8'), aad);
  const open = (sealed: string | null, aad: string): string | null => (sealed === null ? null : d.sealer.open(sealed, aad).toString('utf8'));

  const notFound = (ref: string) =>
    new AppError('ERR_NOT_FOUND', `no connection with conn_id "${ref}" in this workspace`, { field: 'connection', example: 'aws_default (see: airlock connection list)' });

  async function find(tx: Repos, scope: Scope, ref: string): Promise<ConnectionRecord> {
    const byConnId = await tx.connections.getByConnId(scope.workspaceId, ref);
    const c = byConnId ?? (/^conn_[0-9a-z]{20}$/.test(ref) ? await tx.connections.get(ref) : undefined);
    // Another workspace's connection does not exist for this caller; for a Deployment-scoped
    // caller, neither does one that does not reach its Deployment.
    if (!c || c.workspaceId !== scope.workspaceId) throw notFound(ref);
    if (scope.deploymentId && !c.allDeployments && !(await tx.connectionLinks.get(c.id, scope.deploymentId))) throw notFound(ref);
    return c;
  }

  async function view(tx: Repos, c: ConnectionRecord, scope?: Scope, known?: NamedConnectionLink[]): Promise<ConnectionView> {
    let links = known ?? (await tx.connectionLinks.listForConnection(c.id));
    // A Deployment-scoped caller sees its own Deployment's link only.
    if (scope?.deploymentId) links = links.filter((l) => l.deploymentId === scope.deploymentId);
    return {
      connection: c,
      links: links.map((l) => ({ deployment: { id: l.deploymentId, name: l.deploymentName }, overrides: l.overrides, passwordOverridden: l.passwordEnc !== null })),
    };
  }

  /** `deployment:<name>`, `identity:<name>`, or a bare name (a Deployment first). */
  async function fromIdentity(scope: Scope, ref: string, input: { aws?: z.infer<typeof awsHelperSchema> | undefined; gcp?: z.infer<typeof gcpHelperSchema> | undefined }): Promise<IdentityConnection> {
    const m = /^(deployment|identity):(.+)$/.exec(ref);
    const kind = m?.[1];
    const name = m ? m[2] : ref;
    if (kind !== 'identity') {
      let dep;
      try {
        dep = await d.deployments.get(scope, name);
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'ERR_NOT_FOUND') || kind === 'deployment') throw rename(err, 'fromIdentity');
      }
      if (dep) {
        const cloud = dep.effective?.identity.cloud ?? dep.cluster.cloud;
        const target = setupTarget(cloud, input.aws, input.gcp);
        const setupInput = await d.deployments.setupInput(scope, name, target ? { target } : {});
        return connectionForDeployment(setupInput, d.providers[setupInput.identity.identity.cloud], input.aws);
      }
    }
    const saved = await d.identities.find(d.store, scope, name);
    if (!saved) {
      throw new AppError('ERR_NOT_FOUND', `no Deployment or saved identity named "${name}"`, { field: 'fromIdentity', example: 'etl, deployment:etl or identity:etl-reader' });
    }
    return connectionForSavedIdentity(saved.name, saved.spec);
  }

  /** Computes conn_type and extra from the identity, the given extra and the helper fields, in that order. */
  async function derive(
    scope: Scope,
    input: { connType?: string | undefined; extra?: Record<string, unknown> | undefined; aws?: z.infer<typeof awsHelperSchema> | undefined; gcp?: z.infer<typeof gcpHelperSchema> | undefined; azure?: z.infer<typeof azureHelperSchema> | undefined; fromIdentity?: string | undefined },
    base: { connType: string | undefined; extra: Record<string, unknown> },
  ): Promise<{ connType: string; extra: Record<string, unknown>; derivation?: string }> {
    let connType = input.connType ?? base.connType;
    let extra = input.extra ?? base.extra;
    let derivation: string | undefined;
    if (input.fromIdentity !== undefined) {
      const ic = await fromIdentity(scope, input.fromIdentity, input);
      const fits = connType === undefined || connType === ic.connType || (ic.connType === CLOUD_CONN_TYPES.azure && isAzureConnType(connType));
      if (!fits) {
        throw new AppError('ERR_VALIDATION', `the identity calls for a ${ic.connType} connection, not ${connType ?? ''}`, { field: 'connType', example: ic.connType });
      }
      connType ??= ic.connType;
      extra = { ...ic.extra, ...(input.extra ?? {}) };
      derivation = ic.derivation;
    }
    if (connType === undefined) {
      throw new AppError('ERR_VALIDATION', 'connType is required (or fromIdentity, which implies it)', { field: 'connType', example: 'aws' });
    }
    checkHelperFits(connType, input);
    if (input.aws) extra = { ...extra, ...awsExtra(input.aws) };
    if (input.gcp) extra = { ...extra, ...gcpExtra(input.gcp) };
    if (input.azure) extra = { ...extra, ...azureExtra(input.azure) };
    checkExtraForType(connType, extra);
    return derivation === undefined ? { connType, extra } : { connType, extra, derivation };
  }

  async function references(tx: Repos, workspaceId: string, connId: string, deploymentIds: Set<string> | 'all'): Promise<ConnectionReference[]> {
    const out: ConnectionReference[] = [];
    for (const f of finders) out.push(...(await f(tx, workspaceId, connId)));
    return deploymentIds === 'all' ? out : out.filter((r) => deploymentIds.has(r.deployment.id));
  }

  async function findDeployment(scope: Scope, ref: string): Promise<Deployment> {
    try {
      return (await d.deployments.get(scope, ref)).deployment;
    } catch (err) {
      throw rename(err, 'deployment');
    }
  }

  function effective(c: ConnectionRecord, link: ConnectionLinkRecord | null, withPasswords: boolean): EffectiveConnection {
    const o = link?.overrides ?? {};
    const overridden: string[] = OVERRIDE_FIELDS.filter((k) => o[k] !== undefined);
    let password = withPasswords ? open(c.passwordEnc, passwordAad(c.id)) : null;
    let passwordSet = c.passwordEnc !== null;
    if (link?.passwordEnc) {
      password = withPasswords ? open(link.passwordEnc, linkPasswordAad(c.id, link.deploymentId)) : null;
      passwordSet = true;
      overridden.push('password');
    }
    let extra = { ...c.extra };
    if (o.extra) {
      for (const [k, v] of Object.entries(o.extra)) {
        if (v === null) delete extra[k];
        else extra[k] = v;
      }
    } else {
      extra = { ...c.extra };
    }
    return {
      connId: c.connId,
      source: 'environment-manager',
      id: c.id,
      description: o.description ?? c.description,
      fields: {
        conn_type: o.connType ?? c.connType,
        host: o.host !== undefined ? o.host : c.host,
        login: o.login !== undefined ? o.login : c.login,
        password,
        schema: o.schema !== undefined ? o.schema : c.schema,
        port: o.port !== undefined ? o.port : c.port,
        extra,
      },
      passwordSet,
      linkedBy: link ? 'deployment' : 'all-deployments',
      overridden: overridden.sort(),
      updatedAt: link && link.updatedAt > c.updatedAt ? link.updatedAt : c.updatedAt,
    };
  }

  return {
    async create(scope, raw) {
      const input = connectionCreateSchema.parse(raw);
      const { connType, extra, derivation } = await derive(scope, input, { connType: undefined, extra: {} });
      const now = new Date(d.clock.now());
      const id = newId('connection');
      const c: ConnectionRecord = {
        id,
        workspaceId: scope.workspaceId,
        connId: input.connId,
        connType,
        description: input.description ?? '',
        host: input.host ?? null,
        schema: input.schema ?? null,
        login: input.login ?? null,
        passwordEnc: seal(input.password, passwordAad(id)) ?? null,
        port: input.port ?? null,
        extra,
        allDeployments: false,
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      await d.store.connections.insert(c);
      const v: ConnectionView & { derivation?: string } = { connection: c, links: [] };
      if (derivation) v.derivation = derivation;
      return v;
    },

    async list(scope) {
      let all = await d.store.connections.list(scope.workspaceId);
      // Every connection's links in one query, not one each.
      const links = await d.store.connectionLinks.listForConnections(all.map((c) => c.id));
      // A Deployment-scoped caller lists the connections that reach its Deployment only.
      const own = scope.deploymentId;
      if (own) all = all.filter((c) => c.allDeployments || (links.get(c.id) ?? []).some((l) => l.deploymentId === own));
      return Promise.all(all.map((c) => view(d.store, c, scope, links.get(c.id) ?? [])));
    },

    async get(scope, ref) {
      return view(d.store, await find(d.store, scope, ref), scope);
    },

    async update(scope, ref, raw) {
      const input = connectionUpdateSchema.parse(raw);
      const current = await find(d.store, scope, ref);
      if (input.version !== undefined && input.version !== current.version) throw stale(current);
      const changesType = input.connType !== undefined || input.extra !== undefined || input.aws || input.gcp || input.azure || input.fromIdentity !== undefined;
      const derived = changesType ? await derive(scope, input, { connType: current.connType, extra: current.extra }) : undefined;
      const now = new Date(d.clock.now());
      const patch: Parameters<Repos['connections']['update']>[2] = { updatedAt: now };
      if (derived) {
        patch.connType = derived.connType;
        patch.extra = derived.extra;
      }
      if (input.description !== undefined) patch.description = input.description;
      if (input.host !== undefined) patch.host = input.host;
      if (input.schema !== undefined) patch.schema = input.schema;
      if (input.login !== undefined) patch.login = input.login;
      if (input.port !== undefined) patch.port = input.port;
      const pw = seal(input.password, passwordAad(current.id));
      if (pw !== undefined) patch.passwordEnc = pw;
      const updated = await d.store.connections.update(current.id, current.version, patch);
      if (!updated) throw stale(current);
      const v: ConnectionView & { derivation?: string } = await view(d.store, updated, scope);
      if (derived?.derivation) v.derivation = derived.derivation;
      return v;
    },

    async delete(scope, ref) {
      return d.store.transaction(async (tx) => {
        const c = await find(tx, scope, ref);
        const warnings = await references(tx, scope.workspaceId, c.connId, 'all');
        await tx.connections.delete(c.id);
        return { connection: c, warnings };
      });
    },

    async link(scope, ref, raw) {
      const input = connectionLinkSchema.parse(raw);
      if ((input.deployment === undefined) === (input.allDeployments === undefined)) {
        throw new AppError('ERR_VALIDATION', 'give exactly one of deployment or allDeployments', { field: 'deployment', example: { deployment: 'etl' } });
      }
      if (input.allDeployments && input.overrides) {
        throw new AppError('ERR_VALIDATION', 'overrides belong to one Deployment: link it with deployment and overrides', { field: 'overrides', example: { deployment: 'etl', overrides: { extra: { region_name: 'eu-west-1' } } } });
      }
      if (input.allDeployments && scope.deploymentId) throw new AppError('ERR_FORBIDDEN', 'a Deployment-scoped token cannot link a connection to every Deployment');
      const c = await find(d.store, scope, ref);
      const now = new Date(d.clock.now());
      if (input.allDeployments) {
        const updated = c.allDeployments ? c : await d.store.connections.update(c.id, c.version, { allDeployments: true, updatedAt: now });
        if (!updated) throw stale(c);
        return view(d.store, updated, scope);
      }
      const dep = await findDeployment(scope, input.deployment!);
      const o = input.overrides ?? {};
      if (o.extra !== undefined || o.connType !== undefined) checkExtraForType(o.connType ?? c.connType, { ...c.extra, ...(o.extra ?? {}) });
      const overrides: ConnectionOverrides = {};
      for (const k of OVERRIDE_FIELDS) if (o[k] !== undefined) (overrides as Record<string, unknown>)[k] = o[k];
      const existing = await d.store.connectionLinks.get(c.id, dep.id);
      const passwordEnc = o.password === undefined ? (existing?.passwordEnc ?? null) : (seal(o.password, linkPasswordAad(c.id, dep.id)) ?? null);
      await d.store.connectionLinks.upsert({ connectionId: c.id, deploymentId: dep.id, overrides, passwordEnc, createdAt: existing?.createdAt ?? now, updatedAt: now });
      // The link changes what the Deployment sees: bump the connection's version (and updated_at) too.
      const updated = await d.store.connections.update(c.id, c.version, { updatedAt: now });
      return view(d.store, updated ?? (await find(d.store, scope, ref)), scope);
    },

    async unlink(scope, ref, raw) {
      const input = connectionUnlinkSchema.parse(raw);
      if ((input.deployment === undefined) === (input.allDeployments === undefined)) {
        throw new AppError('ERR_VALIDATION', 'give exactly one of deployment or allDeployments', { field: 'deployment', example: { deployment: 'etl' } });
      }
      if (input.allDeployments && scope.deploymentId) throw new AppError('ERR_FORBIDDEN', 'a Deployment-scoped token cannot unlink a connection from every Deployment');
      const c = await find(d.store, scope, ref);
      // Resolved before the transaction: the embedded store is one session, and the Deployment
      // service reads through the outer store.
      const dep = input.deployment === undefined ? undefined : await findDeployment(scope, input.deployment);
      const now = new Date(d.clock.now());
      return d.store.transaction(async (tx) => {
        const links = await tx.connectionLinks.listForConnection(c.id);
        let losing: Set<string>;
        if (input.allDeployments) {
          if (!c.allDeployments) throw new AppError('ERR_CONFLICT', `connection "${c.connId}" is not linked to all Deployments`, { field: 'allDeployments', details: { linkedTo: links.map((l) => l.deploymentName) } });
          const updated = await tx.connections.update(c.id, c.version, { allDeployments: false, updatedAt: now });
          if (!updated) throw stale(c);
          // Every Deployment without an explicit link loses it.
          const explicit = new Set(links.map((l) => l.deploymentId));
          const all = await tx.deployments.list(scope.workspaceId, { limit: 100_000 });
          losing = new Set(all.items.filter((x) => !explicit.has(x.id)).map((x) => x.id));
          return { view: await view(tx, updated, scope), warnings: await references(tx, scope.workspaceId, c.connId, losing) };
        }
        if (!dep) throw new Error('unreachable: deployment resolved above');
        const removed = await tx.connectionLinks.delete(c.id, dep.id);
        if (!removed) {
          throw new AppError(
            'ERR_CONFLICT',
            c.allDeployments
              ? `connection "${c.connId}" reaches ${dep.name} through all-deployments, not an explicit link; unlink --all-deployments and link the Deployments that keep it`
              : `connection "${c.connId}" is not linked to ${dep.name}`,
            { field: 'deployment' },
          );
        }
        const updated = (await tx.connections.update(c.id, c.version, { updatedAt: now })) ?? c;
        losing = c.allDeployments ? new Set() : new Set([dep.id]);
        return { view: await view(tx, updated, scope), warnings: await references(tx, scope.workspaceId, c.connId, losing) };
      });
    },

    async importMetastore(scope, raw) {
      const input = metastoreImportSchema.parse(raw);
      const dep = await findDeployment(scope, input.deployment);
      const parsed = parseConnectionsExport(input.content, input.format);
      const now = new Date(d.clock.now());
      return d.store.transaction(async (tx) => {
        const created: string[] = [];
        const replaced: string[] = [];
        for (const p of parsed) {
          const id = (await tx.metastoreConnections.get(dep.id, p.connId))?.id ?? newId('metastoreConnection');
          const r = await tx.metastoreConnections.upsert({
            id,
            deploymentId: dep.id,
            connId: p.connId,
            connType: p.fields.conn_type,
            description: p.description,
            host: p.fields.host,
            schema: p.fields.schema,
            login: p.fields.login,
            passwordEnc: seal(p.fields.password, metastorePasswordAad(id)) ?? null,
            port: p.fields.port,
            extra: p.fields.extra,
            source: input.source ?? `${input.format} import`,
            importedAt: now,
          });
          (r === 'created' ? created : replaced).push(p.connId);
        }
        return { deployment: { id: dep.id, name: dep.name }, created, replaced };
      });
    },

    async listMetastore(scope, deploymentRef) {
      const dep = await findDeployment(scope, deploymentRef);
      return { deployment: dep, items: await d.store.metastoreConnections.listForDeployment(dep.id) };
    },

    async deleteMetastore(scope, deploymentRef, connId) {
      const dep = await findDeployment(scope, deploymentRef);
      if (!(await d.store.metastoreConnections.delete(dep.id, connId))) {
        throw new AppError('ERR_NOT_FOUND', `Deployment ${dep.name}'s metadata database has no connection "${connId}"`, { field: 'connection', example: 'airlock connection list --metastore --deployment etl' });
      }
    },

    async connectionsForDeployment(deploymentId, o = {}) {
      const dep = await d.store.deployments.get(deploymentId);
      if (!dep) return [];
      const rows = await d.store.connections.listForDeployment(dep.workspaceId, dep.id);
      return rows.map((r) => effective(r.connection, r.link, o.withPasswords !== false));
    },

    async metastoreConnections(deploymentId, o = {}) {
      const withPasswords = o.withPasswords !== false;
      const rows = await d.store.metastoreConnections.listForDeployment(deploymentId);
      return rows.map((m) => ({
        connId: m.connId,
        source: 'metadata-database' as const,
        id: m.id,
        description: m.description,
        fields: { conn_type: m.connType, host: m.host, login: m.login, password: withPasswords ? open(m.passwordEnc, metastorePasswordAad(m.id)) : null, schema: m.schema, port: m.port, extra: m.extra },
        passwordSet: m.passwordEnc !== null,
        updatedAt: m.importedAt,
      }));
    },

    addReferenceFinder(finder) {
      finders.push(finder);
    },
  };
}

function stale(c: ConnectionRecord): AppError {
  return new AppError('ERR_CONFLICT', `connection "${c.connId}" was changed by someone else since version ${c.version}; read it again and retry`, {
    field: 'version',
    example: `airlock connection get ${c.connId} -o json`,
    details: { connId: c.connId },
  });
}

/** A not-found from another service, told in this request's terms. */
function rename(err: unknown, field: string): unknown {
  if (err instanceof AppError && err.code === 'ERR_NOT_FOUND') return new AppError(err.code, err.message, { field, example: err.example, details: err.details, cause: err });
  return err;
}

/**
 * Where a Deployment's plain environment variables name a conn_id: a value that is the conn_id
 * (`AWS_CONN_ID=aws_default`) or holds it as a JSON string (`{"conn_id": "aws_default"}`). Secret
 * values are sealed and not looked into. Registered by the composition root.
 */
export const variableReferenceFinder: ConnectionReferenceFinder = async (tx, workspaceId, connId) => {
  const out: ConnectionReference[] = [];
  const quoted = JSON.stringify(connId);
  const deployments = await tx.deployments.listAll({});
  for (const dep of deployments) {
    if (dep.workspaceId !== workspaceId) continue;
    for (const v of await tx.variables.list(dep.id)) {
      if (v.secret || v.value === null) continue;
      if (v.value.trim() === connId || v.value.includes(quoted)) out.push({ deployment: { id: dep.id, name: dep.name }, where: `variable ${v.key}` });
    }
  }
  return out;
};
