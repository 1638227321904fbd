import { z } from 'zod';
import type { MasterKeyRotation } from '../../crypto/rotation.ts';
import { defineRoute, type RouteDef } from '../route.ts';

const census = z.record(z.string(), z.record(z.string(), z.number().int()));
export const masterKeyStatusJson = z.object({
  fingerprint: z.string(),
  previous: z.array(z.string()),
  sealed: census,
  underPrevious: z.number().int(),
  underUnknown: z.number().int(),
});

/** Master-key rotation (docs/configuration.md#rotating-the-master-key): where things stand, and the move to the new key. */
export function masterKeyRoutes(rotation: MasterKeyRotation): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/master-key',
      auth: 'token',
      permission: 'master-key.read',
      tag: 'master-key',
      summary: 'The master key in use and the previous ones (fingerprints), and how many stored values each seals',
      response: masterKeyStatusJson,
      handler: () => rotation.status(),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/master-key/rewrap',
      auth: 'token',
      permission: 'master-key.write',
      action: 'master-key.rewrap',
      tag: 'master-key',
      summary: 'Move every value sealed under a previous master key to the current one (only data keys are re-wrapped)',
      response: z.object({ fingerprint: z.string(), rewrapped: z.record(z.string(), z.number().int()), skipped: z.number().int(), status: masterKeyStatusJson }),
      handler: () => rotation.rewrap(),
    }),
  ];
}
