// The fields table (src/render/fields.ts): it names only real fields and real targets, no field of the spec is
// dropped by every target without a word, and docs/render/fields.md and the per-field part of docs/spec.md are
// generated from it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIELD_USES, fieldOfPath, fieldsMarkdown, fieldTargetsMarkdown, SERVE_FIELDS, specFields, type FieldUse } from '../../../src/render/fields.js';
import { RENDERERS } from '../../../src/render/index.js';
import { Refusals } from '../../../src/render/refusals.js';
import { ROOT } from '../../helpers/cli.js';

const fields = specFields();
/** Objects and lists of objects a table entry may name as a whole (aws, vip.peers). */
const sections = new Set(fields.flatMap((f) => f.split('.').map((_, i, parts) => parts.slice(0, i).join('.')).filter(Boolean)).map((s) => s.replace(/\[\]$/, '')));

test('the table names registered targets and fields of the spec only, each with something to say', () => {
  assert.deepEqual(Object.keys(FIELD_USES).sort(), Object.keys(RENDERERS).sort());
  for (const [target, uses] of Object.entries(FIELD_USES)) {
    for (const [field, use] of Object.entries(uses as Record<string, FieldUse>)) {
      assert.ok(fields.includes(field) || sections.has(field), `${target}: ${field} is a field of the spec`);
      assert.ok(use.expresses || use.refuses || use.ignores, `${target}: ${field} says what the target does with it`);
    }
  }
  for (const field of Object.keys(SERVE_FIELDS)) assert.ok(fields.includes(field), `serve: ${field} is a field of the spec`);
});

test('every field of the spec is expressed or refused by a target, or read by serve: none is dropped without a word', () => {
  const claimed = new Set([
    ...Object.values(FIELD_USES).flatMap((uses) => Object.entries(uses as Record<string, FieldUse>).filter(([, u]) => u.expresses || u.refuses).map(([f]) => f)),
    ...Object.keys(SERVE_FIELDS),
  ]);
  assert.deepEqual(fields.filter((f) => !claimed.has(f)), []);
});

test('a refusal names a field the table says the target refuses, at a path of that field', () => {
  const refusals = new Refusals('aws');
  refusals.add('listeners[].balance', 'm', 'h', 'listeners[2].balance');
  refusals.add('controlPlane[].ports', 'm', 'h', 'controlPlane[1].ports.talos');
  refusals.add('aws.allowedAdminCidrs', 'm', 'h', 'aws.allowedAdminCidrs[3]');
  assert.equal(refusals.count, 3);
  assert.throws(() => refusals.add('listeners[].balance', 'm', 'h', 'listeners[2].port'), /does not name the field/);
  assert.throws(() => refusals.addAt('healthCheck.fastInterval', 'm', 'h'), /does not say that aws refuses healthCheck\.fastInterval/);
  assert.equal(fieldOfPath('listeners[10].healthCheck.clientCertificate.keyFile'), 'listeners[].healthCheck.clientCertificate.keyFile');
});

test('docs/render/fields.md is generated from the table', () => {
  const path = join(ROOT, 'docs/render/fields.md');
  if (process.env.UPDATE_GOLDEN) writeFileSync(path, fieldsMarkdown());
  assert.equal(readFileSync(path, 'utf8'), fieldsMarkdown(), 'docs/render/fields.md is out of date (UPDATE_GOLDEN=1 node --import tsx --test test/unit/render/fields.test.ts rewrites it)');
});

test('docs/spec.md says per field which targets express, refuse or leave it out, generated from the table', () => {
  const path = join(ROOT, 'docs/spec.md');
  const [start, end] = ['<!-- render-fields:start -->\n', '<!-- render-fields:end -->'];
  const doc = readFileSync(path, 'utf8');
  const [before, rest] = doc.split(start);
  assert.ok(rest?.includes(end), `docs/spec.md has the markers ${start.trim()} … ${end}`);
  const after = rest.slice(rest.indexOf(end));
  if (process.env.UPDATE_GOLDEN) writeFileSync(path, `${before}${start}${fieldTargetsMarkdown()}\n${after}`);
  assert.equal(readFileSync(path, 'utf8').split(start)[1].split(end)[0], `${fieldTargetsMarkdown()}\n`, 'docs/spec.md is out of date (UPDATE_GOLDEN=1 node --import tsx --test test/unit/render/fields.test.ts rewrites it)');
});
