import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutageTracker, parseRate, type AttemptResult } from '../../../src/probe/outage.js';

/** Attempts every 100 ms from t=0; `pattern` is one character per attempt: . ok, x failed. */
function attempts(pattern: string): AttemptResult[] {
  return [...pattern].map((c, seq) => ({ seq, startedAt: seq * 100, ok: c === '.', ...(c === 'x' ? { error: 'ECONNREFUSED' } : {}) }));
}

test('outage windows (table)', () => {
  const table: Array<[string, string, Array<[number, number, number, boolean]>]> = [
    // name, pattern, windows as [start, end, failed, ongoing]
    ['no outage', '......', []],
    ['one window', '..xxx...', [[200, 500, 3, false]]],
    ['two windows', '.x..xx.', [[100, 200, 1, false], [400, 600, 2, false]]],
    ['starts down', 'xx..', [[0, 200, 2, false]]],
    ['ends down: ongoing, closed at the end', '..xx', [[200, 1000, 2, true]]],
  ];
  for (const [name, pattern, expected] of table) {
    const tracker = new OutageTracker();
    for (const a of attempts(pattern)) tracker.record(a);
    tracker.finish(1000);
    const summary = tracker.summary();
    assert.deepEqual(summary.windows.map((w) => [w.start, w.end, w.failedAttempts, w.ongoing]), expected, name);
    assert.equal(summary.attempts, pattern.length, name);
    assert.equal(summary.failed, [...pattern].filter((c) => c === 'x').length, name);
  }
});

test('results that finish out of order are taken in sequence order', () => {
  const tracker = new OutageTracker();
  const [a, b, c, d] = attempts('.x..');
  // The failed attempt (seq 1) times out and finishes last: nothing is decided before it arrives.
  assert.deepEqual(tracker.record(a), []);
  assert.deepEqual(tracker.record(c), []);
  assert.deepEqual(tracker.record(d), []);
  const events = tracker.record(b);
  assert.deepEqual(events.map((e) => e.type), ['outage-start', 'outage-end']);
  assert.deepEqual(tracker.summary().windows.map((w) => [w.start, w.end, w.lengthMs, w.failedAttempts, w.errors]), [[100, 200, 100, 1, { ECONNREFUSED: 1 }]]);
});

test('events are emitted as windows open and close', () => {
  const tracker = new OutageTracker();
  const events = attempts('.xx.').flatMap((a) => tracker.record(a));
  assert.deepEqual(events, [
    { type: 'outage-start', at: 100, error: 'ECONNREFUSED' },
    { type: 'outage-end', window: { start: 100, end: 300, lengthMs: 200, failedAttempts: 2, errors: { ECONNREFUSED: 2 }, ongoing: false } },
  ]);
  assert.equal(tracker.summary().longestMs, 200);
});

test('rates', () => {
  const table: Array<[string, number | undefined]> = [['20/s', 20], ['20', 20], ['600/m', 10], ['0.5/s', 0.5], ['0', undefined], ['fast', undefined], ['10/h', undefined]];
  for (const [text, rate] of table) assert.equal(parseRate(text), rate, text);
});
