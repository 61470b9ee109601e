// The checker owns time for one server: when to probe, how long a probe may take, and what a result
// means (via the pure transition()). Probes just try once.
import type { HealthCheck } from '../spec/types.js';
import { formatDuration } from '../spec/duration.js';
import { localExhaustion } from '../local-errors.js';
import { PROBES, startTcp, type Attempting, type Probe, type ProbeTarget, type StartProbe } from './probes/index.js';
import { CHECK_SLOTS } from './slots.js';
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

interface InFlight {
  /** The probe's attempt; undefined only while the probe is being started. */
  attempt: Attempting | undefined;
  timeout: NodeJS.Timeout | undefined;
  /** performance.now() when the run started. */
  started: number;
}

function failedResult(reason: string, started: number): CheckResult {
  return { ok: false, reason, latencyMs: Math.round(performance.now() - started), at: Date.now() };
}

function probeError(error: unknown, started: number): CheckResult {
  return failedResult(`probe error ${error instanceof Error ? error.message : String(error)}`, started);
}

/**
 * What a checker runs for a check: a tcp check straight on the TCP engine, any other probe (tls, https, a
 * test's) through its promise. A checker makes one of these each and has one run in flight at most.
 */
function startOf(type: HealthCheck['type'], probe: Probe | undefined): StartProbe {
  if (!probe && type === 'tcp') return startTcp;
  return callbackForm(probe ?? PROBES[type]);
}

/**
 * A promise probe in callback form. One controller serves run after run until a run is cancelled (timeout or
 * stop): in Node 20 creating an AbortSignal costs more than the rest of a check together, and a probe removes
 * its abort listener when it settles, so an unaborted signal can be handed to the next probe.
 */
function callbackForm(probe: Probe): StartProbe {
  let controller: AbortController | undefined;
  return (target, check, done) => {
    const started = performance.now();
    const own = (controller ??= new AbortController());
    let cancelled = false;
    probe(target, check, own.signal).then(
      (result) => { if (!cancelled) done(result); },
      (error: unknown) => { if (!cancelled) done(probeError(error, started)); },
    );
    return {
      cancel(reason) {
        cancelled = true;
        if (controller === own) controller = undefined; // an aborted signal is spent
        own.abort(reason);
      },
    };
  };
}

/** Every delay is stretched or shrunk by up to this fraction, so checks of many servers drift apart. */
export const JITTER = 0.1;

/**
 * Jittered delays take one of this many values (0.9×, 0.925×, … 1.1× for JITTER 0.1), and first checks one of
 * FIRST_CHECK_SLOTS points of their spread. Node keeps one timer list per distinct delay: a thousand servers
 * with a thousand distinct delays cost five times the CPU of the checks themselves; a few values spread the
 * checks as well, since each server's phase is its own.
 */
const JITTER_STEPS = 9;
const FIRST_CHECK_SLOTS = 100;

export class HealthChecker {
  readonly #options: CheckerOptions;
  readonly #random: () => number;
  #check: HealthCheck;
  #start: StartProbe;
  #counters: HealthCounters;
  #lastResult: CheckResult | undefined;
  #lastKind: TransitionKind = 'unchanged';
  #running = false;
  /** The slot (slots.ts) the next run waits in; undefined when none is scheduled. */
  #timer: number | undefined;
  #dueAt = 0;
  #inFlight: InFlight | undefined;
  /** The slot callback, made once rather than a closure per check. */
  readonly #due = () => { this.#timer = undefined; this.#run(); };

  constructor(options: CheckerOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#check = options.check;
    this.#start = startOf(options.check.type, options.probe);
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
    this.#schedule(Math.floor((Math.floor(this.#random() * FIRST_CHECK_SLOTS) / FIRST_CHECK_SLOTS) * spread));
  }

  /** Idempotent: clears every timer and aborts the probe in flight. Counters are kept. */
  stop(): void {
    this.#running = false;
    this.#clearTimer();
    const inFlight = this.#inFlight;
    this.#inFlight = undefined;
    if (inFlight) {
      clearTimeout(inFlight.timeout);
      inFlight.attempt?.cancel(new DOMException('health checker stopped', 'AbortError'));
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
    if (check.type !== this.#check.type) this.#start = startOf(check.type, this.#options.probe);
    this.#check = check;
    if (!this.#running || this.#timer === undefined) return;
    const delay = this.#nextDelay();
    if (this.#dueAt > Date.now() + delay) this.#schedule(delay);
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    this.#dueAt = Date.now() + delayMs;
    this.#timer = CHECK_SLOTS.add(this.#dueAt, this.#due);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) CHECK_SLOTS.cancel(this.#timer, this.#due);
    this.#timer = undefined;
  }

  /** Fast while the state is changing (checking or a pending run), else the normal interval. */
  #nextDelay(): number {
    const changing = this.#counters.state === 'checking' || this.#lastKind === 'pending';
    return this.#jitter(changing ? this.#check.fastIntervalMs : this.#check.intervalMs);
  }

  #jitter(ms: number): number {
    const step = Math.min(JITTER_STEPS - 1, Math.floor(this.#random() * JITTER_STEPS));
    return Math.max(1, Math.round(ms * (1 + ((2 * step) / (JITTER_STEPS - 1) - 1) * JITTER)));
  }

  #run(): void {
    if (!this.#running) return;
    const check = this.#check;
    const inFlight: InFlight = { attempt: undefined, timeout: undefined, started: performance.now() };
    this.#inFlight = inFlight;
    // Our own timer rather than AbortSignal.timeout(): it can be cleared, so nothing lingers after a fast answer.
    // When it fires first, the run ends with it: a probe that never answers cannot hang us.
    inFlight.timeout = setTimeout(() => this.#cut(inFlight, new DOMException(`timeout after ${formatDuration(check.timeoutMs)}`, 'TimeoutError')), check.timeoutMs);
    try {
      inFlight.attempt = this.#start(this.#options.target, check, (result) => this.#finish(inFlight, result));
    } catch (error) {
      // A probe that throws instead of answering is a failed check, not a crash.
      this.#finish(inFlight, probeError(error, inFlight.started));
    }
  }

  /** Ends a run with its result, unless the run was stopped (or superseded) meanwhile. */
  #finish(inFlight: InFlight, result: CheckResult): void {
    clearTimeout(inFlight.timeout);
    if (this.#inFlight !== inFlight) return;
    this.#inFlight = undefined;
    this.#record(result);
    if (this.#running) this.#schedule(this.#nextDelay());
  }

  /** Ends a run now with `reason` as its result; its probe is cancelled and closes what it opened. */
  #cut(inFlight: InFlight, reason: DOMException): void {
    inFlight.attempt?.cancel(reason);
    this.#finish(inFlight, failedResult(reason.message, inFlight.started));
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
