import type { SpecFile } from '../../context.js';

/** Line of the first of `paths` the spec file writes (paths as lists: ['listeners', 0, 'healthCheck']). */
export function specLine(file: SpecFile, ...paths: Array<ReadonlyArray<string | number>>): number {
  const doc = file.yaml.documents[0];
  if (!doc) return 1;
  for (const path of paths) {
    if (has(doc.data, path)) return doc.lineOf(path);
  }
  return 1;
}

function has(data: unknown, path: ReadonlyArray<string | number>): boolean {
  let node: unknown = data;
  for (const part of path) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as Record<string | number, unknown>)[part];
    if (node === undefined) return false;
  }
  return true;
}
