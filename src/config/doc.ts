import { envName } from './load.ts';
import { CONFIG_KEYS, configSchema } from './schema.ts';

const DEFAULTS: Record<string, string> = {
  publicUrl: 'http://127.0.0.1:<port>',
  databaseUrl: '(embedded store)',
  masterKeyFile: '<dataDir>/master.key',
};

/** The settings table of docs/configuration.md, generated from the schema's descriptions and defaults. */
export function configTable(): string {
  const rows = CONFIG_KEYS.map((key) => {
    const s = configSchema.shape[key] as unknown as { description?: string; _zod: { def: { type: string; defaultValue?: string | number | boolean; innerType?: unknown } } };
    const def = s._zod.def.type === 'default' ? s._zod.def.defaultValue : DEFAULTS[key];
    const flag = '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    return `| \`${key}\` | \`${envName(key)}\` | \`${flag}\` | ${def === undefined ? '' : `\`${String(def)}\``} | ${s.description ?? ''} |`;
  });
  return ['| setting | environment | flag | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
