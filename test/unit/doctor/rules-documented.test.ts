import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ENGINES } from '../../../src/doctor/engines/index.js';
import { RULES } from '../../../src/doctor/rules/index.js';
import { ROOT } from '../../helpers/cli.js';

test('every doctor rule and engine is documented in docs/doctor.md with its source, ids are unique and named <engine>/<rule>', () => {
  const docs = readFileSync(join(ROOT, 'docs/doctor.md'), 'utf8');
  const ids = [...RULES.map((r) => r.id), ...ENGINES.map((e) => e.id)];
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) {
    assert.match(id, /^(spec|haproxy|keepalived|talos|terraform|bird)\/[a-z0-9-]+$/);
    // The table row that names the rule also names where its trap is documented.
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${id}\` |`));
    assert.ok(row, `${id} has a row in docs/doctor.md`);
    assert.match(row, /https?:\/\/|\(\d\)|docs\/|reference guide|user guide|measured|haproxy -c|keepalived -t/, `${id}: its row names a source`);
  }
});
