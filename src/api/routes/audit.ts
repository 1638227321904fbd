import { z } from 'zod';
import type { AuditLog } from '../../audit/log.ts';
import type { AuditEventRecord } from '../../domain/records.ts';
import { AppError } from '../../errors/index.ts';
import type { Store } from '../../store/store.ts';
import { defineRoute, type RouteDef } from '../route.ts';
import { iso, isoDate } from './common.ts';

/**
 * One record as stored, field for field (what the hash covers), so an export can be verified
 * without the server: see `airlock audit verify --file`.
 */
export const auditRecordJson = z.object({
  seq: z.number().int(),
  at: isoDate,
  actorType: z.string(),
  actorId: z.string(),
  actorName: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  targetName: z.string(),
  result: z.string(),
  requestId: z.string().nullable(),
  source: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

const toJson = (e: AuditEventRecord): z.infer<typeof auditRecordJson> => ({ ...e, at: iso(e.at) });

const instant = z
  .string()
  .max(40)
  .refine((v) => /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 date or time such as 2026-12-01 or 2026-12-01T08:00:00Z')
  .transform((v) => new Date(v));

// Cursors name the last seq seen, wrapped so callers treat them as opaque.
const encodeSeq = (seq: number) => Buffer.from(`audit:${seq}`).toString('base64url');
function decodeSeq(cursor: string): number {
  const m = /^audit:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new AppError('ERR_VALIDATION', 'cursor is not one this server issued', { field: 'cursor', example: 'use nextCursor from the previous page' });
  return Number(m[1]);
}

export function auditRoutes(store: Store, audit: AuditLog): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/audit',
      auth: 'token',
      permission: 'audit.read',
      tag: 'audit',
      summary: 'Audit records, oldest first (or newest first), cursor-paginated; filter by time, actor, target and action',
      query: z
        .object({
          limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ example: 100 }),
          cursor: z.string().min(1).max(100).optional().meta({ example: 'YXVkaXQ6MTAw' }),
          afterSeq: z.coerce
            .number()
            .int()
            .min(0)
            .max(Number.MAX_SAFE_INTEGER)
            .optional()
            .meta({ example: 4711, description: 'Records after this seq, oldest first: where a log shipper resumes (the seq of the last record it wrote). Not with cursor or order=newest.' }),
          since: instant.optional().meta({ example: '2026-12-01T00:00:00Z', description: 'Records at or after this instant.' }),
          until: instant.optional().meta({ example: '2026-12-02T00:00:00Z', description: 'Records before this instant.' }),
          actor: z.string().min(1).max(200).optional().meta({ example: 'tok_0123456789abcdefghjk', description: 'Actor id: an API token, a join credential, a service account.' }),
          target: z.string().min(1).max(200).optional().meta({ example: 'etl', description: 'Target id or name.' }),
          action: z.string().min(1).max(100).optional().meta({ example: 'deployment.update' }),
          order: z
            .enum(['oldest', 'newest'])
            .default('oldest')
            .meta({ example: 'newest', description: '`oldest` first (default; what an export or a SIEM follows) or `newest` first (what a person reads). A cursor continues in the order it was issued for.' }),
        })
        .strict(),
      response: z.object({
        items: z.array(auditRecordJson),
        nextCursor: z.string().optional(),
        headSeq: z.number().int().meta({
          description:
            'The newest seq when the query ran (0 for an empty log). With no nextCursor, every record up to it was considered, so a follower filtering on actor, target or action resumes from here, not from its last match.',
        }),
      }),
      handler: async ({ query }) => {
        // Everything recorded before this request is in the answer. The head is read first: a
        // record committed later has a higher seq, so "nothing more up to headSeq" stays true.
        await audit.flush();
        const headSeq = (await store.audit.head())?.seq ?? 0;
        const newest = query.order === 'newest';
        if (query.afterSeq !== undefined && (query.cursor !== undefined || newest)) {
          throw new AppError('ERR_VALIDATION', `afterSeq starts an oldest-first read; it cannot be combined with ${query.cursor !== undefined ? 'cursor (which already names where to go on)' : 'order=newest'}`, {
            field: 'afterSeq',
            example: '?afterSeq=4711 (then follow nextCursor)',
          });
        }
        const cursor = query.cursor ? decodeSeq(query.cursor) : query.afterSeq;
        const rows = await store.audit.list({
          afterSeq: newest ? undefined : cursor,
          newestFirst: newest ? { beforeSeq: cursor } : undefined,
          limit: query.limit + 1,
          since: query.since,
          until: query.until,
          actorId: query.actor,
          target: query.target,
          action: query.action,
        });
        const more = rows.length > query.limit;
        const items = (more ? rows.slice(0, query.limit) : rows).map(toJson);
        return more ? { items, nextCursor: encodeSeq(items[items.length - 1]!.seq), headSeq } : { items, headSeq };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/audit/verify',
      auth: 'token',
      permission: 'audit.read',
      tag: 'audit',
      summary: 'Re-compute the hash chain of every stored record; report the first broken one',
      response: z.object({
        ok: z.boolean(),
        checked: z.number().int(),
        firstSeq: z.number().int().nullable(),
        lastSeq: z.number().int().nullable(),
        head: z.string().nullable(),
        brokenSeq: z.number().int().nullable(),
        reason: z.string().nullable(),
        anchor: z.object({ throughSeq: z.number().int(), hash: z.string() }).nullable(),
      }),
      handler: async () => {
        await audit.flush();
        const r = await audit.verify();
        return r.ok
          ? { ok: true, checked: r.checked, firstSeq: r.firstSeq, lastSeq: r.lastSeq, head: r.head, brokenSeq: null, reason: null, anchor: r.anchor }
          : { ok: false, checked: r.checked, firstSeq: null, lastSeq: null, head: null, brokenSeq: r.seq, reason: r.reason, anchor: r.anchor };
      },
    }),
  ];
}
