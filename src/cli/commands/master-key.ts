import type { Command } from 'commander';
import type { MasterKeyStatus, RewrapResult } from '../../crypto/rotation.ts';
import { createClient, type OutputFlags } from '../client.ts';
import { setExitCode } from '../exit.ts';
import { parseFormat, print, table } from '../output.ts';

/** Where things stand, for a person: the keys, a count per place and key, and what to do next. */
function describe(s: MasterKeyStatus): string {
  const rows = Object.entries(s.sealed).flatMap(([place, byKey]) =>
    Object.entries(byKey).map(([fp, n]) => ({ place, fp: fp === s.fingerprint ? `${fp} (current)` : s.previous.includes(fp) ? `${fp} (previous)` : `${fp} (unknown)`, n })),
  );
  const lines = [`current master key ${s.fingerprint}${s.previous.length ? `; previous ${s.previous.join(', ')}` : ''}`];
  if (rows.length) lines.push('', table(rows, [{ header: 'WHERE', get: (r) => r.place }, { header: 'SEALED UNDER', get: (r) => r.fp }, { header: 'VALUES', get: (r) => String(r.n) }]));
  lines.push('');
  if (s.underUnknown > 0) lines.push(`${s.underUnknown} value(s) are sealed under a key this server does not have: they cannot be opened. Add that key to AIRLOCK_MASTER_KEY_PREVIOUS and rewrap.`);
  if (s.underPrevious > 0) lines.push(`${s.underPrevious} value(s) are still sealed under a previous key: run airlock master-key rewrap.`);
  else if (s.previous.length > 0 && s.underUnknown === 0) lines.push('Nothing is sealed under a previous key: remove AIRLOCK_MASTER_KEY_PREVIOUS from every replica and restart them.');
  return lines.join('\n');
}

/** `airlock master-key status|rewrap`: rotating the master key while the server runs (docs/configuration.md). */
export function registerMasterKeyCommands(program: Command): void {
  const mk = program.command('master-key').description('Rotate the master key that seals private keys and secrets (see docs/configuration.md)');
  const out = (cmd: Command) => cmd.option('-o, --output <format>', 'table | json | yaml', 'table');

  out(mk.command('status').description('Which master keys seal the stored values, and how many each (GET /api/v1/master-key)')).action(async (o: OutputFlags) => {
    const format = parseFormat(o.output);
    const s = await createClient().request<MasterKeyStatus>('GET', '/api/v1/master-key');
    if (format !== 'table') return print(format, s as never, []);
    process.stdout.write(describe(s) + '\n');
  });

  out(mk.command('rewrap').description('Move every value sealed under a previous key to the current one; exit 1 if any is left (POST /api/v1/master-key/rewrap)')).action(async (o: OutputFlags) => {
    const format = parseFormat(o.output);
    const r = await createClient().request<RewrapResult>('POST', '/api/v1/master-key/rewrap');
    if (r.status.underPrevious > 0 || r.status.underUnknown > 0) setExitCode(1);
    if (format !== 'table') return print(format, r as never, []);
    const moved = Object.entries(r.rewrapped).filter(([, n]) => n > 0);
    process.stdout.write(
      [
        moved.length ? `rewrapped under ${r.fingerprint}: ${moved.map(([place, n]) => `${n} in ${place}`).join(', ')}` : 'nothing to rewrap',
        ...(r.skipped ? [`${r.skipped} value(s) changed meanwhile and were left as written (under the current key)`] : []),
        describe(r.status),
        '',
      ].join('\n'),
    );
  });
}
