import { stringify as toYaml } from 'yaml';
import { CliError } from './client.ts';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseFormat(v: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(v)) return v as OutputFormat;
  throw new CliError(`unknown output format "${v}"`, 'ERR_VALIDATION', '-o', OUTPUT_FORMATS.join('|'), 2);
}

export interface Column<T> {
  header: string;
  get: (row: T) => unknown;
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}

/** Renders rows as an aligned text table. */
export function table<T>(rows: T[], columns: Column<T>[]): string {
  const data = rows.map((r) => columns.map((c) => cell(c.get(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...data.map((d) => d[i]!.length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), ...data.map(line)].join('\n');
}

/** Prints `value` in the chosen format; `columns` drive the table form. */
export function print<T>(format: OutputFormat, value: T | T[], columns: Column<T>[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): void {
  if (format === 'json') return out(JSON.stringify(value, null, 2));
  if (format === 'yaml') return out(toYaml(value).trimEnd());
  out(table(Array.isArray(value) ? value : [value], columns));
}
