import type { Announcer } from './announcer.js';

/** Holds the VIP only in memory: for tests and for hosts where something else owns the address. */
export class NopAnnouncer implements Announcer {
  #held = false;
  get held(): boolean { return this.#held; }
  async acquire(): Promise<boolean> {
    const changed = !this.#held;
    this.#held = true;
    return changed;
  }
  async release(): Promise<boolean> {
    const changed = this.#held;
    this.#held = false;
    return changed;
  }
}
