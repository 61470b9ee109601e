// Rise/fall as a pure function: no timers, no sockets (the checker owns time).
import type { HealthCounters, TransitionKind } from './types.js';

export interface Thresholds {
  /** Consecutive successes that bring a down server up (HAProxy rise). */
  healthyThreshold: number;
  /** Consecutive failures that bring an up server down (HAProxy fall). */
  unhealthyThreshold: number;
}

export interface Transition {
  next: HealthCounters;
  /** changed: `state` moved; pending: moving toward a change; unchanged: stable. */
  kind: TransitionKind;
}

/** Counters of a server nobody has checked yet. */
export const INITIAL_COUNTERS: HealthCounters = Object.freeze({ state: 'checking', successes: 0, failures: 0 });

/**
 * Applies one result. A `checking` server takes its first result as its verdict; an up server goes
 * down after `unhealthyThreshold` consecutive failures, a down server up after `healthyThreshold`
 * consecutive successes. A result of the other kind resets the run.
 */
export function transition(previous: HealthCounters, ok: boolean, t: Thresholds): Transition {
  const successes = ok ? previous.successes + 1 : 0;
  const failures = ok ? 0 : previous.failures + 1;
  const rise = Math.max(1, t.healthyThreshold);
  const fall = Math.max(1, t.unhealthyThreshold);
  const stay = (kind: TransitionKind): Transition => ({ next: { state: previous.state, successes, failures }, kind });

  switch (previous.state) {
    case 'checking':
      return { next: { state: ok ? 'up' : 'down', successes, failures }, kind: 'changed' };
    case 'up':
      if (ok) return stay('unchanged');
      return failures >= fall ? { next: { state: 'down', successes, failures }, kind: 'changed' } : stay('pending');
    case 'down':
      if (!ok) return stay('unchanged');
      return successes >= rise ? { next: { state: 'up', successes, failures }, kind: 'changed' } : stay('pending');
  }
}

/** The tail of a state-change reason: "2/2 failures", "3/3 successes" or "first check". */
export function describeRun(previous: HealthCounters, next: HealthCounters, t: Thresholds): string {
  if (previous.state === 'checking') return 'first check';
  // A failure zeroes `successes` and a success zeroes `failures`, so the non-zero one is the run.
  return next.failures > 0
    ? `${next.failures}/${Math.max(1, t.unhealthyThreshold)} failures`
    : `${next.successes}/${Math.max(1, t.healthyThreshold)} successes`;
}
