// alone: flat resources and no loss under load, over minutes: no other test shares the CPU (test/run.sh)
// A short soak inside the suite (issue 9, issue 24): one pass of every event — kill, drain, freeze, the reloads
// (valid by SIGHUP, a ConfigMap update, a file written in place with a pause before its last node, alias bomb,
// huge, half-written, truncated) and a descriptor exhaustion — under the mixed load.
// `npm run soak` runs the same for longer (3 minutes by default).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCommand } from '../integration/render-bare-metal/netns.js';
import { requireOrSkip } from '../helpers/cli.js';
import { formatSoak, nearFailures, runSoak } from './soak.js';
import { soakProblems } from './verdict.js';

test('soak: every event once under mixed load — no crash, no unexplained failure or loss, flat resources, exact counters', { timeout: 240_000 }, async (t) => {
  if (!requireOrSkip(t, await hasCommand('prlimit'), 'prlimit (util-linux) is not installed')) return;
  const report = await runSoak({ durationMs: 0, nofile: 512, log: () => undefined });
  process.stdout.write(`${formatSoak(report)}\n`);
  const problems = soakProblems(report);
  assert.deepEqual(problems, [], `${problems.join('\n')}\n${nearFailures(report)}`);
  assert.ok(report.exhaustion && report.exhaustion.held > 100, 'the descriptor table really filled');
  assert.ok(report.losses.length > 0, 'the events really cut connections (and each was explained)');
});
