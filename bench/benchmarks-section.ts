// Each bench owns one section of BENCHMARKS.md between its markers and rewrites only that.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->` (adding the markers when missing); returns the path. */
export function writeBenchmarksSection(root: string, name: string, section: string): string {
  const path = join(root, 'BENCHMARKS.md');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${section}${end}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + end.length) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
  return path;
}
