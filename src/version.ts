import { readFileSync } from 'node:fs';

const pkgUrl = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)];

/** The package version (works from src/ under tsx and from dist/src/). */
export const VERSION: string = (() => {
  for (const url of pkgUrl) {
    try {
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cluster-endpoint' && pkg.version) return pkg.version;
    } catch { /* try the next location */ }
  }
  return '0.0.0';
})();
