import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { verifyChain } from '../../audit/log.ts';
import type { AuditEventRecord } from '../../domain/records.ts';
import { parseDuration } from '../../lib/duration.ts';
import { CliError, createClient } from '../client.ts';
import { setExitCode } from '../exit.ts';
import { parseFormat, print, type Column } from '../output.ts';

/** A record on the wire: as stored, with `at` as an ISO string. */
type RecordJson = Omit<AuditEventRecord, 'at'> & { at: string };

const columns: Column<RecordJson>[] = [
  { header: 'SEQ', get: (r) => r.seq },
  { header: 'AT', get: (r) => r.at },
  { header: 'ACTOR', get: (r) => (r.actorName ? `${r.actorName} (${r.actorId})` : r.actorId) },
  { header: 'ACTION', get: (r) => r.action },
  { header: 'TARGET', get: (r) => `${r.targetType}:${r.targetName || r.targetId}` },
  { header: 'RESULT', get: (r) => r.result },
];

/** `--since 1h` (that long ago) or `--since 2026-12-01` (an ISO date or time), as the API's ISO instant. */
export function instantFlag(flag: string, value: string, now = Date.now()): string {
  const seconds = /^\d+[smhd]$/.test(value) ? parseDuration(value) : undefined;
  if (seconds !== undefined) return new Date(now - seconds * 1000).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new CliError(`${flag} must be a duration ago (90s, 15m, 1h, 30d) or an ISO date/time (2026-12-01, 2026-12-01T08:00:00Z)`, 'ERR_VALIDATION', flag, '1h', 2);
}

/** The filter flags of `audit list` and `audit export`. */
interface FilterFlags {
  since?: string;
  until?: string;
  actor?: string;
  target?: string;
  action?: string;
}

function filterQuery(o: FilterFlags): URLSearchParams {
  const q = new URLSearchParams();
  if (o.since) q.set('since', instantFlag('--since', o.since));
  if (o.until) q.set('until', instantFlag('--until', o.until));
  if (o.actor) q.set('actor', o.actor);
  if (o.target) q.set('target', o.target);
  if (o.action) q.set('action', o.action);
  return q;
}

/** One page of matching records after `q`'s afterSeq (the export walks and follows with these). */
const PAGE = 1000;
async function collect(q: URLSearchParams): Promise<{ items: RecordJson[]; nextCursor?: string; headSeq: number }> {
  q.set('limit', String(PAGE));
  return createClient().request<{ items: RecordJson[]; nextCursor?: string; headSeq: number }>('GET', `/api/v1/audit?${q}`);
}

/** Every matching record, page by page (bounded memory per page), handed to `each`. */
async function walk(q: URLSearchParams, pageSize: number, each: (r: RecordJson) => void, max = Infinity): Promise<number> {
  const client = createClient();
  let cursor: string | undefined;
  let n = 0;
  do {
    const page = new URLSearchParams(q);
    page.set('limit', String(Math.min(pageSize, max - n)));
    if (cursor) page.set('cursor', cursor);
    const r = await client.request<{ items: RecordJson[]; nextCursor?: string }>('GET', `/api/v1/audit?${page}`);
    for (const item of r.items) each(item);
    n += r.items.length;
    cursor = r.nextCursor;
  } while (cursor && n < max);
  return n;
}

