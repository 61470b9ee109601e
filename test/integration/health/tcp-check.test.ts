// The checker's own tcp check (startTcp: the engine's connect-only probe, no promise or signal) against real
// servers on 127.0.0.1: accepted, refused, a black hole timed out, a stop mid-attempt, and no handle left.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { HealthChecker } from '../../../src/health/checker.js';
import type { CheckResult, StateChange } from '../../../src/health/types.js';
import { requireOrSkip, ROOT } from '../../helpers/cli.js';
import { blackHole, freePort, waitFor } from '../../helpers/net.js';
import { hasCommand } from '../render-bare-metal/netns.js';
import { checkOf, closeServer, listen } from './fixtures.js';

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

function tcpChecker(port: number, overrides: Parameters<typeof checkOf>[0] = {}) {
  const changes: StateChange[] = [];
  const results: CheckResult[] = [];
  const checker = new HealthChecker({
    target: { name: 'cp-01', listener: 'kubernetes', address: '127.0.0.1', port },
    check: checkOf({ intervalMs: 60, fastIntervalMs: 30, timeoutMs: 100, ...overrides }),
    random: () => 0,
    onChange: (change) => changes.push(change),
    onResult: (result) => results.push(result),
  });
  return { checker, changes, results };
}

describe('tcp checks on the engine', () => {
  it('marks a listening server up with its handshake time, and a refused port down', async () => {
    const server = createServer((s) => s.destroy());
    const port = await listen(server);
    const before = tcpHandles();
    const up = tcpChecker(port);
    const down = tcpChecker(await freePort());
    up.checker.start();
    down.checker.start();
    try {
      assert.ok(await waitFor(() => up.changes.length >= 1 && down.changes.length >= 1, 3000, 5));
    } finally {
      up.checker.stop();
      down.checker.stop();
      await closeServer(server);
    }
    assert.equal(up.changes[0].reason, 'connect ok, first check');
    assert.equal(up.checker.state, 'up');
    assert.ok(up.results[0].latencyMs >= 0 && up.results[0].latencyMs < 100, `latency ${up.results[0].latencyMs}`);
    assert.equal(down.changes[0].reason, 'connect ECONNREFUSED, first check');
    assert.equal(down.checker.state, 'down');
    assert.ok(await waitFor(() => tcpHandles() <= before, 2000), `handles left open: ${tcpHandles() - before}`);
  });

  it('times out a connect that never completes, closing its handle each time', async (t) => {
    const hole = await blackHole();
    t.after(() => hole.close());
    const before = tcpHandles();
    const { checker, changes, results } = tcpChecker(hole.port, { timeoutMs: 80 });
    checker.start();
    try {
      assert.ok(await waitFor(() => results.length >= 3, 3000, 5), `results: ${results.length}`);
    } finally {
      checker.stop();
    }
    assert.equal(changes[0].reason, 'timeout after 80ms, first check');
    assert.ok(results.every((r) => !r.ok && r.reason === 'timeout after 80ms' && r.latencyMs >= 75), JSON.stringify(results));
    // Each timed-out attempt closed its handle: after stop, none is left (not one per attempt).
    assert.ok(await waitFor(() => tcpHandles() <= before, 2000), `handles left open: ${tcpHandles() - before}`);
  });

  it('stop() in the middle of a connect closes it and counts nothing', async (t) => {
    const hole = await blackHole();
    t.after(() => hole.close());
    const before = tcpHandles();
    const { checker, results } = tcpChecker(hole.port, { timeoutMs: 5000 });
    checker.start();
    assert.ok(await waitFor(() => tcpHandles() > before, 2000, 2), 'no connect in flight');
    checker.stop();
    assert.ok(await waitFor(() => tcpHandles() <= before, 2000), `handles left open: ${tcpHandles() - before}`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(results.length, 0);
    assert.equal(checker.lastResult, undefined);
  });

  it('reports running out of descriptors as a local error and leaves the state alone', async (t) => {
    if (!requireOrSkip(t, await hasCommand('prlimit'), 'prlimit (util-linux) is not installed')) return;
    // A child with a low descriptor limit fills its table, then checks a listening server once.
    const code = `
      import { openSync } from 'node:fs';
      import { HealthChecker } from './src/health/checker.ts';
      const held = [];
      try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}
      const locals = [];
      const checker = new HealthChecker({
        target: { name: 'cp-01', listener: 'kubernetes', address: '127.0.0.1', port: Number(process.argv[1]) },
        check: { type: 'tcp', intervalMs: 50, fastIntervalMs: 50, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 1, path: '/', expectStatuses: [200] },
        random: () => 0, onChange() {}, onLocalError: (code, result) => locals.push([code, result.reason]),
      });
      checker.start();
      setTimeout(() => { checker.stop(); process.stdout.write(JSON.stringify({ locals, state: checker.state, last: checker.lastResult?.reason })); }, 300);
    `;
    const server = createServer((s) => s.destroy());
    const port = await listen(server);
    try {
      const child = spawn('prlimit', ['--nofile=64:64', process.execPath, '--import', 'tsx', '--input-type=module', '-e', code, String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { err += d; });
      await new Promise((r) => child.once('exit', r));
      const seen = JSON.parse(out) as { locals: [string, string][]; state: string; last: string };
      assert.ok(seen.locals.length >= 2, `${out} ${err}`);
      assert.deepEqual(seen.locals[0], ['EMFILE', 'connect EMFILE']);
      assert.equal(seen.state, 'checking', 'a local shortage moved the server');
      assert.equal(seen.last, 'connect EMFILE (not counted: this host is out of resources)');
    } finally {
      await closeServer(server);
    }
  });
});
