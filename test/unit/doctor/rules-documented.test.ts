import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { RULES } from '../../../src/doctor/rules/index.js';
import { ROOT } from '../../helpers/cli.js';

test('every doctor rule is documented in docs/doctor.md, ids are unique and named <engine>/<rule>', () => {
  const docs = readFileSync(join(ROOT, 'docs/doctor.md'), 'utf8');
  const ids = RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) {
    assert.match(id, /^(spec|haproxy|keepalived|talos|terraform|bird)\/[a-z0-9-]+$/);
    assert.ok(docs.includes(`\`${id}\``), `${id} is missing from docs/doctor.md`);
  }
});
