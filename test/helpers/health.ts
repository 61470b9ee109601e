// An EndpointHealth held in memory: set() changes it and tells the subscribers, as the registry does.
import type { EndpointHealth } from '../../src/membership/health.js';

export class HealthFlag implements EndpointHealth {
  #value: boolean;
  readonly #listeners = new Set<() => void>();

  constructor(value = true) {
    this.#value = value;
  }

  healthy(): boolean {
    return this.#value;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  set(value: boolean): void {
    this.#value = value;
    for (const listener of this.#listeners) listener();
  }

  /** Subscribers now (a stopped announcer unsubscribes). */
  get subscribers(): number {
    return this.#listeners.size;
  }
}
