import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The balancer scenarios once more on the portable engine (src/lb/tcp/sockets.ts, CLUSTER_ENDPOINT_TCP=sockets):
// a Node release without the bindings handles.ts uses must behave the same. bulk and tcp-engines already run
// on both engines.
const here = dirname(fileURLToPath(import.meta.url));
const SKIP = new Set(['sockets-engine.test.ts', 'tcp-engines.test.ts', 'bulk.test.ts']);

test('every balancer scenario passes on the sockets engine too', { timeout: 300_000 }, async () => {
  // Not a child of this runner (NODE_TEST_CONTEXT would make it report to us instead of printing TAP).
  const { NODE_TEST_CONTEXT: _ignored, ...env } = process.env;
  const files = readdirSync(here).filter((f) => f.endsWith('.test.ts') && !SKIP.has(f)).sort().map((f) => join(here, f));
  assert.ok(files.length >= 5, `found only ${files.length} scenario files`);
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=tap', ...files], {
      env: { ...env, CLUSTER_ENDPOINT_TCP: 'sockets' }, maxBuffer: 64 * 1024 * 1024, timeout: 280_000,
    }, (error, out) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout: out }));
  });
  const count = (label: string) => Number(new RegExp(`^# ${label} (\\d+)$`, 'm').exec(stdout)?.[1] ?? NaN);
  const failed = stdout.split('\n').filter((line) => /^not ok /.test(line));
  assert.deepEqual(failed, [], `failed on the sockets engine:\n${failed.join('\n')}`);
  assert.equal(code, 0, stdout.slice(-2000));
  assert.ok(count('pass') >= 20, `only ${count('pass')} scenarios passed`);
  assert.equal(count('skipped'), 0);
});
