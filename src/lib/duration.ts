/**
 * Durations in config and flags are written like `90s`, `15m`, `1h`, `30d`, or as a number of
 * seconds. Parsed to whole seconds.
 */
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) && input >= 0 ? input : undefined;
  const m = /^(\d+)([smhd]?)$/.exec(input.trim());
  if (!m) return undefined;
  return Number(m[1]) * (UNITS[m[2] || 's'] as number);
}

/** Formats seconds back into the largest exact unit (`86400` → `1d`). */
export function formatDuration(seconds: number): string {
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % n === 0 && seconds >= n) return `${seconds / n}${u}`;
  }
  return `${seconds}s`;
}
