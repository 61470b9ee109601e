import type { SpecFile } from '../../context.js';

/** Line of the first of `paths` the spec file writes (paths as lists: ['listeners', 0, 'healthCheck']). */
export function specLine(file: SpecFile, ...paths: Array<ReadonlyArray<string | number>>): number {
  const doc = file.yaml.documents[0];
  if (!doc) return 1;
  for (const path of paths) {
    if (written(file, path) !== undefined) return doc.lineOf(path);
  }
  return 1;
}

/** The value the spec file writes at `path` (before defaults), or undefined when it does not write it. */
export function written(file: SpecFile, path: ReadonlyArray<string | number>): unknown {
  let node: unknown = file.yaml.documents[0]?.data;
  for (const part of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[part];
    if (node === undefined) return undefined;
  }
  return node;
}

/**
 * Where a listener's health-check setting comes from: its own healthCheck when it writes the key, else
 * the top-level healthCheck when that writes it, else the default.
 */
export function checkSetting(file: SpecFile, index: number, key: string): { path: Array<string | number>; inherited: boolean } | undefined {
  const own = ['listeners', index, 'healthCheck', key];
  if (written(file, own) !== undefined) return { path: own, inherited: false };
  const top = ['healthCheck', key];
  if (written(file, top) !== undefined) return { path: top, inherited: true };
  return undefined;
}
