import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, INITIAL_COUNTERS, transition } from '../../../src/health/transition.js';
import type { HealthCounters, ServerState, TransitionKind } from '../../../src/health/types.js';

const c = (state: ServerState, successes = 0, failures = 0): HealthCounters => ({ state, successes, failures });
const t = (rise: number, fall: number) => ({ healthyThreshold: rise, unhealthyThreshold: fall });

describe('transition: one step', () => {
  const table: Array<[string, HealthCounters, boolean, ReturnType<typeof t>, HealthCounters, TransitionKind]> = [
    // The first result of a new server is its verdict, whatever the thresholds.
    ['checking + ok → up', c('checking'), true, t(3, 3), c('up', 1, 0), 'changed'],
    ['checking + fail → down', c('checking'), false, t(3, 3), c('down', 0, 1), 'changed'],
    ['checking + ok, rise 1', c('checking'), true, t(1, 1), c('up', 1, 0), 'changed'],
    // up
    ['up + ok stays up', c('up', 4, 0), true, t(2, 2), c('up', 5, 0), 'unchanged'],
    ['up + fail, fall 1 → down', c('up', 4, 0), false, t(2, 1), c('down', 0, 1), 'changed'],
    ['up + 1st fail, fall 2 → pending', c('up', 4, 0), false, t(2, 2), c('up', 0, 1), 'pending'],
    ['up + 2nd fail, fall 2 → down', c('up', 0, 1), false, t(2, 2), c('down', 0, 2), 'changed'],
    ['up + 2nd fail, fall 3 → pending', c('up', 0, 1), false, t(2, 3), c('up', 0, 2), 'pending'],
    ['up + 3rd fail, fall 3 → down', c('up', 0, 2), false, t(2, 3), c('down', 0, 3), 'changed'],
    ['up + ok after a failure resets the run', c('up', 0, 2), true, t(2, 3), c('up', 1, 0), 'unchanged'],
    // down
    ['down + fail stays down', c('down', 0, 2), false, t(2, 2), c('down', 0, 3), 'unchanged'],
    ['down + ok, rise 1 → up', c('down', 0, 5), true, t(1, 2), c('up', 1, 0), 'changed'],
    ['down + 1st ok, rise 2 → pending', c('down', 0, 5), true, t(2, 2), c('down', 1, 0), 'pending'],
    ['down + 2nd ok, rise 2 → up', c('down', 1, 0), true, t(2, 2), c('up', 2, 0), 'changed'],
    ['down + 2nd ok, rise 3 → pending', c('down', 1, 0), true, t(3, 2), c('down', 2, 0), 'pending'],
    ['down + 3rd ok, rise 3 → up', c('down', 2, 0), true, t(3, 2), c('up', 3, 0), 'changed'],
    ['down + fail after a success resets the run', c('down', 2, 0), false, t(3, 2), c('down', 0, 1), 'unchanged'],
    // Counters beyond a threshold (e.g. carried over a reload that lowered it) still decide at once.
    ['up with failures above a lowered fall → down', c('up', 0, 4), false, t(2, 2), c('down', 0, 5), 'changed'],
    // Nonsense thresholds behave like 1.
    ['threshold 0 behaves like 1', c('up', 3, 0), false, t(0, 0), c('down', 0, 1), 'changed'],
  ];
  for (const [name, previous, ok, thresholds, next, kind] of table) {
    it(name, () => {
      assert.deepEqual(transition(previous, ok, thresholds), { next, kind });
    });
  }

  it('does not mutate its input', () => {
    const previous = Object.freeze(c('up', 1, 0));
    transition(previous, false, t(2, 2));
    assert.deepEqual(previous, c('up', 1, 0));
  });

  it('starts from checking with zero counters', () => {
    assert.deepEqual(INITIAL_COUNTERS, c('checking'));
  });
});

/** Runs a sequence of results ("+" ok, "-" fail) and returns "state/kind" after each. */
function run(results: string, thresholds: ReturnType<typeof t>, start: HealthCounters = INITIAL_COUNTERS): string[] {
  let counters = start;
  const out: string[] = [];
  for (const r of results) {
    const { next, kind } = transition(counters, r === '+', thresholds);
    counters = next;
    out.push(`${next.state}/${kind}`);
  }
  return out;
}

describe('transition: sequences', () => {
  const table: Array<[string, string, ReturnType<typeof t>, string[]]> = [
    ['rise 1 fall 1 follows every result', '+-+-', t(1, 1), ['up/changed', 'down/changed', 'up/changed', 'down/changed']],
    ['rise 2 fall 2: flapping never changes state', '+-+-+-', t(2, 2),
      ['up/changed', 'up/pending', 'up/unchanged', 'up/pending', 'up/unchanged', 'up/pending']],
    ['rise 2 fall 2: down and back up', '+--++', t(2, 2),
      ['up/changed', 'up/pending', 'down/changed', 'down/pending', 'up/changed']],
    ['rise 3 fall 3: interleaved results restart the run', '---+-++-+++', t(3, 3),
      ['down/changed', 'down/unchanged', 'down/unchanged', 'down/pending', 'down/unchanged', 'down/pending',
        'down/pending', 'down/unchanged', 'down/pending', 'down/pending', 'up/changed']],
    ['rise 3 fall 2: asymmetric', '+--+++--', t(3, 2),
      ['up/changed', 'up/pending', 'down/changed', 'down/pending', 'down/pending', 'up/changed', 'up/pending', 'down/changed']],
    ['first failure is a verdict even with fall 3', '-+', t(1, 3), ['down/changed', 'up/changed']],
  ];
  for (const [name, results, thresholds, expected] of table) {
    it(name, () => assert.deepEqual(run(results, thresholds), expected));
  }
});

describe('describeRun', () => {
  it('names the run that caused a change', () => {
    assert.equal(describeRun(c('checking'), c('up', 1, 0), t(2, 2)), 'first check');
    assert.equal(describeRun(c('up', 0, 1), c('down', 0, 2), t(2, 2)), '2/2 failures');
    assert.equal(describeRun(c('down', 2, 0), c('up', 3, 0), t(3, 2)), '3/3 successes');
    assert.equal(describeRun(c('up', 0, 0), c('up', 0, 1), t(2, 3)), '1/3 failures');
  });
});
