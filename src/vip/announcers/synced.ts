import type { Announcer } from './announcer.js';

/** What a flow-state sync does when this host gains or gives up the VIP (src/dataplane/kernel/sync.ts). */
export interface RoleHooks {
  start(): Promise<void>;
  /** Before the VIP is announced: the peers' flows must be in the kernel when the first packets arrive. */
  takeover(): Promise<void>;
  /** After the VIP is gone from this host. */
  standby(): Promise<void>;
}

/**
 * An announcer that lets a flow-state sync act around the address operations: commit before acquiring,
 * stand by after releasing. The sync acts once per change of role, although acquire and release are
 * idempotent and called repeatedly.
 */
export class SyncedAnnouncer implements Announcer {
  readonly #inner: Announcer;
  readonly #hooks: RoleHooks;
  #primary: boolean | undefined;

  constructor(inner: Announcer, hooks: RoleHooks) {
    this.#inner = inner;
    this.#hooks = hooks;
  }

  async prepare(): Promise<void> {
    await this.#inner.prepare?.();
    await this.#hooks.start();
  }

  async acquire(): Promise<boolean> {
    if (this.#primary !== true) {
      this.#primary = true;
      await this.#hooks.takeover();
    }
    return this.#inner.acquire();
  }

  async release(): Promise<boolean> {
    const changed = await this.#inner.release();
    if (this.#primary !== false) {
      this.#primary = false;
      await this.#hooks.standby();
    }
    return changed;
  }

  close(): void {
    this.#inner.close?.();
  }
}
