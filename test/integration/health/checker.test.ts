// HealthChecker with the real probes against real servers on 127.0.0.1, with scaled-down timings.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HealthChecker, JITTER } from '../../../src/health/checker.js';
import { PROBES } from '../../../src/health/probes/index.js';
import type { HealthCounters, StateChange } from '../../../src/health/types.js';
import type { HealthCheck } from '../../../src/spec/types.js';
import { waitFor } from '../../helpers/net.js';
import { checkOf, closeServer, listen, makePki, type Pki } from './fixtures.js';

const HOST = '127.0.0.1';

/** A TCP server that tracks its connections so it can really go away. */
function tcpServer(onSocket: (s: Socket) => void = (s) => s.resume()) {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); onSocket(s); });
  return {
    server,
    listen: (port = 0) => listen(server, HOST, port),
    close: async () => { for (const s of sockets) s.destroy(); await closeServer(server); },
  };
}

function watch(check: HealthCheck, port: number, extra: { random?: () => number } = {}) {
  const changes: Array<StateChange & { seenAt: number }> = [];
  const checker = new HealthChecker({
    target: { name: 'cp-01', listener: 'kubernetes', address: HOST, port },
    check,
    onChange: (change: StateChange, _counters: HealthCounters) => changes.push({ ...change, seenAt: performance.now() }),
    ...extra,
  });
  return { checker, changes };
}

/** Worst case from an event to a verdict: `threshold` checks, the first up to a jittered interval away, then fast ones. */
const bound = (check: HealthCheck, threshold: number) =>
  check.intervalMs * (1 + JITTER) + (threshold - 1) * check.fastIntervalMs * (1 + JITTER) + check.timeoutMs;

/** Timers fire late on a busy machine, never early: room for that on top of the contract's bound. */
const SLACK_MS = 150;

const activeResources = () => process.getActiveResourcesInfo().filter((r) => r !== 'FSReqCallback').sort().join(',');

describe('HealthChecker against a real TCP server', () => {
  it('marks a server that goes away down, and up again when it comes back, each within interval × threshold + timeout', async () => {
    const check = checkOf({ type: 'tcp', intervalMs: 200, fastIntervalMs: 100, timeoutMs: 100, healthyThreshold: 2, unhealthyThreshold: 2 });
    const limit = check.intervalMs * 2 + check.timeoutMs; // the contract's bound (500ms) ...
    assert.ok(bound(check, 2) <= limit + check.intervalMs * JITTER * 2, 'the scheduling worst case fits the contract bound plus jitter');
    const target = tcpServer();
    const port = await target.listen();
    const { checker, changes } = watch(check, port);
    checker.start();
    try {
      await waitFor(() => changes.length >= 1, 2000, 5);
      assert.deepEqual([changes[0].to, changes[0].reason], ['up', 'connect ok, first check']);

      await new Promise((r) => setTimeout(r, 150)); // somewhere inside a stable interval
      const wentAway = performance.now();
      await target.close();
      await waitFor(() => changes.length >= 2, 3000, 5);
      const downAfter = changes[1].seenAt - wentAway;
      assert.deepEqual([changes[1].from, changes[1].to, changes[1].reason], ['up', 'down', 'connect ECONNREFUSED, 2/2 failures']);
      assert.ok(downAfter <= limit + SLACK_MS, `marked down after ${downAfter.toFixed(0)}ms (limit ${limit}ms)`);

      await new Promise((r) => setTimeout(r, 100));
      const cameBack = performance.now();
      await target.listen(port);
      await waitFor(() => changes.length >= 3, 3000, 5);
      const upAfter = changes[2].seenAt - cameBack;
      assert.deepEqual([changes[2].from, changes[2].to, changes[2].reason], ['down', 'up', 'connect ok, 2/2 successes']);
      assert.ok(upAfter <= limit + SLACK_MS, `marked up after ${upAfter.toFixed(0)}ms (limit ${limit}ms)`);
      assert.equal(checker.state, 'up');
    } finally {
      checker.stop();
      await target.close();
    }
  });

  it('observe() of a failed connect re-checks at the fast interval instead of waiting for the next interval', async () => {
    const check = checkOf({ type: 'tcp', intervalMs: 10_000, fastIntervalMs: 100, timeoutMs: 100 });
    const target = tcpServer();
    const port = await target.listen();
    const { checker, changes } = watch(check, port, { random: () => 0 });
    checker.start();
    try {
      await waitFor(() => changes.length >= 1, 2000, 5);
      assert.equal(checker.state, 'up');
      await target.close();
      // What the proxy does when its connect to this server fails.
      const observedAt = performance.now();
      checker.observe({ ok: false, reason: 'proxy connect ECONNREFUSED', latencyMs: 1, at: Date.now() });
      assert.deepEqual(checker.counters, { state: 'up', successes: 0, failures: 1 });
      await waitFor(() => changes.length >= 2, 3000, 5);
      const downAfter = changes[1].seenAt - observedAt;
      assert.deepEqual([changes[1].to, changes[1].reason], ['down', 'connect ECONNREFUSED, 2/2 failures']);
      assert.ok(downAfter < 1000, `down ${downAfter.toFixed(0)}ms after the observation, not after the 10s interval`);
    } finally {
      checker.stop();
      await target.close();
    }
  });

  it('stop() in the middle of an attempt leaves no timer or socket behind', async () => {
    // Reads and never answers: a tls attempt stays in flight until its timeout. (Reading lets the server's
    // side notice the probe's close, so what is left afterwards would be the checker's.)
    const silent = tcpServer((s) => s.resume());
    const port = await silent.listen();
    const baseline = activeResources();
    let inFlight = false;
    const checker = new HealthChecker({
      target: { name: 'cp-01', listener: 'kubernetes', address: HOST, port },
      check: checkOf({ type: 'tls', timeoutMs: 5000, intervalMs: 10_000, fastIntervalMs: 10 }),
      random: () => 0,
      onChange: () => { throw new Error('no verdict expected'); },
    });
    const probing = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length > 0;
    try {
      checker.start();
      inFlight = await waitFor(probing, 2000, 2);
      assert.ok(inFlight, 'the probe connection is open');
      assert.notEqual(activeResources(), baseline);
    } finally {
      checker.stop();
      checker.stop();
    }
    const settled = await waitFor(() => activeResources() === baseline, 2000, 5);
    assert.ok(settled, `resources after stop: ${activeResources()} (before: ${baseline})`);
    assert.equal(checker.lastResult, undefined);
    await silent.close();
  });

  it('spreads the first checks of servers started together (injectable random)', async () => {
    const target = tcpServer();
    const port = await target.listen();
    const randoms = [0.05, 0.35, 0.65, 0.95];
    const check = checkOf({ type: 'tcp', intervalMs: 10_000, fastIntervalMs: 1000 });
    const calledAt: number[][] = randoms.map(() => []);
    const started = performance.now();
    const runs = randoms.map((r, i) => new HealthChecker({
      target: { name: `cp-0${i + 1}`, listener: 'kubernetes', address: HOST, port },
      check,
      random: () => r,
      probe: (t, c, signal) => { calledAt[i].push(performance.now() - started); return PROBES.tcp(t, c, signal); },
      onChange: () => {},
    }));
    for (const checker of runs) checker.start();
    try {
      await waitFor(() => runs.every((checker) => checker.state === 'up'), 5000, 5);
    } finally {
      for (const checker of runs) checker.stop();
      await target.close();
    }
    // Each first check comes at random × min(fastInterval, interval): never earlier, and (allowing for a busy
    // machine) well before the next checker's turn.
    calledAt.forEach(([t], i) => {
      const expected = randoms[i] * 1000;
      assert.ok(t >= expected - 2 && t < expected + 250, `checker ${i} first check at ${t.toFixed(0)}ms, expected ≈${expected}ms`);
    });
  });
});

