// Golden files for renderers: test/golden/render/<case>/endpoint.yaml is the input and
// test/golden/render/<case>/<target>/ holds the expected files. UPDATE_GOLDEN=1 rewrites them.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RenderContext, RenderedFile } from '../../../src/render/index.js';
import { parseSpec } from '../../../src/spec/load.js';
import type { Spec } from '../../../src/spec/types.js';

export const GOLDEN_ROOT = fileURLToPath(new URL('../../golden/render/', import.meta.url));
/** A fixed context so golden files do not change with every release. */
export const GOLDEN_CONTEXT: RenderContext = { version: '0.0.0-golden', specName: 'endpoint.yaml' };

export function specText(caseName: string): string {
  return readFileSync(join(GOLDEN_ROOT, caseName, 'endpoint.yaml'), 'utf8');
}

/** Parses a spec (a golden case's, or text) and fails the test with its problems when invalid. */
export function loadSpec(text: string): Spec {
  const result = parseSpec(text, 'endpoint.yaml');
  assert.ok(result.spec, `spec is invalid: ${JSON.stringify(result.problems)}`);
  return result.spec;
}

export function caseSpec(caseName: string): Spec {
  return loadSpec(specText(caseName));
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  try { walk(dir); } catch { /* no golden yet */ }
  return out.sort();
}

/** Asserts the rendered files equal the golden folder (same names, same bytes). */
export function assertGolden(caseName: string, target: string, files: RenderedFile[]): void {
  const dir = join(GOLDEN_ROOT, caseName, target);
  if (process.env.UPDATE_GOLDEN) {
    rmSync(dir, { recursive: true, force: true });
    for (const file of files) {
      mkdirSync(dirname(join(dir, file.path)), { recursive: true });
      writeFileSync(join(dir, file.path), file.contents);
    }
  }
  assert.deepEqual(files.map((f) => f.path).sort(), listFiles(dir), `file list of ${caseName}/${target} (UPDATE_GOLDEN=1 rewrites)`);
  for (const file of files) {
    assert.equal(file.contents, readFileSync(join(dir, file.path), 'utf8'), `${caseName}/${target}/${file.path} differs from the golden file (UPDATE_GOLDEN=1 rewrites)`);
  }
}

/** Runs fn and returns the UserError it throws (fails when it does not throw). */
export function renderError(fn: () => unknown): { code: string; message: string; hint?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string; hint?: string };
  }
  assert.fail('expected a render error');
}
