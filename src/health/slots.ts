// When checks run: every check due within the same 20 ms slot runs in one timer callback. A thousand servers
// checked every second then wake the process about fifty times a second instead of a thousand — and each
// wake-up of Node's event loop costs more than the check it runs. Checks still spread over the interval (each
// server has its own phase, see checker.ts); they just start on a 20 ms grid.

/** Width of a slot: the most a check starts late, and the least time between two wake-ups. */
export const SLOT_MS = 20;

type Job = () => void;

export class Slots {
  readonly #jobs = new Map<number, Set<Job>>();
  /** Slot times that have jobs, ascending. */
  readonly #times: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  /** Runs `job` at the first slot boundary at or after `dueAt` (epoch ms); returns that slot for cancel(). */
  add(dueAt: number, job: Job): number {
    const slot = Math.ceil(dueAt / SLOT_MS) * SLOT_MS;
    let jobs = this.#jobs.get(slot);
    if (!jobs) {
      jobs = new Set();
      this.#jobs.set(slot, jobs);
      this.#times.splice(sortedIndex(this.#times, slot), 0, slot);
    }
    jobs.add(job);
    if (slot < this.#armedFor) this.#arm(slot);
    return slot;
  }

  /** Forgets `job` in `slot`; when nothing is left to run, no timer stays behind. */
  cancel(slot: number, job: Job): void {
    const jobs = this.#jobs.get(slot);
    if (!jobs?.delete(job) || jobs.size > 0) return;
    this.#jobs.delete(slot);
    this.#times.splice(sortedIndex(this.#times, slot), 1);
    if (this.#times.length === 0) this.#disarm();
  }

  /** Jobs waiting (tests). */
  get size(): number {
    let count = 0;
    for (const jobs of this.#jobs.values()) count += jobs.size;
    return count;
  }

  #arm(slot: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = slot;
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, slot - Date.now()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.#times.length > 0 && this.#times[0] <= now) {
      const slot = this.#times.shift()!;
      const jobs = this.#jobs.get(slot)!;
      this.#jobs.delete(slot);
      for (const job of jobs) job();
    }
    if (this.#times.length > 0 && this.#times[0] < this.#armedFor) this.#arm(this.#times[0]);
  }
}

/** Where `value` is, or would go, in the ascending `list`. */
function sortedIndex(list: readonly number[], value: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (list[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The one schedule every checker of this process shares. */
export const CHECK_SLOTS = new Slots();
