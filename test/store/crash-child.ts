/**
 * The process test/store/crash.test.ts kills: a real Airlock (createApp on a data dir, embedded
 * store) that writes in a loop and prints `ack <what>` on stdout after each write returned, i.e.
 * once the write was acknowledged. `node --import tsx crash-child.ts <dataDir> writes|rotation`.
 */
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';

const [dataDir, mode] = process.argv.slice(2);
const config = loadConfig({ flags: { dataDir, port: 0, host: '127.0.0.1', logLevel: 'silent' }, env: {} });
const app = await createApp({ config, env: {}, manualRotation: true });
const ack = (what: string) => process.stdout.write(`ack ${what}\n`);

if (mode === 'writes') {
  // Several writes in flight at once, as a busy server has them: each is acknowledged on its own.
  let n = 0;
  const lane = async () => {
    for (;;) {
      const i = n++;
      await app.store.settings.put(`crash.${i}`, { i, pad: 'x'.repeat(200) });
      ack(String(i));
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
} else if (mode === 'rotation') {
  const cluster = await app.clusters.create({ name: 'crash', cloud: 'aws', type: 'standard', region: 'us-east-1' });
  ack(`cluster ${cluster.id}`);
  for (;;) {
    // Insert the new key and revoke the previous one, in one transaction.
    const r = await app.keyring.rotate(cluster.id, { immediate: true, revokePrevious: true });
    ack(`kid ${r.kid}`);
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
