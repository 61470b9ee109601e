// Outage windows from a stream of connection attempts. Pure: attempts come in with their sequence number
// and start time (in any order, as they finish); they are taken in sequence order, so a slow attempt
// cannot reorder the story. A window opens at the start of the first failed attempt and closes at the
// start of the next successful one.

export interface AttemptResult {
  seq: number;
  /** Epoch ms when the attempt started. */
  startedAt: number;
  ok: boolean;
  error?: string;
}

export interface OutageWindow {
  start: number;
  end: number;
  lengthMs: number;
  failedAttempts: number;
  /** Failure reasons and how often each was seen ("ECONNREFUSED": 51). */
  errors: Record<string, number>;
  /** True when the watch ended during the outage (end = when it stopped). */
  ongoing: boolean;
}

export type OutageEvent =
  | { type: 'outage-start'; at: number; error: string }
  | { type: 'outage-end'; window: OutageWindow };

export interface OutageSummary {
  attempts: number;
  failed: number;
  windows: OutageWindow[];
  longestMs: number;
  totalOutageMs: number;
}

/** The counts so far (attempts taken in order), for a live line; `down` while a window is open. */
export interface Progress {
  attempts: number;
  failed: number;
  down?: { since: number; failed: number };
}

interface OpenWindow { start: number; failed: number; errors: Record<string, number> }

export class OutageTracker {
  #next = 0;
  #pending = new Map<number, AttemptResult>();
  #open: OpenWindow | undefined;
  #attempts = 0;
  #failed = 0;
  #windows: OutageWindow[] = [];

  /** Records one finished attempt; returns the events it completes (in order). */
  record(result: AttemptResult): OutageEvent[] {
    this.#pending.set(result.seq, result);
    const events: OutageEvent[] = [];
    for (let next = this.#pending.get(this.#next); next; next = this.#pending.get(this.#next)) {
      this.#pending.delete(this.#next);
      this.#next++;
      events.push(...this.#take(next));
    }
    return events;
  }

  /** Ends tracking at `at`: takes what is still buffered (in order), closes an open window as ongoing. */
  finish(at: number): OutageEvent[] {
    const events: OutageEvent[] = [];
    for (const seq of [...this.#pending.keys()].sort((a, b) => a - b)) events.push(...this.#take(this.#pending.get(seq) as AttemptResult));
    this.#pending.clear();
    if (this.#open) events.push(this.#close(Math.max(at, this.#open.start), true));
    return events;
  }

  progress(): Progress {
    return { attempts: this.#attempts, failed: this.#failed, ...(this.#open ? { down: { since: this.#open.start, failed: this.#open.failed } } : {}) };
  }

  summary(): OutageSummary {
    const lengths = this.#windows.map((w) => w.lengthMs);
    return {
      attempts: this.#attempts, failed: this.#failed, windows: [...this.#windows],
      longestMs: lengths.length ? Math.max(...lengths) : 0, totalOutageMs: lengths.reduce((a, b) => a + b, 0),
    };
  }

  #take(result: AttemptResult): OutageEvent[] {
    this.#attempts++;
    if (result.ok) return this.#open ? [this.#close(result.startedAt, false)] : [];
    this.#failed++;
    const error = result.error ?? 'failed';
    const events: OutageEvent[] = [];
    if (!this.#open) {
      this.#open = { start: result.startedAt, failed: 0, errors: {} };
      events.push({ type: 'outage-start', at: result.startedAt, error });
    }
    this.#open.failed++;
    this.#open.errors[error] = (this.#open.errors[error] ?? 0) + 1;
    return events;
  }

  #close(end: number, ongoing: boolean): OutageEvent {
    const open = this.#open as OpenWindow;
    this.#open = undefined;
    const window: OutageWindow = { start: open.start, end, lengthMs: end - open.start, failedAttempts: open.failed, errors: open.errors, ongoing };
    this.#windows.push(window);
    return { type: 'outage-end', window };
  }
}

/** "20/s", "20", "600/m", "0.5/s" → attempts per second. */
export function parseRate(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|m|min))?$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]) / (match[2] && match[2] !== 's' ? 60 : 1);
  return value > 0 ? value : undefined;
}
