// The build caches of bin/compiled.js (the CLI bundle) and bin/ui.js (the web console): what a build's
// fingerprint reads from the sources, and removal of builds of earlier sources. A server started from an older build may still load its lazy chunks,
// and checkouts that share node_modules (git worktrees) each use their own build, so a build is
// removed only when it is both beyond the newest few and over an hour old.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Feeds every file under `dir` that `include(name)` accepts (path, size, mtime; sorted, so the order is
 * stable) into the hash `h`.
 */
export function hashTree(h, dir, include = () => true) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) hashTree(h, p, include);
    else if (include(e.name)) {
      const s = statSync(p);
      h.update(`${p}\0${s.size}\0${s.mtimeMs}\n`);
    }
  }
}

const KEEP_BUILDS = 6;
const KEEP_MS = 60 * 60 * 1000;

/** Prunes `dir`'s entries named `<prefix>…` other than `current`; never throws. */
export function pruneOldBuilds(dir, prefix, current) {
  try {
    const others = readdirSync(dir)
      .filter((f) => f.startsWith(prefix) && f !== current)
      .map((f) => ({ f, mtime: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    const now = Date.now();
    for (const { f, mtime } of others.slice(KEEP_BUILDS - 1)) {
      if (now - mtime > KEEP_MS) rmSync(join(dir, f), { recursive: true, force: true });
    }
  } catch {
    // Another start pruned at the same moment: leaving a build behind loses nothing.
  }
}
