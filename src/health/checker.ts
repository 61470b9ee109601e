// The checker owns time for one server: when to probe, how long a probe may take, and what a result
// means (via the pure transition()). Probes just try once.
import type { HealthCheck } from '../spec/types.js';
import { formatDuration } from '../spec/duration.js';
import { localExhaustion } from '../local-errors.js';
import { PROBES, type Probe, type ProbeTarget } from './probes/index.js';
import { describeRun, INITIAL_COUNTERS, transition } from './transition.js';
import type { CheckResult, HealthCounters, ServerState, StateChange, TransitionKind } from './types.js';

export interface CheckerOptions {
  target: ProbeTarget & { name: string; listener: string };
  check: HealthCheck;
  /** Default PROBES[check.type]. */
  probe?: Probe;
  /** Counters carried over a reload, so a server keeps its state. */
  initialCounters?: HealthCounters;
  /** Called when `state` changes. Must not throw. */
  onChange(change: StateChange, counters: HealthCounters): void;
  /** Called for every result, active or passive. Must not throw. */
  onResult?(result: CheckResult, counters: HealthCounters): void;
  /** Called instead of counting a result that failed because this process ran out of descriptors or buffers. */
  onLocalError?(code: string, result: CheckResult): void;
  /** In [0, 1): spreads first checks and jitters every delay. Injectable for tests. */
  random?: () => number;
}

/** Every delay is stretched or shrunk by up to this fraction, so checks of many servers drift apart. */
export const JITTER = 0.1;

export class HealthChecker {
  readonly #options: CheckerOptions;
  readonly #random: () => number;
  #check: HealthCheck;
  #probe: Probe;
  #counters: HealthCounters;
  #lastResult: CheckResult | undefined;
  #lastKind: TransitionKind = 'unchanged';
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #dueAt = 0;
  #inFlight: { controller: AbortController; timeout: NodeJS.Timeout } | undefined;

  constructor(options: CheckerOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#check = options.check;
    this.#probe = options.probe ?? PROBES[options.check.type];
    this.#counters = { ...(options.initialCounters ?? INITIAL_COUNTERS) };
  }

  get counters(): HealthCounters { return { ...this.#counters }; }
  get state(): ServerState { return this.#counters.state; }
  get lastResult(): CheckResult | undefined { return this.#lastResult; }
  get running(): boolean { return this.#running; }

  /** Starts checking. The first check comes after a random delay below min(fastInterval, interval). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const spread = Math.min(this.#check.fastIntervalMs, this.#check.intervalMs);
    this.#schedule(Math.floor(this.#random() * spread));
  }

  /** Idempotent: clears every timer and aborts the probe in flight. Counters are kept. */
  stop(): void {
    this.#running = false;
    this.#clearTimer();
    const inFlight = this.#inFlight;
    this.#inFlight = undefined;
    if (inFlight) {
      clearTimeout(inFlight.timeout);
      inFlight.controller.abort(new DOMException('health checker stopped', 'AbortError'));
    }
  }

  /**
   * A passive result, e.g. a connect the proxy saw fail. It counts like a check; after a failure (or
   * while a change is pending) the next check is brought forward to the fast interval.
   */
  observe(result: CheckResult): void {
    if (!this.#running) return;
    const kind = this.#record(result);
    if ((!result.ok || kind === 'pending') && !this.#inFlight) {
      const delay = this.#jitter(this.#check.fastIntervalMs);
      if (this.#timer === undefined || this.#dueAt > Date.now() + delay) this.#schedule(delay);
    }
  }

  /** Reload: new timing, type or files; counters are kept. A shorter delay takes effect at once. */
  setCheck(check: HealthCheck): void {
    this.#check = check;
    this.#probe = this.#options.probe ?? PROBES[check.type];
    if (!this.#running || this.#timer === undefined) return;
    const delay = this.#nextDelay();
    if (this.#dueAt > Date.now() + delay) this.#schedule(delay);
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    this.#dueAt = Date.now() + delayMs;
    this.#timer = setTimeout(() => { this.#timer = undefined; void this.#run(); }, delayMs);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Fast while the state is changing (checking or a pending run), else the normal interval. */
  #nextDelay(): number {
    const changing = this.#counters.state === 'checking' || this.#lastKind === 'pending';
    return this.#jitter(changing ? this.#check.fastIntervalMs : this.#check.intervalMs);
  }

  #jitter(ms: number): number {
    return Math.max(1, Math.round(ms * (1 + (this.#random() * 2 - 1) * JITTER)));
  }

  async #run(): Promise<void> {
    if (!this.#running) return;
    const check = this.#check;
    const controller = new AbortController();
    // Our own timer rather than AbortSignal.timeout(): it can be cleared, so nothing lingers after a fast answer.
    const timeout = setTimeout(() => controller.abort(new DOMException(`timeout after ${formatDuration(check.timeoutMs)}`, 'TimeoutError')), check.timeoutMs);
    const inFlight = { controller, timeout };
    this.#inFlight = inFlight;
    const result = await this.#attempt(check, controller.signal);
    clearTimeout(timeout);
    if (this.#inFlight !== inFlight) return; // stopped (or superseded) while probing
    this.#inFlight = undefined;
    this.#record(result);
    if (this.#running) this.#schedule(this.#nextDelay());
  }

  /** The probe's answer, or a timeout result when the signal fires first (a probe that ignores it cannot hang us). */
  #attempt(check: HealthCheck, signal: AbortSignal): Promise<CheckResult> {
    const started = performance.now();
    const failed = (reason: string): CheckResult => ({ ok: false, reason, latencyMs: Math.round(performance.now() - started), at: Date.now() });
    const aborted = new Promise<CheckResult>((resolve) => {
      signal.addEventListener('abort', () => resolve(failed((signal.reason as Error).message)), { once: true });
    });
    const probed = Promise.resolve()
      .then(() => this.#probe(this.#options.target, check, signal))
      .catch((error: unknown) => failed(`probe error ${error instanceof Error ? error.message : String(error)}`));
    return Promise.race([probed, aborted]);
  }

  #record(result: CheckResult): TransitionKind {
    const local = result.ok ? undefined : localExhaustion(result.reason);
    if (local) {
      // Our own shortage says nothing about the server: its state and counters stay as they are.
      this.#lastResult = { ...result, reason: `${result.reason} (not counted: this host is out of resources)` };
      this.#options.onLocalError?.(local, result);
      return 'unchanged';
    }
    const previous = this.#counters;
    const { next, kind } = transition(previous, result.ok, this.#check);
    this.#counters = next;
    this.#lastResult = result;
    this.#lastKind = kind;
    this.#options.onResult?.(result, { ...next });
    if (kind === 'changed') {
      const reason = `${result.reason}, ${describeRun(previous, next, this.#check)}`;
      this.#options.onChange({ from: previous.state, to: next.state, reason, at: result.at }, { ...next });
    }
    return kind;
  }
}