/** `airlock audit list|export|verify`: read, ship and check the audit log (organization owners). */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('The audit log: every change and every token exchange, hash-chained');
  const filters = (cmd: Command) =>
    cmd
      .option('--since <when>', 'a duration ago (1h, 7d) or an ISO date/time')
      .option('--until <when>', 'a duration ago or an ISO date/time')
      .option('--actor <id>', 'actor id (an API token tok_…, a join credential jc_…, a service account)')
      .option('--target <id or name>', 'target id or name')
      .option('--action <action>', 'e.g. deployment.update, token.exchange');

  filters(audit.command('list').description('Show audit records, oldest first (--newest: the latest first)'))
    .option('--limit <n>', 'at most this many records', '100')
    .option('--newest', 'newest first: the --limit most recent records')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .action(async (o: FilterFlags & { limit: string; output: string; newest?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError('--limit must be a positive whole number', 'ERR_VALIDATION', '--limit', '100', 2);
      const rows: RecordJson[] = [];
      const q = filterQuery(o);
      if (o.newest) q.set('order', 'newest');
      await walk(q, 1000, (r) => rows.push(r), limit);
      print(parseFormat(o.output), rows, columns);
    });

  filters(audit.command('export').description('Write matching records as JSON lines on stdout (for a SIEM); each line verifies with `audit verify --file`'))
    .option('--after-seq <seq>', 'only records after this seq: resume where a shipper stopped (the seq of the last line it wrote)')
    .option('--follow', 'keep running and write new records as they are recorded, until SIGINT/SIGTERM (exit 0)')
    .option('--interval <duration>', 'with --follow: how often to ask for new records', '2s')
    .action(async (o: FilterFlags & { afterSeq?: string; follow?: boolean; interval: string }) => {
      let last: number | undefined;
      if (o.afterSeq !== undefined) {
        last = Number(o.afterSeq);
        if (!/^\d{1,15}$/.test(o.afterSeq)) throw new CliError('--after-seq must be a record seq (a whole number)', 'ERR_VALIDATION', '--after-seq', '4711', 2);
      }
      const intervalS = parseDuration(o.interval);
      if (intervalS === undefined || intervalS < 1 || intervalS > 3600) throw new CliError('--interval must be a duration from 1s to 1h', 'ERR_VALIDATION', '--interval', '5s', 2);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        for (;;) {
          let more: boolean;
          do {
            const q = filterQuery(o);
            if (last !== undefined) q.set('afterSeq', String(last));
            let page: Awaited<ReturnType<typeof collect>>;
            try {
              page = await collect(q);
            } catch (err) {
              // Following, a server restart is waited out; anything else (a refused token) ends the export.
              if (!(o.follow && err instanceof CliError && err.code === 'ERR_UNREACHABLE')) throw err;
              process.stderr.write(`airlock audit export: ${err.message}; trying again in ${o.interval}\n`);
              break;
            }
            for (const r of page.items) {
              // A slow reader (a pipe into a shipper) holds the export back rather than filling memory.
              if (!process.stdout.write(JSON.stringify(r) + '\n')) await once(process.stdout, 'drain');
              last = r.seq;
            }
            more = page.nextCursor !== undefined;
            // Everything up to the head was considered: with a filter, the next poll starts there, not at the last match.
            if (!more && (last === undefined || page.headSeq > last)) last = page.headSeq;
          } while (more && !stop.signal.aborted);
          if (!o.follow || stop.signal.aborted) break;
          await sleep(intervalS * 1000, undefined, { signal: stop.signal }).catch(() => undefined);
          if (stop.signal.aborted) break;
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  audit
    .command('verify')
    .description("Check the hash chain: the server's stored records, or an export file offline (exit 1 when broken)")
    .option('--file <path>', 'a JSON-lines export to check instead (its records must be consecutive)')
    .option('-o, --output <format>', 'text | json', 'text')
    .action(async (o: { file?: string; output: string }) => {
      let r: { ok: boolean; checked: number; firstSeq: number | null; lastSeq: number | null; brokenSeq: number | null; reason: string | null; head?: string | null };
      if (o.file) {
        const events = readFileSync(o.file, 'utf8')
          .split('\n')
          .filter((l) => l.trim())
          .map((l, i) => {
            try {
              const e = JSON.parse(l) as RecordJson;
              return { ...e, at: new Date(e.at) } as AuditEventRecord;
            } catch {
              throw new CliError(`${o.file}:${i + 1} is not a JSON audit record`, 'ERR_VALIDATION', '--file', 'airlock audit export > audit.jsonl', 2);
            }
          });
        // Offline the first record's predecessor is taken on trust; everything after it is checked.
        const v = verifyChain(events, events[0]?.prevHash);
        const first = events[0]?.seq ?? null;
        r = v.ok
          ? { ok: true, checked: events.length, firstSeq: first, lastSeq: events[events.length - 1]?.seq ?? null, brokenSeq: null, reason: null, head: v.head }
          : { ok: false, checked: events.findIndex((e) => e.seq === v.seq), firstSeq: first, lastSeq: null, brokenSeq: v.seq, reason: v.reason };
      } else {
        r = await createClient().request('GET', '/api/v1/audit/verify');
      }
      if (o.output === 'json') process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else if (r.ok) process.stdout.write(`ok: ${r.checked} record(s) chain correctly${r.firstSeq !== null ? ` (seq ${r.firstSeq}–${r.lastSeq})` : ''}\n`);
      else process.stdout.write(`BROKEN at seq ${r.brokenSeq}: ${r.reason} (${r.checked} record(s) before it check out)\n`);
      if (!r.ok) setExitCode(1);
    });
}
