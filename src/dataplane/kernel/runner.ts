// Runs one job — a sync of the kernel table — when asked, as kube-proxy's BoundedFrequencyRunner does for its
// nftables proxier: never two at once, never two starts closer than minIntervalMs (requests in between are
// coalesced into one run), again after a failure with exponential back-off until one succeeds, and again
// maxIntervalMs after the last run even when nobody asked.

export interface RunnerOptions {
  /** Shortest time between two starts; requests in between make one run. */
  minIntervalMs: number;
  /** Longest time between two runs: a run is due this long after the last one (undefined: never). */
  maxIntervalMs?: number;
  /** Back-off after a failed run: the first retry after firstMs, each next one twice as late, at most maxMs. */
  retry: { firstMs: number; maxMs: number };
  /** A run failed; the next one starts in retryInMs (or sooner when asked). Must not throw. */
  onError(error: Error, retryInMs: number): void;
}

export class BoundedFrequencyRunner {
  readonly #job: () => Promise<void>;
  readonly #options: RunnerOptions;
  #running: Promise<void> | undefined;
  #pending = false;
  #lastStart = Number.NEGATIVE_INFINITY;
  #backoffMs: number;
  /** The next start: min-interval wait, retry after a failure, or the periodic run. */
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #queued = false;
  #stopped = false;
  #waiters: Array<() => void> = [];
  /** Consecutive failed runs (0 after a success). */
  failures = 0;

  constructor(job: () => Promise<void>, options: RunnerOptions) {
    this.#job = job;
    this.#options = options;
    this.#backoffMs = options.retry.firstMs;
  }

  /** Asks for a run: now if the last start is minIntervalMs ago, else as soon as it is. */
  run(): void {
    if (this.#stopped) return;
    this.#pending = true;
    this.#kick();
  }

  /** Resolves once no run is in flight or asked for (a retry or periodic run waiting on its timer does not count). */
  settled(): Promise<void> {
    if (!this.#running && !this.#pending) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** No run starts from now on; the one in flight finishes. */
  stop(): void {
    this.#stopped = true;
    this.#pending = false;
    this.#clearTimer();
    this.#wake();
  }

  #kick(): void {
    if (this.#stopped || this.#running || this.#queued || !this.#pending) return;
    const wait = this.#lastStart + this.#options.minIntervalMs - Date.now();
    if (wait > 0) {
      this.#schedule(wait);
      return;
    }
    // A microtask later: several changes made in one tick (a reload, a node down on every listener) make one run.
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      if (this.#stopped || this.#running || !this.#pending) return this.#wake();
      this.#start();
    });
  }

  #start(): void {
    this.#clearTimer();
    this.#pending = false;
    this.#lastStart = Date.now();
    this.#running = (async () => {
      try {
        await this.#job();
        this.failures = 0;
        this.#backoffMs = this.#options.retry.firstMs;
        if (this.#options.maxIntervalMs !== undefined) this.#schedule(this.#options.maxIntervalMs);
      } catch (error) {
        this.failures++;
        const retryInMs = this.#backoffMs;
        this.#backoffMs = Math.min(this.#options.retry.maxMs, this.#backoffMs * 2);
        this.#schedule(retryInMs);
        this.#options.onError(error instanceof Error ? error : new Error(String(error)), retryInMs);
      } finally {
        this.#running = undefined;
        if (this.#pending) this.#kick();
        this.#wake();
      }
    })();
  }

  /** Sets the timer for a run in delayMs, unless one is already due sooner. */
  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    const at = Date.now() + delayMs;
    if (this.#timer && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.run();
    }, delayMs);
    this.#timer.unref();
  }

  #clearTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #wake(): void {
    if (this.#running || (this.#pending && !this.#stopped)) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
