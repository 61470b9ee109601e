// Golden text files of the kernel data plane (test/golden/kernel/); UPDATE_GOLDEN=1 rewrites them.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GOLDEN = fileURLToPath(new URL('../../golden/kernel/', import.meta.url));

export function assertGoldenText(file: string, text: string): void {
  const path = join(GOLDEN, file);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, text);
  }
  assert.equal(text, readFileSync(path, 'utf8'), `${file} differs from the golden file (UPDATE_GOLDEN=1 rewrites)`);
}
