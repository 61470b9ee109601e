import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_CODES } from '../../../src/errors.js';
import { specReferenceTable } from '../../../src/spec/reference.js';
import { ROOT } from '../../helpers/cli.js';

test('docs/spec.md carries the field reference generated from the schema (cluster-endpoint schema --markdown)', async () => {
  const doc = await readFile(`${ROOT}docs/spec.md`, 'utf8');
  const between = doc.split('<!-- reference:start -->\n')[1]?.split('<!-- reference:end -->')[0];
  assert.equal(between?.trim(), specReferenceTable().trim());
});

test('every error code is documented in docs/errors.md', async () => {
  const doc = await readFile(`${ROOT}docs/errors.md`, 'utf8');
  for (const code of Object.keys(ERROR_CODES)) assert.match(doc, new RegExp(`\\b${code}\\b`), `${code} is not in docs/errors.md`);
});
