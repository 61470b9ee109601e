// Every trap of test/unit/doctor/traps.ts: each bad case gives exactly its findings (rule, file, line,
// severity), each good twin stays clean, and every trap is shown in at least two syntaxes.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { runDoctor } from '../../../src/doctor/run.js';
import { RULES } from '../../../src/doctor/rules/index.js';
import { inputs, TRAPS, TRAPS_DIR } from './traps.js';

const key = (f: { rule: string; line: number; severity: string; file: string }) => `${f.file}:${f.line} ${f.severity} ${f.rule}`;

for (const trap of TRAPS) {
  describe(`trap ${trap.dir} (${trap.rules.join(', ')})`, () => {
    for (const bad of trap.bad) {
      test(`bad: ${bad.path} — ${bad.syntax}`, async () => {
        const given = inputs(trap, bad.path);
        const report = await runDoctor(given);
        const only = given.filter((g) => !(trap.with ?? []).includes(g.path));
        const expected = bad.expect.map(([rule, line, severity, file]) => key({ rule, line, severity, file: file ?? only[0].path })).sort();
        assert.deepEqual(report.findings.map(key).sort(), expected);
        for (const f of report.findings) {
          assert.ok(f.message && f.why && f.source && f.fix, `${f.rule}: what, why, source and fix`);
          // Durations carry their unit: "30s", never a bare number of seconds or milliseconds.
          assert.doesNotMatch(f.message, /\b(timeout|interval|advert_int|inter)\b[^,;]*? \d+(?![\dsmh.%/:])/i, f.message);
        }
      });
    }
    for (const good of trap.good) {
      test(`good twin: ${good}`, async () => {
        const report = await runDoctor(inputs(trap, good));
        assert.deepEqual(report.findings.filter((f) => f.severity !== 'info' || trap.rules.includes(f.rule)).map(key), []);
      });
    }
  });
}

describe('the trap corpus itself', () => {
  test('every trap has bad cases in at least two syntaxes, every rule of it at least one, and a good twin', () => {
    for (const trap of TRAPS) {
      assert.ok(trap.bad.length >= 2 && new Set(trap.bad.map((b) => b.syntax)).size === trap.bad.length, trap.dir);
      assert.ok(trap.good.length >= 1, trap.dir);
      for (const rule of trap.rules) {
        assert.ok(RULES.some((r) => r.id === rule), `${rule} is a rule`);
        assert.ok(trap.bad.some((b) => b.expect.some(([r]) => r === rule)), `${trap.dir}: a bad case shows ${rule}`);
      }
    }
  });

  test('every fixture in the traps folder belongs to a case', () => {
    const used = new Set(TRAPS.flatMap((t) => [...t.bad.map((b) => `${t.dir}/${b.path}`), ...t.good.map((g) => `${t.dir}/${g}`), ...(t.with ?? []).map((w) => `${t.dir}/${w}`)]));
    const present = readdirSync(TRAPS_DIR).flatMap((dir) => readdirSync(`${TRAPS_DIR}/${dir}`).map((entry) => `${dir}/${entry}`));
    assert.deepEqual(present.filter((p) => !used.has(p)), []);
  });
});
