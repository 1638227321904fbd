import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DeploymentVariableRecord } from '../domain/records.ts';
import type { Database } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * A Deployment's environment variables, written one row at a time: no write ever reads the
 * whole set and writes it back, so two clients changing different keys never lose each other's
 * change, and a write to one key can be made conditional on the version its writer saw.
 */
export interface VariableRepo {
  /** Every variable of a Deployment, by key. */
  list(deploymentId: string): Promise<DeploymentVariableRecord[]>;
  get(deploymentId: string, key: string): Promise<DeploymentVariableRecord | undefined>;
  /** Inserts each row whose key is free; returns the keys that were inserted (the others already existed). */
  insertNew(rows: DeploymentVariableRecord[]): Promise<string[]>;
  /**
   * Sets one variable's value (and secrecy) and bumps its version, if it exists and, when
   * `expectedVersion` is given, is still at that version. Returns the row as it now is, or
   * undefined when nothing matched.
   */
  update(
    deploymentId: string,
    key: string,
    patch: { secret: boolean; value: string | null; valueSealed: string | null; updatedAt: Date },
    expectedVersion: number | undefined,
  ): Promise<DeploymentVariableRecord | undefined>;
  /** Deletes one variable (at `expectedVersion` when given); true when a row went. */
  delete(deploymentId: string, key: string, expectedVersion: number | undefined): Promise<boolean>;
}

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function mapVariable(r: Selectable<Database['deployment_variables']>): DeploymentVariableRecord {
  return {
    deploymentId: r.deployment_id,
    key: r.key,
    // SQLite hands booleans back as 0/1.
    secret: Boolean(r.secret),
    value: r.value,
    valueSealed: r.value_sealed,
    version: Number(r.version),
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  };
}

export function createVariableRepo(db: Db): VariableRepo {
  return {
    async list(deploymentId) {
      const rows = await db.selectFrom('deployment_variables').selectAll().where('deployment_id', '=', deploymentId).orderBy('key').execute();
      return rows.map(mapVariable);
    },
    async get(deploymentId, key) {
      const r = await db.selectFrom('deployment_variables').selectAll().where('deployment_id', '=', deploymentId).where('key', '=', key).executeTakeFirst();
      return r && mapVariable(r);
    },
    async insertNew(rows) {
      if (rows.length === 0) return [];
      const inserted = await db
        .insertInto('deployment_variables')
        .values(
          rows.map((v) => ({
            deployment_id: v.deploymentId,
            key: v.key,
            secret: v.secret,
            value: v.value,
            value_sealed: v.valueSealed,
            version: v.version,
            created_at: v.createdAt,
            updated_at: v.updatedAt,
          })),
        )
        .onConflict((oc) => oc.columns(['deployment_id', 'key']).doNothing())
        .returning('key')
        .execute();
      return inserted.map((r) => r.key);
    },
    async update(deploymentId, key, patch, expectedVersion) {
      let q = db
        .updateTable('deployment_variables')
        .set((eb) => ({
          secret: patch.secret,
          value: patch.value,
          value_sealed: patch.valueSealed,
          updated_at: patch.updatedAt,
          version: eb('version', '+', 1),
        }))
        .where('deployment_id', '=', deploymentId)
        .where('key', '=', key);
      if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
      const r = await q.returningAll().executeTakeFirst();
      return r && mapVariable(r);
    },
    async delete(deploymentId, key, expectedVersion) {
      let q = db.deleteFrom('deployment_variables').where('deployment_id', '=', deploymentId).where('key', '=', key);
      if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
      const r = await q.executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
