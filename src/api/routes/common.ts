import { z } from 'zod';

export const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20).meta({ example: 20 }),
    cursor: z.string().min(1).max(200).optional().meta({ example: 'Y2xfMDEyMzQ1Njc4OWFiY2RlZmdoams' }),
  })
  .strict();

export const okResponse = z.object({ status: z.string() });

/** ISO-8601 timestamps on the wire. */
export const isoDate = z.string().meta({ example: '2026-11-21T12:00:00.000Z' });
export const iso = (d: Date) => d.toISOString();

export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().optional() });
