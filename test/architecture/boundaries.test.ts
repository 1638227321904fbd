/**
 * Two rules of the tree's shape, checked over the source text:
 * - no import circle among the modules under src/ (type-only imports count too: a circle of types
 *   is still two modules that cannot be understood apart);
 * - request paths (`body.name`, `query.cursor`, `params.id`) are named only at the HTTP edges:
 *   src/api, and each emulator's routes.ts (an emulator is an HTTP service of its own, and its
 *   routes file is the only part of it that knows the request). Domain, store and emulator state
 *   code name fields by their own names and the edge maps them (src/api/errors.ts
 *   `inRequestTerms`, src/emulators/gcp/routes.ts `inRequestBody`).
 *
 * And one licence rule: the AGPL-3.0 devDependencies (@cloud-copilot/*, the independent trust-policy
 * evaluator) are imported only under test/, never by a file under src/, tests there included.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string, withTests = false): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p, withTests);
    return name.endsWith('.ts') && (withTests || !name.endsWith('.test.ts')) ? [p] : [];
  });
}

/** Relative module specifiers of every import and re-export (static and dynamic) in a file. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec?.startsWith('.')) out.push(spec);
  }
  return out;
}

/** Every elementary cycle's first sighting, as a list of files; empty when the graph is acyclic. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const next of graph.get(n) ?? []) {
      const s = state.get(next);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

describe('the shape of src/', () => {
  const files = sourceFiles(SRC);

  it('finds its imports (the checker itself can fail)', () => {
    assert.deepEqual(
      importsOf(`import a from './a.ts';\nimport type { B } from "../b.ts";\nexport { c } from './c.ts';\nimport './d.ts';\nconst e = await import('./e.ts');\nimport x from 'node:fs';`),
      ['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts'],
    );
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    assert.deepEqual(findCycles(g), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', []]])), []);
  });

  it('has no import circle', () => {
    const graph = new Map<string, string[]>();
    for (const f of files) {
      const deps = importsOf(readFileSync(f, 'utf8'))
        .map((s) => resolve(dirname(f), s))
        .filter((p) => p.startsWith(SRC + '/'));
      graph.set(f, deps);
    }
    assert.ok(graph.size > 50, `saw only ${graph.size} modules`);
    const cycles = findCycles(graph).map((c) => c.map((p) => relative(ROOT, p)).join(' -> '));
    assert.deepEqual(cycles, [], `import circles:\n${cycles.join('\n')}`);
  });

  it("names request paths only in src/api and the emulators' routes files", () => {
    // A string literal (any quote) that starts with a request part and a dot: 'body.name', `query.${k}`.
    const requestPath = /['"`](?:body|query|params)\.[\w$[{]/;
    const found: string[] = [];
    for (const f of files) {
      const rel = relative(ROOT, f);
      if (rel.startsWith('src/api/') || /^src\/emulators\/[^/]+\/routes\.ts$/.test(rel)) continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
          if (requestPath.test(code)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(found, [], `request paths outside the HTTP edges:\n${found.join('\n')}`);
  });

  it('imports the AGPL-licensed @cloud-copilot packages nowhere under src/ (tests included)', () => {
    const agpl = /(?:from|import)\s*\(?\s*['"]@cloud-copilot\//;
    assert.ok(agpl.test(`import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';`), 'the pattern itself matches an import');
    const found = sourceFiles(SRC, true)
      .filter((f) => agpl.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    assert.deepEqual(found, [], `@cloud-copilot imported under src/:\n${found.join('\n')}`);
  });
});
