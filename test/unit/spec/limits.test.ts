// A spec can cost only so much to read: hostile or runaway files are clear errors with a line, never a
// crash or a stall (issue 9, items 1 and 2).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSpec, SPEC_LIMITS } from '../../../src/spec/load.js';
import { SpecParser } from '../../../src/spec/worker.js';
import { runCli } from '../../helpers/cli.js';

const BASE = 'cluster: { name: x }\nendpoint: 10.0.0.1\ncontrolPlane:\n  - { name: cp-01, address: 10.0.0.2 }\n';

/** 120 references to one anchor inside healthCheck: more expansions than the limit. */
const MANY_ALIASES = `${BASE}x-anchor: &v 1\nnotes:\n${Array.from({ length: 120 }, (_, i) => `  - *v # ${i}`).join('\n')}\n`;

const BILLION_LAUGHS = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`;

test('more alias expansions than the limit: a SPEC_LIMIT problem at the first alias, not an exception', () => {
  const result = parseSpec(MANY_ALIASES);
  assert.equal(result.spec, undefined);
  assert.equal(result.problems.length, 1);
  assert.equal(result.problems[0].code, 'SPEC_LIMIT');
  assert.match(result.problems[0].message, /aliases .* more than 100 times/);
  assert.equal(result.problems[0].line, 7, 'the line of the first *alias');
});

test('a billion-laughs document is refused at once', () => {
  const started = Date.now();
  const result = parseSpec(BILLION_LAUGHS);
  assert.equal(result.problems[0].code, 'SPEC_LIMIT');
  assert.equal(result.problems[0].line, 2);
  assert.ok(Date.now() - started < 5000);
});

test('a few anchors for repeated settings stay allowed', () => {
  const text = `${BASE}listeners:\n  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane, healthCheck: &hc { interval: 5s, timeout: 2s } }\n  - { name: talos, port: 50000, targetPort: 50000, targets: controlPlane, healthCheck: *hc }\n`;
  const result = parseSpec(text);
  assert.deepEqual(result.problems, []);
  assert.equal(result.spec?.listeners[1].healthCheck.intervalMs, 5000);
});

test('a spec over the size limit is refused without parsing it', () => {
  const text = `${BASE}# ${'x'.repeat(SPEC_LIMITS.bytes)}\n`;
  const result = parseSpec(text);
  assert.equal(result.problems[0].code, 'SPEC_LIMIT');
  assert.match(result.problems[0].message, /at most 1\.0 MiB/);
});

test('duplicate keys are found among thousands of keys, with the repeated key\'s line', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `  k${i}: 1`).join('\n');
  const result = parseSpec(`${BASE}x:\n${keys}\n  k17: 2\n`);
  const duplicate = result.problems.find((p) => /"k17" is repeated/.test(p.message));
  assert.ok(duplicate, JSON.stringify(result.problems.slice(0, 3)));
  assert.equal(duplicate.code, 'SPEC_YAML');
  assert.equal(duplicate.line, 5 + 1 + 5000);
});

test('thousands of unknown keys give a bounded list: the first 50 and a count of the rest', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}: 1`).join('\n');
  const result = parseSpec(`${BASE}${keys}\n`);
  assert.equal(result.problems.length, SPEC_LIMITS.problems + 1);
  assert.match(result.problems.at(-1)!.message, /and 9950 more problem\(s\) not shown/);
  assert.equal(result.problems[0].line, 5, 'the shown ones are located and in file order');
  assert.ok(JSON.stringify(result.problems).length < 20_000);
});

test('nesting too deep to read is a SPEC_LIMIT problem, not a stack overflow', () => {
  const depth = 200_000;
  const result = parseSpec(`${BASE}x: ${'['.repeat(depth)}${']'.repeat(depth)}\n`);
  assert.equal(result.spec, undefined);
  assert.ok(result.problems.length > 0);
});

test('SpecParser (off the event loop) gives the same result as parseSpec, and a SPEC_LIMIT problem past its deadline', async (t) => {
  const parser = new SpecParser();
  t.after(() => parser.close());
  const offThread = (text: string, source: string, deadlineMs?: number) => parser.parse(text, source, deadlineMs);
  const valid = await offThread(BASE, 'spec.yaml');
  assert.deepEqual(valid, parseSpec(BASE, 'spec.yaml'));
  const bomb = await offThread(BILLION_LAUGHS, 'spec.yaml');
  assert.equal(bomb.problems[0].code, 'SPEC_LIMIT');
  // Tens of thousands of keys take the parser far longer than 1 ms.
  const slow = `${BASE}${Array.from({ length: 40_000 }, (_, i) => `k${i}: ${i}`).join('\n')}\n`;
  const late = await offThread(slow, 'spec.yaml', 1);
  assert.equal(late.problems[0]?.code, 'SPEC_LIMIT');
  assert.match(late.problems[0].message, /longer than 0\.001s/);
  // The worker that overran was ended; the next parse gets a new one.
  assert.deepEqual(await offThread(BASE, 'spec.yaml'), parseSpec(BASE, 'spec.yaml'));
});

test('validate names the file and line of an alias bomb and exits 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ce-limits-'));
  try {
    const file = join(dir, 'endpoint.yaml');
    await writeFile(file, BILLION_LAUGHS);
    const result = await runCli(['validate', '-c', file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:2:\\d+: error: the spec expands YAML aliases`));
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
