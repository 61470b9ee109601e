// A spec can cost only so much to read: hostile or runaway files are clear errors with a line, never a
// crash or a stall (issue 9, items 1 and 2).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseSpec, SPEC_LIMITS } from '../../../src/spec/load.js';
import { deeperThan } from '../../../src/spec/yaml-depth.js';
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

/** 1 MiB documents nested every way YAML allows (issue 24, item 1). */
const DEEP: Record<string, (room: number) => string> = {
  'flow lists': (room) => `x: ${'['.repeat(room / 2)}${']'.repeat(room / 2)}\n`,
  'flow mappings': (room) => `x: ${'{a: '.repeat(room / 5)}1${'}'.repeat(room / 5)}\n`,
  'JSON': (room) => `x: ${'{"a":'.repeat(room / 6)}1${'}'.repeat(room / 6)}\n`,
  'compact lists': (room) => `x:\n  ${'- '.repeat(room / 2)}1\n`,
  'block mappings': (room) => { let text = 'x:\n'; for (let i = 1; text.length + i + 4 < room; i++) text += `${' '.repeat(i)}k:\n`; return text; },
};

for (const [shape, make] of Object.entries(DEEP)) {
  test(`a 1 MiB spec nested deeply (${shape}) is a SPEC_LIMIT at the line that goes too deep, found without parsing it`, () => {
    const text = `${BASE}${make(SPEC_LIMITS.bytes - BASE.length - 16)}`;
    assert.ok(Buffer.byteLength(text) <= SPEC_LIMITS.bytes);
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const result = parseSpec(text);
    const ms = performance.now() - started;
    assert.equal(result.spec, undefined);
    assert.equal(result.problems.length, 1, JSON.stringify(result.problems));
    assert.equal(result.problems[0].code, 'SPEC_LIMIT');
    assert.match(result.problems[0].message, /nests more than 64 levels deep/);
    assert.ok(result.problems[0].line! >= 5, 'the line of the document, not line 1');
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024, 'no parser ran over it');
  });
}

/** Nesting depth of a value: a scalar 0, a list or mapping 1 + its deepest item. */
function depthOf(value: unknown): number {
  return typeof value === 'object' && value !== null ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0;
}

const nested = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.string(), fc.integer(), fc.constantFrom('a: b', '- x', '[x]', "'q'", '"', '#c', '|', '> x', "it's", '{a', 'x]', 'multi\nline')),
    tie('list'), tie('map')),
  list: fc.array(tie('node'), { maxLength: 3 }),
  map: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), tie('node'), { maxKeys: 3 }),
})).node;

test('deeperThan counts a document\'s depth as its parser would, or one more, in block, flow and JSON form', () => {
  const scanned = (text: string) => { let limit = 0; while (deeperThan(text, limit)) limit++; return limit; };
  fc.assert(fc.property(nested, fc.constantFrom('block', 'flow', 'json'), (value, style) => {
    const text = style === 'json' ? JSON.stringify(value, null, 1) : stringify(value, style === 'flow' ? { collectionStyle: 'flow' } : {});
    const depth = depthOf(value);
    const found = scanned(text);
    assert.ok(found >= depth && found <= depth + 1, `depth ${depth}, scanned ${found}:\n${text}`);
  }), { numRuns: 2000 });
});

test('every spec in the repository nests well within the limit', async () => {
  const { readdir, readFile } = await import('node:fs/promises');
  const files = ['examples', 'test/fixtures/doctor/good', 'test/fixtures/doctor/render'].map((dir) => new URL(`../../../${dir}/`, import.meta.url));
  let checked = 0;
  for (const dir of files) {
    for (const name of await readdir(dir)) {
      if (!/\.ya?ml$/.test(name)) continue;
      const text = await readFile(new URL(name, dir), 'utf8');
      assert.equal(deeperThan(text, 12), undefined, name);
      checked++;
    }
  }
  assert.ok(checked >= 5);
});

test('alias expansions: exactly 100 are allowed, one more is refused, and nested anchors count each time they are used', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 160 }), (count) => {
    const text = `${BASE}x-anchor: &v 1\nnotes:\n${Array.from({ length: count }, (_, i) => `  - *v # ${i}`).join('\n')}\n`;
    const refused = parseSpec(text).problems.some((p) => p.code === 'SPEC_LIMIT');
    assert.equal(refused, count > SPEC_LIMITS.aliases, `${count} aliases`);
  }), { numRuns: 60 });
  // b uses a 10 times: each *b stands for 10 more expansions. 9 × (1 + 10) = 99; 10 × 11 = 110.
  const nestedText = (uses: number) => `${BASE}a: &a 1\nb: &b [${Array(10).fill('*a').join(', ')}]\nc: [${Array(uses).fill('*b').join(', ')}]\n`;
  assert.ok(!parseSpec(nestedText(8)).problems.some((p) => p.code === 'SPEC_LIMIT'), '10 + 8 × 11 = 98');
  assert.ok(parseSpec(nestedText(9)).problems.some((p) => p.code === 'SPEC_LIMIT'), '10 + 9 × 11 = 109');
  // An anchor that refers to itself is unbounded.
  assert.equal(parseSpec(`${BASE}x: &x [1, *x]\n`).problems[0]?.code, 'SPEC_LIMIT');
});

test('YAML syntax errors say how to fix them, not only what the library saw', () => {
  const cases: Array<[string, RegExp]> = [
    [`${BASE}listeners:\n\t- { name: k }\n`, /indent with spaces/],
    [`${BASE}x: "unterminated\n`, /closing quote or bracket is missing/],
    [`${BASE}x: @value\n`, /quote the value/],
  ];
  for (const [text, hint] of cases) {
    const problem = parseSpec(text).problems[0];
    assert.equal(problem.code, 'SPEC_YAML', text);
    assert.match(problem.hint ?? "", hint, `${text}: ${problem.message}`);
  }
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

test('the parser thread has a memory limit: a document that needs more ends it with a SPEC_LIMIT problem, and the next parse works', async (t) => {
  const parser = new SpecParser({ limits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 8 } });
  t.after(() => parser.close());
  // 100,000 list items: valid YAML whose document model needs well over 24 MiB.
  const wide = `${BASE}x:\n${'- 1\n'.repeat(100_000)}`;
  const result = await parser.parse(wide, 'spec.yaml', 60_000);
  assert.equal(result.problems[0]?.code, 'SPEC_LIMIT', JSON.stringify(result.problems[0]));
  assert.match(result.problems[0].message, /needs more than 24 MiB of memory to parse/);
  assert.deepEqual(await parser.parse(BASE, 'spec.yaml'), parseSpec(BASE, 'spec.yaml'));
});

test('the parser thread is ended when idle, so what a large spec cost is given back', async (t) => {
  const parser = new SpecParser({ idleMs: 100 });
  t.after(() => parser.close());
  assert.equal(parser.running, false);
  await parser.parse(BASE, 'spec.yaml');
  assert.equal(parser.running, true, 'kept for a burst of reloads');
  const deadline = Date.now() + 5000;
  while (parser.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(parser.running, false, 'ended after 100 ms idle');
  assert.deepEqual(await parser.parse(BASE, 'spec.yaml'), parseSpec(BASE, 'spec.yaml'), 'a new one starts for the next parse');
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
