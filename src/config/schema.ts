import { z } from 'zod';
import { parseDuration } from '../lib/duration.ts';

/** A duration field; bounds are checked here (not in the object refinement) so they are reported alongside every other problem. */
const duration = (description: string, def: string, bounds: { min?: [number, string]; max?: [number, string] } = {}) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const s = parseDuration(v);
      if (s === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 90s, 15m, 1h or 30d; got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      if (bounds.min && s < bounds.min[0]) ctx.addIssue({ code: 'custom', message: `must be at least ${bounds.min[1]}` });
      if (bounds.max && s > bounds.max[0]) ctx.addIssue({ code: 'custom', message: `must be at most ${bounds.max[1]}` });
      return s;
    })
    .describe(description);

/**
 * The server's settings: one flat object so every key maps 1:1 to an environment variable
 * (`publicUrl` ↔ `AIRLOCK_PUBLIC_URL`) and a flag (`--public-url`). Each default is documented
 * here and `airlock config validate --explain` prints these descriptions.
 */
export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('Address the HTTP server binds to.'),
    port: z.coerce.number().int().min(0).max(65535).default(8080).describe('TCP port of the HTTP server (0 picks a free one).'),
    publicUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('URL clients and clouds reach the server at; issuer URLs derive from it. Default http://127.0.0.1:<port> (https with tlsCert).'),
    tlsCert: z
      .string()
      .min(1)
      .optional()
      .describe('PEM certificate (chain) to serve https with, with tlsKey; re-read every minute and on SIGHUP. Absent: plain http, for a TLS proxy in front.'),
    tlsKey: z.string().min(1).optional().describe("PEM private key of tlsCert."),
    dataDir: z.string().min(1).default('./.airlock').describe('Directory for the embedded store, the master key file and the admin token.'),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected postgres://user:pass@host:5432/db')
      .optional()
      .describe('PostgreSQL connection URL; absent means the embedded store (SQLite) in <dataDir>/airlock.db.'),
    tokenTtlDefault: duration('Lifetime of a minted token when the caller does not ask for one.', '1h', { min: [600, '10m'], max: [86400, '24h'] }),
    tokenTtlMax: duration('Longest lifetime a minted token may have (hard ceiling 24h).', '24h', { min: [600, '10m'], max: [86400, '24h'] }),
    keyRotationPeriod: duration('How long a signing key signs before its successor takes over.', '30d'),
    keyPrepublish: duration(
      'How long a new key is published in the JWKS before it signs. Must cover relying parties\' JWKS caches (Entra ID caches up to 24h).',
      '24h',
      { min: [900, '15m (the shortest JWKS cache lifetime served)'] },
    ),
    clockSkew: duration('Leeway for clocks that disagree; retired keys stay published this much past their last token.', '5m'),
    rotationCheckInterval: duration('How often the server checks whether a cluster needs a new key.', '1m', { min: [1, '1s'] }),
    auditRetention: duration(
      'How long audit records are kept; older ones are deleted hourly (the chain stays verifiable from the last deleted record). 0 keeps them forever.',
      '0',
      { max: [10 * 365 * 86400, '3650d'] },
    ),
    backupInterval: duration(
      'How often the embedded store is snapshotted into backupDir while the server runs (the newest backupKeep are kept). 0 turns automatic backups off. PostgreSQL: ignored, use pg_dump.',
      '24h',
    ),
    backupKeep: z.coerce.number().int().min(1).max(1000).default(7).describe('How many snapshots backupDir keeps; older ones are deleted after each new one.'),
    backupDir: z.string().min(1).optional().describe('Directory for snapshots of the embedded store. Default <dataDir>/backups; better on another disk.'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log verbosity.'),
    masterKeyFile: z
      .string()
      .optional()
      .describe('File holding the base64 master key. Default <dataDir>/master.key, created on first start. AIRLOCK_MASTER_KEY overrides.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Rules across fields; zod runs these only once every field parsed.
    if (c.tokenTtlDefault > c.tokenTtlMax) ctx.addIssue({ code: 'custom', path: ['tokenTtlDefault'], message: 'must not exceed tokenTtlMax' });
    if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [c.tlsCert === undefined ? 'tlsCert' : 'tlsKey'], message: 'tlsCert and tlsKey go together: set both, or neither' });
    }
    if (c.tlsCert && c.publicUrl?.startsWith('http:')) ctx.addIssue({ code: 'custom', path: ['publicUrl'], message: 'must be https when the server serves TLS itself (tlsCert)' });
    if (c.backupInterval > 0 && c.backupInterval < 60) ctx.addIssue({ code: 'custom', path: ['backupInterval'], message: 'must be 0 (off) or at least 1m' });
    if (c.keyRotationPeriod <= c.keyPrepublish)
      ctx.addIssue({ code: 'custom', path: ['keyRotationPeriod'], message: 'must be longer than keyPrepublish' });
  });

/** Parsed, defaulted, frozen configuration. Durations are whole seconds. */
export type Config = Readonly<z.output<typeof configSchema>>;
/** What a config file, the environment or flags may set. */
export type ConfigInput = z.input<typeof configSchema>;

export const CONFIG_KEYS = Object.keys(configSchema.shape) as (keyof ConfigInput)[];
