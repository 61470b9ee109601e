// Shared health-check vocabulary. A server has two states (HAProxy srv_state vs srv_admin):
// `state` is set by checks, `adminState` by the operator. Eligible = up and ready.

export type ServerState = 'checking' | 'up' | 'down';
export type AdminState = 'ready' | 'drain' | 'maint';

/** The outcome of one probe attempt (or of one observed connection, for passive checks). */
export interface CheckResult {
  ok: boolean;
  /** Short human reason: "connect ECONNREFUSED", "tls handshake TLSv1.3", "https 200", "timeout after 5s". */
  reason: string;
  latencyMs: number;
  /** Epoch milliseconds when the attempt finished. */
  at: number;
}

/** Counters the pure rise/fall function works on. */
export interface HealthCounters {
  state: ServerState;
  /** Consecutive successes since the last failure. */
  successes: number;
  /** Consecutive failures since the last success. */
  failures: number;
}

export type TransitionKind = 'unchanged' | 'changed' | 'pending';

/** A change of `state`, as logged and counted: `cp-02 kubernetes down: connect ECONNREFUSED, 2/2 failures`. */
export interface StateChange {
  from: ServerState;
  to: ServerState;
  reason: string;
  at: number;
}
