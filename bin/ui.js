// The web UI built once, not on every start: ui/ (React + Vite) compiled by Vite's build API into
// node_modules/.cache/airlock-ui/<fingerprint>/, where the server reads it (src/web/assets.ts).
// The fingerprint covers what goes into the build (path, size and mtime of every file under ui/,
// package.json, npm's record of the installed packages), so an edited page or a reinstall
// rebuilds on the next `npm start` and a stale build is never served. `npm install` builds it
// already (`prepare`), so the first start does not wait for it.
//
// `ensureUi()` returns the build directory, or undefined when it cannot be had (Vite not installed,
// as in a production install without devDependencies; no writable cache): the server then runs
// the API alone and says so in its log.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashTree, pruneOldBuilds } from './build-cache.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const UI = join(ROOT, 'ui');
const CACHE = process.env.AIRLOCK_UI_CACHE || join(ROOT, 'node_modules', '.cache', 'airlock-ui');

function fingerprint() {
  const h = createHash('sha256');
  hashTree(h, UI);
  h.update(readFileSync(join(ROOT, 'package.json')));
  try {
    h.update(readFileSync(join(ROOT, 'node_modules', '.package-lock.json')));
  } catch {
    /* not installed by npm: keyed on the sources alone */
  }
  return h.digest('hex').slice(0, 16);
}

async function build(outDir) {
  const vite = await import('vite');
  // Built into a temporary directory and renamed: a concurrent start sees the whole build or none.
  const tmp = `${outDir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  await vite.build({
    configFile: join(UI, 'vite.config.ts'),
    root: UI,
    logLevel: 'warn',
    build: { outDir: tmp, emptyOutDir: true },
  });
  try {
    renameSync(tmp, outDir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(outDir, 'index.html'))) throw err;
  }
}

/** The directory of an up-to-date UI build (built now when missing), or undefined with the reason. */
export async function ensureUi() {
  try {
    const name = `ui-${fingerprint()}`;
    const outDir = join(CACHE, name);
    if (!existsSync(join(outDir, 'index.html'))) {
      mkdirSync(CACHE, { recursive: true });
      await build(outDir);
      pruneOldBuilds(CACHE, 'ui-', name);
    }
    return { dir: outDir };
  } catch (err) {
    return { dir: undefined, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

// `node bin/ui.js` (npm's `prepare`): build now. Never fails the install; prints the directory.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await ensureUi();
  if (r.dir) process.stdout.write(`${r.dir}\n`);
  else process.stderr.write(`airlock: could not build the web UI (${r.reason}); the server will run the API alone\n`);
}
