// JSON 6902 patches (talosctl patch --patch @file, config-patch files): a list of { op, path, value }.
// doctor checks what they add: the add and replace operations become one document holding their values
// at their paths, whose lines point back into the patch file.
import type { YamlDocument } from './yaml-documents.js';

interface Operation { op: string; path: string; value?: unknown }

/** True when the data is a JSON 6902 patch: a non-empty list of objects with `op` and `path`. */
export function isJsonPatch(data: unknown): data is Operation[] {
  return Array.isArray(data) && data.length > 0 && data.every((o) => typeof o === 'object' && o !== null && typeof (o as Operation).op === 'string' && typeof (o as Operation).path === 'string');
}

/** `/machine/network/interfaces/0/vip` → ['machine', 'network', 'interfaces', 0, 'vip'] (RFC 6901 escapes undone; `-` appends). */
export function pointer(path: string): Array<string | number> {
  if (path === '' || path === '/') return [];
  return path.replace(/^\//, '').split('/').map((part) => {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key;
  });
}

/** The document a patch adds: every add/replace value placed at its path, in order. */
export function patchedDocument(patch: YamlDocument & { data: Operation[] }): YamlDocument {
  const root: Record<string, unknown> = {};
  // Each placed value remembers where it came from, so a path can be traced to its line in the patch.
  const placed: Array<{ at: Array<string | number>; index: number }> = [];
  patch.data.forEach((operation, index) => {
    if (operation.op !== 'add' && operation.op !== 'replace') return;
    const at = pointer(operation.path);
    if (at.length === 0) return;
    let node: Record<string | number, unknown> | unknown[] = root;
    for (let i = 0; i < at.length - 1; i++) {
      const key = at[i];
      const nextIsIndex = typeof at[i + 1] === 'number' || at[i + 1] === '-';
      const container = node as Record<string | number, unknown>;
      if (typeof container[key as string] !== 'object' || container[key as string] === null) container[key as string] = nextIsIndex ? [] : {};
      node = container[key as string] as Record<string | number, unknown>;
    }
    const last = at[at.length - 1];
    if (Array.isArray(node) && last === '-') {
      at[at.length - 1] = node.length;
      node.push(operation.value);
    } else {
      (node as Record<string | number, unknown>)[last as string] = operation.value;
    }
    placed.push({ at, index });
  });
  return {
    data: root,
    lineOf(path) {
      // The deepest placed value that contains the path, else one placed somewhere below it.
      const within = placed.filter((p) => p.at.every((k, i) => path[i] === k)).sort((a, b) => b.at.length - a.at.length)[0];
      if (within) return patch.lineOf([within.index, 'value', ...path.slice(within.at.length)]);
      const below = placed.find((p) => path.every((k, i) => p.at[i] === k));
      return below ? patch.lineOf([below.index, 'path']) : patch.lineOf([0]);
    },
  };
}