describe('HealthChecker with tls and https checks', () => {
  let pki: Pki;
  before(async () => { pki = await makePki(); });
  after(async () => { await pki.remove(); });

  it('marks a server that accepts TCP but never answers TLS down with "timeout after ..."', async () => {
    const silent = tcpServer(() => {});
    const port = await silent.listen();
    const { checker, changes } = watch(checkOf({ type: 'tls', timeoutMs: 100 }), port, { random: () => 0 });
    checker.start();
    try {
      await waitFor(() => changes.length >= 1, 2000, 5);
      assert.deepEqual([changes[0].to, changes[0].reason], ['down', 'timeout after 100ms, first check']);
      assert.ok(checker.lastResult!.latencyMs >= 95 && checker.lastResult!.latencyMs < 400, `latency ${checker.lastResult!.latencyMs}`);
    } finally {
      checker.stop();
      await silent.close();
    }
  });

  it('https with a client certificate is up against a server that requires one; without it, down', async () => {
    const server: Server = createHttpsServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: true, ca: pki.caPem }, (req, res) => {
      res.writeHead(req.url === '/readyz' ? 200 : 404).end();
    });
    const port = await listen(server);
    const withCert = watch(checkOf({ type: 'https', timeoutMs: 1000, caFile: pki.caFile, clientCertificate: pki.clientCertificate }), port, { random: () => 0 });
    const anonymous = watch(checkOf({ type: 'https', timeoutMs: 1000 }), port, { random: () => 0 });
    withCert.checker.start();
    anonymous.checker.start();
    try {
      await waitFor(() => withCert.changes.length >= 1 && anonymous.changes.length >= 1, 3000, 5);
      assert.deepEqual([withCert.changes[0].to, withCert.changes[0].reason], ['up', 'https 200, first check']);
      assert.equal(anonymous.changes[0].to, 'down');
      assert.match(anonymous.changes[0].reason, /^(tls|https) \S+, first check$/);
    } finally {
      withCert.checker.stop();
      anonymous.checker.stop();
      await closeServer(server);
    }
  });
});
