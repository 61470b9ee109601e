import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT, runCli } from '../../helpers/cli.js';

const BAD = 'test/fixtures/doctor/bad';

test('doctor exits 1 on an error finding and prints file:line, why, see and fix', async () => {
  const result = await runCli(['doctor', `${BAD}/guide-keepalived.conf`]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stdout, /guide-keepalived\.conf:16: error \[keepalived\/script-after-instance\]/);
  assert.match(result.stdout, /\n {4}why: .*\n {4}see: .*\n {4}fix: /);
});

test('doctor exits 0 when the worst finding is a warning; --json has stable keys', async () => {
  const result = await runCli(['doctor', '--json', '--no-engines', `${BAD}/guide-haproxy.cfg`]);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { files: unknown[]; findings: Array<Record<string, unknown>>; counts: Record<string, number>; engines: unknown[] };
  assert.deepEqual(Object.keys(report), ['files', 'findings', 'counts', 'engines']);
  assert.deepEqual(report.engines, [], '--no-engines runs none');
  assert.deepEqual(report.counts, { error: 0, warning: 5, info: 0 });
  assert.deepEqual(Object.keys(report.findings[0]).sort(), ['file', 'fix', 'line', 'message', 'rule', 'severity', 'source', 'why']);
});

test('doctor without files checks ./endpoint.yaml, and says so when there is none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, 'doctor', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  try {
    const none = run();
    assert.equal(none.status, 2, none.stderr);
    assert.match(none.stderr, /endpoint\.yaml does not exist/);
    copyFileSync(join(ROOT, BAD, 'spec-invalid.endpoint.yaml'), join(dir, 'endpoint.yaml'));
    const found = run();
    assert.equal(found.status, 1, found.stderr);
    assert.match(found.stdout, /^endpoint\.yaml:6: error \[spec\/validate\]/m);
    const missing = run('nope.cfg');
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read nope\.cfg: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad --haproxy-version is a usage error', async () => {
  const result = await runCli(['doctor', '--haproxy-version', 'latest', `${BAD}/guide-haproxy.cfg`]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--haproxy-version "latest" is not a version/);
});

test('a directory stands for the files in it that doctor recognises', async () => {
  const { runCommand } = await import('../../integration/probe/in-process.js');
  const good = await runCommand('doctor', ['--json', '--no-engines', 'test/fixtures/doctor/good']);
  assert.equal(good.code, 0, good.stderr);
  const report = JSON.parse(good.stdout) as { files: Array<{ path: string; kind: string }>; counts: Record<string, number> };
  assert.equal(report.files.length, 9);
  assert.deepEqual(report.counts, { error: 0, warning: 0, info: 0 });
  const bad = await runCommand('doctor', ['--no-engines', 'test/fixtures/doctor/bad/weight-gap-peers']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /keepalived-lb1\.conf:9: error \[keepalived\/weight-gap\] weight -30 of chk_frontend cannot overcome the priority gap 150 vs 100/);
});
