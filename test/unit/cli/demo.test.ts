// The demo from outside: off a terminal the end of stdin does not stop it, and `probe` against it finds
// certificates with no expiry warning.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startDemo } from '../../../src/demo/demo.js';
import { silentLogger } from '../../../src/log.js';
import { CLI, ROOT, runCli, TSX } from '../../helpers/cli.js';
import { runCommand } from '../../integration/probe/in-process.js';

test('demo: stdin at its end (not a terminal) keeps the demo running until --duration', async () => {
  const started = Date.now();
  const result = await runCli(['demo', '--free-ports', '--duration', '3s'], { input: '', timeoutMs: 30_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /end of input: the demo keeps running until quit, Ctrl-C, SIGTERM or --duration/);
  assert.match(result.stdout, /stopping \(--duration 3000ms passed\)\n.*stopped\n$/);
  assert.ok(Date.now() - started >= 3000, 'ran for the whole --duration');
});

test('demo: its first line is its header, and nothing it prints is JSON (under a descriptor limit of 4096)', async () => {
  // stdout and stderr in one stream, as a terminal shows them.
  const run = await promisify(execFile)('sh', ['-c', `ulimit -n 4096 && exec "$0" --import "$1" "$2" demo --free-ports --duration 2s </dev/null 2>&1`, process.execPath, TSX, CLI], { cwd: ROOT, timeout: 120_000 })
    .then((r) => ({ code: 0, stdout: r.stdout }), (error: { code?: number; signal?: string; stdout?: string }) => ({ code: error.code ?? error.signal, stdout: error.stdout ?? '' }));
  const { stdout } = run;
  assert.equal(run.code, 0, stdout);
  const lines = stdout.split('\n');
  assert.match(lines[0], /^cluster-endpoint demo: /, stdout);
  assert.deepEqual(lines.filter((l) => l.startsWith('{')), [], 'no raw JSON');
});

test('demo: commands piped in still run, and quit still stops it', async () => {
  const result = await runCli(['demo', '--free-ports', '--duration', '60s'], { input: 'status\nquit\n', timeoutMs: 30_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /stopping \(quit\)/);
});

test('demo: probe against its balancer prints no certificate expiry warning', async (t) => {
  const demo = await startDemo({ freePorts: true, logger: silentLogger });
  t.after(() => demo.close());
  const result = await runCommand('probe', ['-c', demo.specPath, '--json', '--timeout', '2s']);
  const report = JSON.parse(result.stdout) as { warnings: string[]; rows: Array<{ tls?: { ok: boolean; daysLeft?: number } }> };
  const tls = report.rows.filter((row) => row.tls?.ok);
  assert.ok(tls.length > 0, 'probe completed TLS handshakes with the demo');
  for (const row of tls) assert.ok((row.tls?.daysLeft ?? 0) >= 300, `certificate valid for ${row.tls?.daysLeft} more day(s)`);
  assert.deepEqual(report.warnings.filter((w) => /expire/.test(w)), []);
});
