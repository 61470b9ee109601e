// The checker's timing and bookkeeping, with a scripted probe (no sockets) and real, scaled-down timers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthChecker, JITTER, type CheckerOptions } from '../../../src/health/checker.js';
import type { Probe } from '../../../src/health/probes/index.js';
import type { CheckResult, HealthCounters, StateChange } from '../../../src/health/types.js';
import type { HealthCheck } from '../../../src/spec/types.js';
import { waitFor } from '../../helpers/net.js';

const TARGET = { name: 'cp-01', listener: 'kubernetes', address: '127.0.0.1', port: 6443 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function checkOf(overrides: Partial<HealthCheck> = {}): HealthCheck {
  return { type: 'tcp', intervalMs: 300, fastIntervalMs: 60, timeoutMs: 50, healthyThreshold: 2, unhealthyThreshold: 2, path: '/readyz', expectStatuses: [200], ...overrides };
}

const result = (ok: boolean, reason = ok ? 'connect ok' : 'connect ECONNREFUSED'): CheckResult => ({ ok, reason, latencyMs: 1, at: Date.now() });

/** A probe that answers from a script (the last entry repeats) and records when it was called. */
function scripted(script: boolean[]) {
  const calls: number[] = [];
  const signals: AbortSignal[] = [];
  const probe: Probe = async (_target, _check, signal) => {
    calls.push(performance.now());
    signals.push(signal);
    return result(script[Math.min(calls.length - 1, script.length - 1)]);
  };
  return { probe, calls, signals };
}

function checker(options: Partial<CheckerOptions> & { probe: Probe }) {
  const changes: StateChange[] = [];
  const results: Array<[CheckResult, HealthCounters]> = [];
  const c = new HealthChecker({
    target: TARGET, check: checkOf(), random: () => 0.5,
    onChange: (change) => changes.push(change),
    onResult: (r, counters) => results.push([r, counters]),
    ...options,
  });
  return { c, changes, results };
}

const gaps = (calls: number[]) => calls.slice(1).map((t, i) => t - calls[i]);

/** Timers never fire early, but late by any amount on a busy machine: strict below, generous above. */
const LATE_MS = 150;
function assertGap(actual: number, expected: number, label: string) {
  assert.ok(actual >= expected - 3 && actual <= expected + LATE_MS, `${label}: gap ${actual.toFixed(1)}ms, expected ≈${expected}ms`);
}

describe('HealthChecker timing', () => {
  it('checks every interval while stable and every fastInterval while a change is pending', async () => {
    // ok (first verdict: up), ok, fail (pending), fail (down), ok (pending), ok (up)
    const { probe, calls } = scripted([true, true, false, false, true, true]);
    const { c, changes } = checker({ probe });
    c.start();
    try {
      await waitFor(() => calls.length >= 6, 5000);
    } finally {
      c.stop();
    }
    const g = gaps(calls.slice(0, 6));
    assertGap(g[0], 300, 'after first verdict (up)');
    assertGap(g[1], 300, 'stable up');
    assertGap(g[2], 60, 'pending fall');
    assertGap(g[3], 300, 'after going down');
    assertGap(g[4], 60, 'pending rise');
    assert.deepEqual(changes.map((ch) => `${ch.from}→${ch.to}: ${ch.reason}`), [
      'checking→up: connect ok, first check',
      'up→down: connect ECONNREFUSED, 2/2 failures',
      'down→up: connect ok, 2/2 successes',
    ]);
  });

  it('waits a random part of min(fastInterval, interval) before the first check', async () => {
    for (const [random, expected] of [[0, 0], [0.5, 500], [0.99, 990]] as const) {
      const { probe, calls } = scripted([true]);
      const { c } = checker({ probe, random: () => random, check: checkOf({ intervalMs: 5000, fastIntervalMs: 1000 }) });
      const started = performance.now();
      c.start();
      try {
        await waitFor(() => calls.length >= 1, 2000, 2);
      } finally {
        c.stop();
      }
      assertGap(calls[0] - started, expected, `random ${random}`);
    }
  });

  it('spreads the first checks of many servers', async () => {
    // A deterministic sequence standing in for Math.random.
    let seed = 7;
    const random = () => { seed = (seed * 16807) % 2147483647; return (seed - 1) / 2147483646; };
    const firsts: number[] = [];
    const started = performance.now();
    const checkers = Array.from({ length: 12 }, () => {
      const probe: Probe = async () => { firsts.push(performance.now() - started); return result(true); };
      return new HealthChecker({ target: TARGET, check: checkOf({ intervalMs: 5000, fastIntervalMs: 400 }), probe, random, onChange: () => {} });
    });
    for (const c of checkers) c.start();
    try {
      await waitFor(() => firsts.length >= 12, 3000, 5);
    } finally {
      for (const c of checkers) c.stop();
    }
    firsts.sort((a, b) => a - b);
    assert.ok(firsts.at(-1)! < 400 + LATE_MS, `last first check at ${firsts.at(-1)}ms`);
    assert.ok(firsts.at(-1)! - firsts[0] > 200, `first checks span only ${firsts.at(-1)! - firsts[0]}ms`);
    const buckets = new Set(firsts.map((t) => Math.floor(t / 50)));
    assert.ok(buckets.size >= 5, `first checks fall into only ${buckets.size} 50ms buckets`);
  });

  it(`jitters every delay by at most ±${JITTER * 100}%`, async () => {
    // Bounds far enough apart that an unjittered 2000ms gap fails both cases.
    for (const [random, expected] of [[0, 1800], [0.999_999, 2200]] as const) {
      const { probe, calls } = scripted([true]);
      const { c } = checker({ probe, random: () => random, check: checkOf({ intervalMs: 2000, fastIntervalMs: 20 }) });
      c.start();
      try {
        await waitFor(() => calls.length >= 2, 3000, 2);
      } finally {
        c.stop();
      }
      assertGap(gaps(calls)[0], expected, `random ${random}`);
    }
  });
});

describe('HealthChecker results', () => {
  it('keeps counters from a reload and needs the full fall to go down', async () => {
    const { probe } = scripted([false]);
    const seen: Array<{ counters: HealthCounters; changesSoFar: number }> = [];
    const changes: StateChange[] = [];
    const c = new HealthChecker({
      target: TARGET, check: checkOf(), random: () => 0.5, probe,
      initialCounters: { state: 'up', successes: 9, failures: 0 },
      onChange: (change) => changes.push(change),
      onResult: (_r, counters) => seen.push({ counters, changesSoFar: changes.length }),
    });
    assert.equal(c.state, 'up');
    c.start();
    try {
      await waitFor(() => changes.length >= 1, 2000, 2);
    } finally {
      c.stop();
    }
    // The first failure only starts a run; the second completes it.
    assert.deepEqual(seen.slice(0, 2), [
      { counters: { state: 'up', successes: 0, failures: 1 }, changesSoFar: 0 },
      { counters: { state: 'down', successes: 0, failures: 2 }, changesSoFar: 0 },
    ]);
    assert.equal(c.state, 'down');
    assert.deepEqual({ ...changes[0], at: 0 }, { from: 'up', to: 'down', reason: 'connect ECONNREFUSED, 2/2 failures', at: 0 });
    assert.equal(c.lastResult?.reason, 'connect ECONNREFUSED');
  });

  it('turns a probe that ignores its signal into "timeout after ..."', async () => {
    const probe: Probe = () => new Promise(() => { /* never settles */ });
    const { c, changes } = checker({ probe, check: checkOf({ timeoutMs: 40 }) });
    c.start();
    try {
      await waitFor(() => changes.length >= 1, 2000, 2);
    } finally {
      c.stop();
    }
    assert.equal(changes[0].reason, 'timeout after 40ms, first check');
    assert.ok(c.lastResult!.latencyMs >= 35, `latency ${c.lastResult!.latencyMs}`);
  });

  it('gives the probe a signal that times out after timeoutMs', async () => {
    let aborted: unknown;
    const probe: Probe = (_t, _c, signal) => new Promise((resolve) => {
      signal.addEventListener('abort', () => { aborted = signal.reason; resolve(result(false, 'timeout after 30ms')); });
    });
    const { c, changes } = checker({ probe, check: checkOf({ timeoutMs: 30 }) });
    c.start();
    try {
      await waitFor(() => changes.length >= 1, 2000, 2);
    } finally {
      c.stop();
    }
    assert.equal((aborted as Error).name, 'TimeoutError');
  });

  it('turns a probe that throws into a failed result', async () => {
    const probe: Probe = async () => { throw new Error('boom'); };
    const { c, changes } = checker({ probe });
    c.start();
    try {
      await waitFor(() => changes.length >= 1, 2000, 2);
    } finally {
      c.stop();
    }
    assert.equal(changes[0].reason, 'probe error boom, first check');
    assert.equal(c.state, 'down');
  });
});

describe('HealthChecker.observe', () => {
  it('counts a passive failure and brings the next check forward to fastInterval', async () => {
    const { probe, calls } = scripted([true]);
    const { c, changes } = checker({ probe, check: checkOf({ intervalMs: 5000, fastIntervalMs: 50 }) });
    c.start();
    try {
      await waitFor(() => calls.length >= 1, 2000, 2);
      await sleep(5);
      const observedAt = performance.now();
      c.observe(result(false, 'proxy connect ECONNREFUSED'));
      assert.deepEqual(c.counters, { state: 'up', successes: 0, failures: 1 });
      await waitFor(() => calls.length >= 2, 2000, 2);
      assertGap(calls[1] - observedAt, 50, 'fast re-check after observe');
      // The re-check succeeded: the run is reset and the server stayed up.
      await sleep(5);
      assert.deepEqual(c.counters, { state: 'up', successes: 1, failures: 0 });
      assert.deepEqual(changes.map((ch) => ch.to), ['up']);
    } finally {
      c.stop();
    }
  });

  it('marks a server down at once when fall is 1, with the observed reason', async () => {
    const { probe, calls } = scripted([true]);
    const { c, changes } = checker({ probe, check: checkOf({ intervalMs: 5000, unhealthyThreshold: 1 }) });
    c.start();
    try {
      await waitFor(() => calls.length >= 1, 2000, 2);
      await sleep(5);
      c.observe(result(false, 'proxy connect ECONNREFUSED'));
      assert.equal(c.state, 'down');
      assert.equal(changes.at(-1)?.reason, 'proxy connect ECONNREFUSED, 1/1 failures');
    } finally {
      c.stop();
    }
  });

  it('is ignored while stopped', () => {
    const { probe } = scripted([true]);
    const { c, results } = checker({ probe });
    c.observe(result(false));
    assert.equal(results.length, 0);
    assert.equal(c.state, 'checking');
  });
});

describe('HealthChecker.setCheck', () => {
  it('applies new timing at once and keeps counters', async () => {
    const { probe, calls } = scripted([true]);
    const { c } = checker({ probe, check: checkOf({ intervalMs: 5000, fastIntervalMs: 20 }) });
    c.start();
    try {
      await waitFor(() => calls.length >= 1, 2000, 2);
      await sleep(5);
      const before = c.counters;
      const changedAt = performance.now();
      c.setCheck(checkOf({ intervalMs: 100, fastIntervalMs: 20 }));
      assert.deepEqual(c.counters, before);
      await waitFor(() => calls.length >= 2, 2000, 2);
      assertGap(calls[1] - changedAt, 100, 'next check after a shorter interval');
    } finally {
      c.stop();
    }
  });

  it('switches to the probe of the new type', async () => {
    // No explicit probe: the registry's probe for the type is used. Only the https probe reads caFile, so the
    // reason shows which probe ran (a tcp probe would say "connect ECONNREFUSED" for port 1).
    const changes: StateChange[] = [];
    const c = new HealthChecker({ target: { ...TARGET, port: 1 }, check: checkOf({ type: 'tcp' }), random: () => 0, onChange: (ch) => changes.push(ch) });
    c.setCheck(checkOf({ type: 'https', caFile: '/nonexistent/ca.pem', timeoutMs: 2000 }));
    c.start();
    try {
      await waitFor(() => changes.length >= 1, 2000, 2);
    } finally {
      c.stop();
    }
    assert.equal(changes[0].reason, 'caFile ENOENT /nonexistent/ca.pem, first check');
  });
});

describe('HealthChecker.stop', () => {
  it('is idempotent, aborts the probe in flight and leaves no timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const baseline = timers();
    let signal: AbortSignal | undefined;
    const probe: Probe = (_t, _c, s) => new Promise((resolve) => {
      signal = s;
      s.addEventListener('abort', () => resolve(result(false, 'aborted')));
    });
    const { c, results, changes } = checker({ probe, check: checkOf({ timeoutMs: 5000, intervalMs: 10_000 }), random: () => 0 });
    c.stop(); // before start: harmless
    c.start();
    c.start(); // twice: still one schedule
    await waitFor(() => signal !== undefined, 2000, 2);
    assert.ok(timers() > baseline, 'a probe timeout timer is pending while probing');
    c.stop();
    c.stop();
    assert.equal(signal!.aborted, true);
    assert.equal((signal!.reason as Error).name, 'AbortError');
    await sleep(10);
    assert.equal(timers(), baseline);
    assert.equal(results.length, 0, 'an aborted attempt is not counted');
    assert.equal(changes.length, 0);
    assert.equal(c.running, false);
  });

  it('can start again after stop, keeping counters', async () => {
    const { probe, calls } = scripted([true]);
    const { c } = checker({ probe, random: () => 0 });
    c.start();
    await waitFor(() => calls.length >= 1, 2000, 2);
    await sleep(5);
    c.stop();
    assert.equal(c.state, 'up');
    c.start();
    try {
      await waitFor(() => calls.length >= 2, 2000, 2);
      await sleep(5);
      assert.deepEqual(c.counters, { state: 'up', successes: 2, failures: 0 });
    } finally {
      c.stop();
    }
  });
});
