// Removal of cached builds of earlier sources (the CLI bundle, the web console), shared by
// bin/compiled.js and bin/ui.js. A server started from an older build may still load its lazy chunks,
// and checkouts that share node_modules (git worktrees) each use their own build, so a build is
// removed only when it is both beyond the newest few and over an hour old.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
