import { HealthChecker } from '../health/checker.js';
import type { AdminState, CheckResult, HealthCounters, ServerState, StateChange } from '../health/types.js';
import type { ExhaustionSink } from '../local-errors.js';
import type { Logger } from '../log.js';
import type { ServerSnapshot } from '../runtime/snapshot.js';
import type { HealthCheck, ServerTarget } from '../spec/types.js';
import { joinHostPort } from '../spec/address.js';

/** Something the proxy can close: one downstream/upstream pair. */
export interface Closable {
  destroy(reason: string): void;
  /**
   * Its server is taken out (marked down, drained past its delay): a connection the server has not
   * answered yet moves to another server (the client has seen nothing), any other closes.
   */
  evict(reason: string): void;
}

export interface ServerEvents {
  /** Called after `state` changed (the backend closes connections of a server marked down). */
  onStateChange(server: Server, change: StateChange): void;
  /** Where a check that failed for want of local resources is reported instead of counted. */
  exhaustion?: ExhaustionSink;
}

/**
 * One target node of one listener. Two states (HAProxy srv_state vs srv_admin): `state` comes from the
 * health checker, `adminState` from the operator. It outlives reloads (runtime/registry.ts keeps it).
 */
export class Server {
  readonly key: string;
  readonly listener: string;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  weight: number;
  adminState: AdminState = 'ready';
  stateSince = Date.now();
  stateReason = 'waiting for the first check';
  /** Set when a reload removed the server: it only drains. */
  removed = false;
  /** Epoch ms when the connections of a draining server are closed. */
  drainDeadline: number | undefined;

  activeConnections = 0;
  totalConnections = 0;
  connectFailures = 0;
  redispatches = 0;
  bytesIn = 0;
  bytesOut = 0;
  checksFailed = 0;
  downTransitions = 0;
  /** Passive health (outlier.ts): connections this server took and never answered in time. */
  firstByteTimeouts = 0;
  /** Epoch ms until which new connections avoid this server (0: not ejected); see outlier.ts. */
  ejectedUntil = 0;
  /** Ejections in a row without an answer in between: each doubles the next ejection. */
  ejections = 0;
  /** Time spent down before the current down period (HAProxy `downtime`). */
  #downtimeMs = 0;
  #downSince: number | undefined;

  readonly connections = new Set<Closable>();
  readonly #checker: HealthChecker;
  #drainTimer: NodeJS.Timeout | undefined;
  readonly #logger: Logger;

  constructor(listener: string, target: ServerTarget, check: HealthCheck, events: ServerEvents, logger: Logger) {
    this.key = serverKey(listener, target);
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

  /** Up and ready: takes new connections. */
  get eligible(): boolean {
    return this.#checker.state === 'up' && this.adminState === 'ready' && !this.removed;
  }

  /** With no eligible server, fail-open tries every server that is not in maintenance or removed. */
  get failOpenCandidate(): boolean {
    return this.adminState !== 'maint' && !this.removed;
  }

  start(): void {
    this.#checker.start();
  }

  setCheck(check: HealthCheck): void {
    this.#checker.setCheck(check);
  }

  /** A connect to this server failed: counts like a failed check (and triggers a faster re-check). */
  observeFailure(reason: string, latencyMs: number): void {
    this.connectFailures++;
    this.#checker.observe({ ok: false, reason, latencyMs, at: Date.now() });
  }

  /** Closes this server's proxied connections now (the proxy data plane's closeFlows). */
  closeConnections(reason: string): number {
    const count = this.connections.size;
    for (const connection of [...this.connections]) connection.evict(reason);
    return count;
  }

  /**
   * Stops new connections and calls onDeadline after `delayMs` (deregistration delay), when the owner
   * closes the established ones. Calling it again keeps the earlier deadline.
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

  /** Stops checks and timers; does not touch connections. */
  stop(): void {
    this.#checker.stop();
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  snapshot(): ServerSnapshot {
    return {
      name: this.name,
      address: this.address,
      port: this.port,
      state: this.state,
      adminState: this.adminState,
      stateSince: this.stateSince,
      stateReason: this.stateReason,
      weight: this.weight,
      activeConnections: this.activeConnections,
      totalConnections: this.totalConnections,
      connectFailures: this.connectFailures,
      redispatches: this.redispatches,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      checksFailed: this.checksFailed,
      downTransitions: this.downTransitions,
      downtimeMs: this.downtimeMs,
      firstByteTimeouts: this.firstByteTimeouts,
      ...(this.ejectedUntil > Date.now() ? { ejectedUntil: this.ejectedUntil } : {}),
      ...(this.lastCheck ? { lastCheck: this.lastCheck } : {}),
      ...(this.drainDeadline !== undefined ? { drainDeadline: this.drainDeadline } : {}),
      ...(this.removed ? { removed: true } : {}),
    };
  }
}

export function serverKey(listener: string, target: { address: string; port: number }): string {
  return `${listener}|${target.address}|${target.port}`;
}
