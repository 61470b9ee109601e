// doctor on BIRD configs: the traps of announcing the endpoint with BGP next to HAProxy, each asserted by
// rule and line; the config `render bird` writes has none; and BIRD itself accepts every fixture (the traps
// are not syntax errors).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBird } from '../../../src/doctor/parsers/bird.js';
import { runDoctor } from '../../../src/doctor/run.js';
import { requireOrSkip, ROOT } from '../../helpers/cli.js';

const FIXTURES = join(ROOT, 'test/fixtures/doctor');
const read = (file: string) => ({ path: file, text: readFileSync(join(FIXTURES, file), 'utf8') });

test('doctor bird: no BFD with default timers, an always-up static route, export all, bfd without a bfd protocol', async () => {
  const report = await runDoctor([read('bad/bird-lb-no-bfd.conf')]);
  const got = report.findings.map((f) => `${f.rule}:${f.line}:${f.severity}`).sort();
  assert.deepEqual(got, [
    'bird/bgp-without-bfd:11:warning',
    'bird/bgp-without-bfd:24:error',
    'bird/unconditional-announce:27:warning',
    'bird/unconditional-announce:6:warning',
  ].sort());
  assert.match(report.findings.find((f) => f.line === 11)!.message, /240 s \(BIRD's default\)/);
  for (const f of report.findings) assert.ok(f.message && f.why && f.source && f.fix);
});

test('doctor bird: a router without merge paths gives one LB host every client', async () => {
  const report = await runDoctor([read('bad/bird-router.conf')]);
  assert.deepEqual(report.findings.map((f) => `${f.rule}:${f.line}:${f.severity}`), ['bird/no-merge-paths:5:warning']);
});

test('doctor bird: the config render bird writes has no finding', async () => {
  const report = await runDoctor([read('good/bird.conf')]);
  assert.deepEqual(report.files.map((f) => f.kind), ['bird']);
  assert.deepEqual(report.findings, []);
});

test('the BIRD parser: nested blocks, templates, comments and lines', () => {
  const config = parseBird('# c\nprotocol bgp a from t { /* x\n y */ neighbor 10.0.0.1 as 1;\n  ipv4 { export where proto = "e"; }; }\n');
  assert.deepEqual(config.nodes[0].words, ['protocol', 'bgp', 'a', 'from', 't']);
  assert.equal(config.nodes[0].line, 2);
  assert.deepEqual(config.nodes[0].children[0], { words: ['neighbor', '10.0.0.1', 'as', '1'], line: 3, children: [] });
  assert.deepEqual(config.nodes[0].children[1].children[0].words, ['export', 'where', 'proto', '=', '"e"']);
  assert.equal(config.nodes[0].children[1].children[0].line, 4);
});

test('BIRD accepts every bird fixture (bird -p)', (t) => {
  let ok = true;
  try { execFileSync('bird', ['--version'], { stdio: 'ignore' }); } catch { ok = false; }
  if (!requireOrSkip(t, ok, 'bird (Debian bird2) is not installed')) return;
  for (const file of ['bad/bird-lb-no-bfd.conf', 'bad/bird-router.conf', 'good/bird.conf']) {
    execFileSync('bird', ['-p', '-c', join(FIXTURES, file)], { stdio: 'pipe' });
  }
});
