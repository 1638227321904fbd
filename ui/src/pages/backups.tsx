// Snapshots of the embedded store: where they go, how often, the ones kept, and one taken now.
// Restoring is a command on the stopped server's machine, so the page shows it instead of a button.
import { useState } from 'react';
import { api } from '../api.ts';
import { CodeBlock, Empty, ErrorBanner, ListState, Table, Time, useAction, useLoad } from '../components/ui.tsx';
import { useCan } from '../permissions.tsx';
import type { Backup, BackupList } from '../types.ts';

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function every(seconds: number): string {
  if (seconds % 86400 === 0) return seconds === 86400 ? 'every day' : `every ${seconds / 86400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? 'every hour' : `every ${seconds / 3600} hours`;
  return `every ${Math.round(seconds / 60)} minutes`;
}

export function BackupsPage() {
  const can = useCan();
  const list = useLoad(() => api<BackupList>('GET', '/api/v1/backups'), []);
  const { busy, error, run } = useAction();
  const [made, setMade] = useState<Backup | undefined>(undefined);
  const take = () =>
    run(async () => {
      setMade(await api<Backup>('POST', '/api/v1/backups'));
      list.reload();
    });
  const info = list.data;

  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-header">
        <div>
          <h1 id="page-title">Backups</h1>
          <p className="muted">
            Snapshots of the embedded store, taken while the server runs. Keys and secrets stay sealed under the master key, which is never in a snapshot: keep it apart.
          </p>
        </div>
        {can('backup.write') && info?.dir ? (
          <button type="button" className="btn btn-primary" onClick={() => void take()} disabled={busy}>
            {busy ? 'Backing up…' : 'Back up now'}
          </button>
        ) : null}
      </div>
      <ErrorBanner error={error} title="The snapshot was not taken" />
      {made ? (
        <div className="banner banner-ok" role="status">
          Wrote {made.name} ({size(made.bytes)}).
        </div>
      ) : null}

      {info && info.dir === null ? (
        <Empty title="This server uses PostgreSQL">
          <p>Back it up with pg_dump, and keep the master key apart from the dump.</p>
          <CodeBlock label="Back up PostgreSQL" code={'pg_dump --format=custom "$DATABASE_URL" > airlock.dump'} />
        </Empty>
      ) : null}
      {info?.dir ? (
        <p>
          In <code>{info.dir}</code>, {info.intervalSeconds > 0 ? every(info.intervalSeconds) : 'only when taken by hand (automatic backups are off)'}; the newest {info.keep} are kept.
        </p>
      ) : null}

      <ListState
        list={{ ...list, data: info?.dir ? info.items : undefined }}
        what="backups"
        failed="Could not load the backups"
        empty={<Empty title="No backups yet">{can('backup.write') ? 'Take one now, or wait for the schedule.' : null}</Empty>}
      >
        {(items) => (
          <Table label="Backups" columns={['Name', 'Taken', 'Size']}>
            {items.map((b) => (
              <tr key={b.name}>
                <td>
                  <code>{b.name}</code>
                </td>
                <td>
                  <Time iso={b.createdAt} />
                </td>
                <td>{size(b.bytes)}</td>
              </tr>
            ))}
          </Table>
        )}
      </ListState>

      {info?.dir && info.items[0] ? (
        <section className="card" aria-labelledby="restore-title">
          <h2 id="restore-title">Restoring</h2>
          <p>
            Stop the server, then run this on its machine. The store it replaces is kept beside it, and every revocation made since the snapshot stays in force.
          </p>
          <CodeBlock label="Restore the newest snapshot" code={`npx airlock backup restore ${info.items[0].path} --data-dir ${info.dataDir ?? ''}`} />
        </section>
      ) : null}
    </section>
  );
}
