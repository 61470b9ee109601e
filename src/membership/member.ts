// One server of one listener as the runtime knows it, whatever carries its flows: who it is, its weight,
// its two states (HAProxy srv_state from the health checker, srv_admin from the operator), its drain
// deadline and its downtime. It outlives reloads (registry.ts keeps it). What a data plane knows of it —
// the proxy's connections and ejections, the kernel's ids and flow counts — lives in that data plane.
import { HealthChecker } from '../health/checker.js';
import type { AdminState, CheckResult, HealthCounters, ServerState, StateChange } from '../health/types.js';
import type { ExhaustionSink } from '../local-errors.js';
import type { Logger } from '../log.js';
import { joinHostPort } from '../spec/address.js';
import type { HealthCheck, ServerTarget } from '../spec/types.js';
import { isEligible } from './rotation.js';

export interface MemberEvents {
  /** Called after `state` changed. */
  onStateChange(member: Member, change: StateChange): void;
  /** Where a check that failed for want of local resources is reported instead of counted. */
  exhaustion?: ExhaustionSink;
}

/** What a member's snapshot says of it; the data plane adds its counters (runtime/status.ts). */
export interface MemberHealth {
  state: ServerState;
  adminState: AdminState;
  stateSince: number;
  stateReason: string;
  weight: number;
  checksFailed: number;
  downTransitions: number;
  downtimeMs: number;
  lastCheck?: CheckResult;
  drainDeadline?: number;
  removed?: boolean;
}

export class Member {
  readonly key: string;
  readonly listener: string;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  weight: number;
  adminState: AdminState = 'ready';
  stateSince = Date.now();
  stateReason = 'waiting for the first check';
  /** Set when the membership (a reload, discovery) removed it: it only drains. */
  removed = false;
  /** Epoch ms when the flows of a draining member are closed. */
  drainDeadline: number | undefined;
  checksFailed = 0;
  downTransitions = 0;
  /** Time spent down before the current down period (HAProxy `downtime`). */
  #downtimeMs = 0;
  #downSince: number | undefined;

  readonly #checker: HealthChecker;
  #drainTimer: NodeJS.Timeout | undefined;
  readonly #logger: Logger;

  constructor(listener: string, target: ServerTarget, check: HealthCheck, events: MemberEvents, logger: Logger) {
    this.key = memberKey(listener, target);
    this.listener = listener;
    this.name = target.name;
    this.address = target.address;
    this.port = target.port;
    this.weight = target.weight;
    this.#logger = logger;
    this.#checker = new HealthChecker({
      target: { name: target.name, listener, address: target.address, port: target.port },
      check,
      onResult: (result: CheckResult) => {
        if (!result.ok) this.checksFailed++;
      },
      onLocalError: (code: string) => events.exhaustion?.report(code, `${listener}: check of ${target.name}`),
      onChange: (change: StateChange, counters: HealthCounters) => {
        this.stateSince = change.at;
        this.stateReason = change.reason;
        if (change.to === 'down' && change.from === 'up') this.downTransitions++;
        if (change.to === 'down') this.#downSince = change.at;
        else if (this.#downSince !== undefined) {
          this.#downtimeMs += Math.max(0, change.at - this.#downSince);
          this.#downSince = undefined;
        }
        this.#logger.info(
          { event: 'server-state', listener, server: this.name, address: joinHostPort(this.address, this.port), from: change.from, to: change.to, reason: change.reason, successes: counters.successes, failures: counters.failures },
          `${this.name} ${listener} ${change.to}: ${change.reason}`,
        );
        events.onStateChange(this, change);
      },
    });
  }

  get state(): ServerState {
    return this.#checker.state;
  }

  /** Total time down, the current down period included. */
  get downtimeMs(): number {
    return this.#downtimeMs + (this.#downSince === undefined ? 0 : Math.max(0, Date.now() - this.#downSince));
  }

  get lastCheck(): CheckResult | undefined {
    return this.#checker.lastResult;
  }

  /** Up and ready: takes new flows (rotation.ts decides what happens when none is). */
  get eligible(): boolean {
    return isEligible(this);
  }

  start(): void {
    this.#checker.start();
  }

  setCheck(check: HealthCheck): void {
    this.#checker.setCheck(check);
  }

  /** A data plane saw a flow to this member fail: counts like a failed check (and triggers a faster re-check). */
  observeFailure(reason: string, latencyMs: number): void {
    this.#checker.observe({ ok: false, reason, latencyMs, at: Date.now() });
  }

  /**
   * Stops new flows and calls onDeadline after `delayMs` (deregistration delay), when the owner closes
   * the established ones. Calling it again keeps the earlier deadline.
   */
  drainFor(delayMs: number, onDeadline: () => void): void {
    if (this.drainDeadline !== undefined) return;
    this.drainDeadline = Date.now() + delayMs;
    const finish = () => {
      this.#drainTimer = undefined;
      onDeadline();
    };
    if (delayMs <= 0) finish();
    else {
      this.#drainTimer = setTimeout(finish, delayMs);
      this.#drainTimer.unref();
    }
  }

  /** Cancels a drain (undrain). */
  cancelDrain(): void {
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.drainDeadline = undefined;
  }

  /** Stops checks and timers; does not touch flows. */
  stop(): void {
    this.#checker.stop();
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  health(): MemberHealth {
    return {
      state: this.state,
      adminState: this.adminState,
      stateSince: this.stateSince,
      stateReason: this.stateReason,
      weight: this.weight,
      checksFailed: this.checksFailed,
      downTransitions: this.downTransitions,
      downtimeMs: this.downtimeMs,
      ...(this.lastCheck ? { lastCheck: this.lastCheck } : {}),
      ...(this.drainDeadline !== undefined ? { drainDeadline: this.drainDeadline } : {}),
      ...(this.removed ? { removed: true } : {}),
    };
  }
}

/** A member's identity: listener + address + port (a name change keeps the member). */
export function memberKey(listener: string, target: { address: string; port: number }): string {
  return `${listener}|${target.address}|${target.port}`;
}
