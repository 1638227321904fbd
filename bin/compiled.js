// The CLI compiled once, not on every start: `src/cli/main.ts` and everything it imports, our
// sources and the npm packages alike, bundled into one ES module by esbuild and kept in
// node_modules/.cache/airlock/. Only better-sqlite3 (a native addon that finds its binary next to
// its own files) stays a normal import. The bundle's name carries a fingerprint of what went into
// it (path, size and mtime of every file under src/, package.json, npm's record of the installed
// packages, the Node version), so an edited source or a reinstall recompiles on the next start and
// a stale bundle is never run. Compiling takes about a second, once. Loading one file instead of
// transpiling each of ours at run time (tsx) and resolving the hundreds of files of the ESM
// packages (kysely, zod) saves seconds on every start; see docs/benchmarks.md, `startup`.
//
// `compiledEntry()` returns the bundle's file URL, or undefined when it cannot be had (no
// writable cache directory, esbuild missing): bin/airlock.js then runs the sources through tsx.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hashTree, pruneOldBuilds } from './build-cache.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const SRC = join(ROOT, 'src');
// AIRLOCK_COMPILE_CACHE: another directory (the startup benchmark times a first start with an empty one).
const CACHE = process.env.AIRLOCK_COMPILE_CACHE || join(ROOT, 'node_modules', '.cache', 'airlock');

function fingerprint() {
  const h = createHash('sha256');
  hashTree(h, SRC, (name) => name.endsWith('.ts') && !name.endsWith('.test.ts'));
  h.update(readFileSync(join(ROOT, 'package.json')));
  // This file: its build options and plugins shape the bundle as much as the sources do.
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  try {
    // Rewritten by npm on every install: any change to the installed packages changes it.
    h.update(readFileSync(join(ROOT, 'node_modules', '.package-lock.json')));
  } catch {
    /* not installed by npm: the bundle is then keyed on the sources alone */
  }
  h.update(process.version);
  return h.digest('hex').slice(0, 16);
}

/** Keeps each module's own `import.meta.url` (src/version.ts finds package.json by it). */
const ownMetaUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

/**
 * better-sqlite3 stays outside the bundle (a native addon finds its binary next to its own files),
 * imported by its absolute path so the bundle runs from any cache directory.
 */
const nativeByPath = {
  name: 'native-by-path',
  setup(build) {
    const require = createRequire(join(ROOT, 'package.json'));
    build.onResolve({ filter: /^better-sqlite3$/ }, (args) => ({ path: require.resolve(args.path), external: true }));
  },
};

/**
 * jsonc-parser's `main` is a UMD build whose modules require() each other through the UMD
 * factory's own parameter, which esbuild cannot follow (the bundle would fail at run time with
 * "Cannot find module './impl/format'"). Its ES module build bundles cleanly.
 */
const jsoncParserEsm = {
  name: 'jsonc-parser-esm',
  setup(build) {
    const require = createRequire(join(ROOT, 'package.json'));
    build.onResolve({ filter: /^jsonc-parser$/ }, () => ({ path: join(dirname(require.resolve('jsonc-parser/package.json')), 'lib', 'esm', 'main.js') }));
  },
};

async function compile(outdir) {
  const esbuild = await import('esbuild');
  // Built into a temporary directory and renamed: a concurrent start sees the whole bundle or none.
  const tmp = `${outdir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: { main: join(SRC, 'cli', 'main.ts') },
    bundle: true,
    // What only some commands need (the sandbox's emulators, the PostgreSQL client) goes in
    // chunks of its own, read when first imported.
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // pg's optional native binding: pg tries it inside a try/catch and does without.
    external: ['pg-native'],
    // CommonJS packages inside an ES module bundle still call require() (for node: built-ins).
    banner: { js: "import { createRequire as __airlockRequire } from 'node:module'; const require = __airlockRequire(import.meta.url);" },
    // Less text to parse at start; names are kept, so stack traces still read.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    outdir: tmp,
    // ES modules whatever package scope the cache directory falls under.
    outExtension: { '.js': '.mjs' },
    logLevel: 'silent',
    plugins: [ownMetaUrl, nativeByPath, jsoncParserEsm],
  });
  try {
    renameSync(tmp, outdir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another start finished the same bundle first.
    if (!existsSync(join(outdir, 'main.mjs'))) throw err;
  }
}

export async function compiledEntry() {
  if (process.env.AIRLOCK_RUN_SOURCES === '1') return undefined;
  try {
    const name = `main-${fingerprint()}`;
    const outdir = join(CACHE, name);
    if (!existsSync(join(outdir, 'main.mjs'))) {
      mkdirSync(CACHE, { recursive: true });
      await compile(outdir);
      pruneOldBuilds(CACHE, 'main-', name);
    }
    return pathToFileURL(join(outdir, 'main.mjs')).href;
  } catch {
    return undefined;
  }
}

// `node bin/compiled.js` (npm's `prepare`, after an install): compile now, so the first start
// does not have to. Never fails the install: a start compiles, or falls back to tsx, anyway.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const entry = await compiledEntry();
  if (!entry) process.stderr.write('airlock: could not precompile the CLI; it will run from its sources through tsx\n');
}
