// Structured logs: one line per event. JSON (pino) when stderr is not a terminal, a readable line when it is.
//
// Events that can come once per client connection (REPEATED) would flood the log during an outage: thousands
// of lines saying one thing. Per event and listener the first is logged at once; the next ones in the same
// interval are counted, and one line at the end of the interval says how many ("repeated": the exact count).
// An interval with none ends the run: the next occurrence is logged at once again.
import { pino, type LogFn, type Logger } from 'pino';
import { formatDuration } from './spec/duration.js';

export type { Logger } from 'pino';

/** How long repeats of one event on one listener are counted before one line reports them. */
export const REPEAT_INTERVAL_MS = 10_000;

type Fields = Record<string, unknown>;

/** The events summarised, and how the summary line says that `n` more came in `interval`. */
export const REPEATED: Readonly<Record<string, (n: number, fields: Fields, interval: string) => string>> = {
  'no-server': (n, f, interval) => `${String(f.listener)}: no server for ${n} more connection(s) in the last ${interval}`,
  'connection-limit': (n, f, interval) => `${String(f.listener)}: ${n} more connection(s) refused at balancer.maxConnections (${String(f.maxConnections)}) in the last ${interval}`,
  'listener-error': (n, f, interval) => `${String(f.listener)}: ${n} more accept error(s) in the last ${interval} (the last: ${String(f.error)})`,
};

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
  /** REPEAT_INTERVAL_MS unless given (tests). */
  repeatIntervalMs?: number;
}

/** Summaries still counting, per logger made here: flushRepeats writes them out (at shutdown). */
const pending = new WeakMap<Logger, () => void>();

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const pretty = options.pretty ?? Boolean((destination as { isTTY?: boolean }).isTTY);
  const level = options.level ?? process.env.CLUSTER_ENDPOINT_LOG_LEVEL ?? 'info';
  const repeats = new Repeats(options.repeatIntervalMs ?? REPEAT_INTERVAL_MS);
  const hooks = { logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn) { repeats.log(this, args, method); } };
  const logger = pretty
    // A terminal gets "12:00:01 INFO  cp-02 kubernetes down: connect ECONNREFUSED, 2/2 failures".
    ? pino({ level, base: undefined, hooks }, {
      write(line: string) {
        // The message already says what the structured fields say; a terminal shows just the message.
        const { time, level: lvl, msg } = JSON.parse(line) as Record<string, unknown>;
        const label = pino.levels.labels[Number(lvl)]?.toUpperCase() ?? 'INFO';
        destination.write(`${new Date(Number(time)).toISOString().slice(11, 19)} ${label.padEnd(5)} ${String(msg)}\n`);
      },
    } as unknown as NodeJS.WritableStream)
    : pino({ level, base: { pid: process.pid }, hooks }, destination);
  pending.set(logger, () => repeats.flush());
  return logger;
}

/** Writes out the repeats still being counted (nothing is lost when the process stops mid-interval). */
export function flushRepeats(logger: Logger): void {
  pending.get(logger)?.();
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });

interface Run {
  /** Occurrences since the last line about this event on this listener. */
  count: number;
  since: number;
  last: Fields;
  logger: Logger;
  method: LogFn;
  timer: NodeJS.Timeout;
}

/** The counting behind REPEATED: a run per event and listener, one timer per run that has one. */
class Repeats {
  readonly #intervalMs: number;
  readonly #runs = new Map<string, Run>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  log(logger: Logger, args: Parameters<LogFn>, method: LogFn): void {
    const fields = args[0] as unknown;
    const event = typeof fields === 'object' && fields !== null ? (fields as Fields).event : undefined;
    if (typeof event !== 'string' || !(event in REPEATED)) {
      method.apply(logger, args);
      return;
    }
    const key = `${event}\0${String((fields as Fields).listener ?? '')}`;
    const run = this.#runs.get(key);
    if (run) {
      run.count++;
      run.last = fields as Fields;
      run.logger = logger;
      return;
    }
    method.apply(logger, args);
    this.#runs.set(key, { count: 0, since: Date.now(), last: fields as Fields, logger, method, timer: this.#schedule(key) });
  }

  /** Reports every run that counted something; the runs end. */
  flush(): void {
    for (const [key, run] of this.#runs) {
      clearTimeout(run.timer);
      this.#report(run);
      this.#runs.delete(key);
    }
  }

  #schedule(key: string): NodeJS.Timeout {
    const timer = setTimeout(() => this.#tick(key), this.#intervalMs);
    timer.unref();
    return timer;
  }

  #tick(key: string): void {
    const run = this.#runs.get(key);
    if (!run) return;
    if (run.count === 0) {
      this.#runs.delete(key); // a quiet interval: the next one is news again
      return;
    }
    this.#report(run);
    run.count = 0;
    run.since = Date.now();
    run.timer = this.#schedule(key);
  }

  #report(run: Run): void {
    if (run.count === 0) return;
    const periodMs = Date.now() - run.since;
    const event = String(run.last.event);
    const message = REPEATED[event](run.count, run.last, formatDuration(Math.max(1000, Math.round(periodMs / 1000) * 1000)));
    run.method.apply(run.logger, [{ ...run.last, repeated: run.count, periodMs }, message]);
  }
}
