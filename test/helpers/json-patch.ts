/**
 * A small RFC 6902 applier for tests: applies a patch the way the API server does (in order, each
 * op against the result of the previous, `-` appends, an index inserts, a missing parent fails),
 * so a golden test can show the pod that results. add, remove, replace and test; no move/copy.
 */
import { isDeepStrictEqual } from 'node:util';

export interface Op {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

function tokens(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`JSON pointer must start with "/": ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Container = Record<string, unknown> | unknown[];

function parentOf(doc: unknown, path: string): { parent: Container; key: string } {
  const ts = tokens(path);
  if (ts.length === 0) throw new Error('the whole document cannot be patched here');
  let cur: unknown = doc;
  for (const t of ts.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object' || !(t in cur)) throw new Error(`path ${path}: no ${t}`);
    cur = (cur as Record<string, unknown>)[t];
  }
  if (cur === null || typeof cur !== 'object') throw new Error(`path ${path}: parent is not a container`);
  return { parent: cur as Container, key: ts[ts.length - 1] ?? '' };
}

function index(arr: unknown[], key: string, path: string, forAdd: boolean): number {
  if (key === '-' && forAdd) return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw new Error(`path ${path}: ${key} is not an array index`);
  const i = Number(key);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new Error(`path ${path}: index ${i} out of bounds`);
  return i;
}

/** Returns a patched deep copy; throws on any op RFC 6902 says must fail. */
export function applyPatch<T>(doc: T, ops: readonly Op[]): T {
  const out = structuredClone(doc);
  for (const o of ops) {
    const { parent, key } = parentOf(out, o.path);
    switch (o.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(index(parent, key, o.path, true), 0, structuredClone(o.value));
        else parent[key] = structuredClone(o.value);
        break;
      case 'remove':
      case 'replace':
        if (Array.isArray(parent)) {
          const i = index(parent, key, o.path, false);
          if (o.op === 'remove') parent.splice(i, 1);
          else parent[i] = structuredClone(o.value);
        } else {
          if (!(key in parent)) throw new Error(`path ${o.path}: nothing to ${o.op}`);
          if (o.op === 'remove') delete parent[key];
          else parent[key] = structuredClone(o.value);
        }
        break;
      case 'test': {
        const v = Array.isArray(parent) ? parent[index(parent, key, o.path, false)] : parent[key];
        if (!isDeepStrictEqual(v, o.value)) throw new Error(`test failed at ${o.path}`);
        break;
      }
      default:
        throw new Error(`unsupported op ${(o as { op: string }).op}`);
    }
  }
  return out;
}
