// BENCHMARKS.md belongs to several benches: each one replaces only the text between its own markers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Writes `section` between `<!-- name:start -->` and `<!-- name:end -->` in `path` (appending the markers when missing); returns the path. */
export function writeBenchmarkSection(path: string, name: string, section: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${section.trimEnd()}\n${end}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + end.length) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
  return path;
}
