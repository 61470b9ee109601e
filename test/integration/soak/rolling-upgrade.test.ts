// alone: flat resources and no loss under load, over minutes: no other test shares the CPU (test/run.sh)
// The rolling-upgrade drill, short (issue 9): each node in turn is drained, stopped, started, waited for and
// undrained while `cluster-endpoint watch --https /readyz` and long-lived streams run — through serve, and
// through HAProxy with the config `render haproxy` writes. bench/rolling-upgrade.ts runs it longer and
// records both in BENCHMARKS.md.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireOrSkip } from '../../helpers/cli.js';
import { hasCommand } from '../render-bare-metal/netns.js';
import { drillProblems, formatDrill, runDrill } from '../../soak/drill.js';

test('rolling upgrade through serve: no failed new connection, every cut stream back within 1 s', { timeout: 180_000 }, async () => {
  const report = await runDrill({ engine: 'serve', streams: 6, rate: 20, stepMs: 700, log: () => undefined });
  process.stdout.write(`${formatDrill(report)}\n`);
  assert.deepEqual(drillProblems(report), [], report.steps.join('\n'));
  assert.ok(report.streams.cut > 0, 'stopping a node really cut streams');
});

test('the same drill through HAProxy with the rendered config', { timeout: 180_000 }, async (t) => {
  if (!requireOrSkip(t, await hasCommand('haproxy'), 'haproxy is not installed')) return;
  const report = await runDrill({ engine: 'haproxy', streams: 6, rate: 20, stepMs: 700, log: () => undefined });
  process.stdout.write(`${formatDrill(report)}\n`);
  assert.deepEqual(drillProblems(report), [], report.steps.join('\n'));
});
