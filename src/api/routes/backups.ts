import { z } from 'zod';
import type { Backups } from '../../backup/backups.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { isoDate } from './common.ts';

export const backupJson = z.object({ name: z.string(), path: z.string(), bytes: z.number().int(), createdAt: isoDate });

export const backupListJson = z.object({
  // null on PostgreSQL, whose backups are pg_dump's.
  dir: z.string().nullable(),
  /** The data directory a restore goes into (`airlock backup restore --data-dir`); null on PostgreSQL. */
  dataDir: z.string().nullable(),
  intervalSeconds: z.number().int(),
  keep: z.number().int(),
  items: z.array(backupJson),
});

/** Snapshots of the embedded store (docs/backup.md): list them, take one now. */
export function backupRoutes(backups: Backups, settings: { intervalSeconds: number; keep: number; dataDir: string }): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/backups',
      auth: 'token',
      permission: 'backup.read',
      tag: 'backups',
      summary: 'The snapshots in the backup directory, newest first, and the schedule',
      response: backupListJson,
      handler: () => Promise.resolve({ dir: backups.dir ?? null, dataDir: backups.dir ? settings.dataDir : null, intervalSeconds: backups.dir ? settings.intervalSeconds : 0, keep: settings.keep, items: backups.list() }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/backups',
      auth: 'token',
      permission: 'backup.write',
      tag: 'backups',
      summary: 'Take a snapshot of the embedded store now (consistent while the server runs); older ones past the kept number are deleted',
      response: backupJson.extend({ migrations: z.array(z.string()), deleted: z.array(z.string()) }),
      status: 201,
      handler: () => backups.create(),
    }),
  ];
}
