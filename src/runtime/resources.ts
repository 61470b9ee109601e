// File descriptors are the balancer's own limit: a proxied connection holds two. This counts and logs
// running out of them (and of socket buffers) as ours, and says at start when the limit is too low.
//
// Node raises the soft RLIMIT_NOFILE to the hard limit when it starts, so the soft limit read here is
// already as high as this process may go; only the hard limit (LimitNOFILE=, ulimit -Hn) can raise it.
import { readdir, readFile } from 'node:fs/promises';
import type { ExhaustionSink } from '../local-errors.js';
import type { Logger } from '../log.js';
import type { ResourcesSnapshot } from './snapshot.js';

/** Descriptors serve needs besides connections: listeners, admin, checks in flight, logs, the VIP. */
export const RESERVED_DESCRIPTORS = 64;

/** One exhaustion line at most this often; the ones between are counted into the next line. */
const LOG_EVERY_MS = 10_000;
/** How often descriptors are counted: a readdir of /proc/self/fd, a few ms at 20,000 descriptors. */
const SCAN_EVERY_MS = 5000;
/** … and while they are near the limit. */
const SCAN_HIGH_EVERY_MS = 1000;
/** Free descriptors below which the table counts as full (libuv keeps one spare for itself). */
const FULL_MARGIN = 8;

export interface DescriptorLimits {
  soft: number;
  hard: number;
}

/** Descriptors that `maxConnections` per proxied listener needs (two per connection) plus a reserve. */
export function descriptorsNeeded(listeners: number, maxConnections: number): number {
  return listeners * maxConnections * 2 + RESERVED_DESCRIPTORS;
}

/** RLIMIT_NOFILE of this process from /proc (Linux); undefined elsewhere. */
export async function readDescriptorLimits(): Promise<DescriptorLimits | undefined> {
  try {
    const text = await readFile('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
    if (!match) return undefined;
    const value = (v: string) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
    return { soft: value(match[1]), hard: value(match[2]) };
  } catch {
    return undefined;
  }
}

export class ResourceMonitor implements ExhaustionSink {
  readonly #logger: Logger;
  readonly #exhausted: Record<string, number> = {};
  #limits: DescriptorLimits | undefined;
  #inUse: number | undefined;
  /** Reports since the last exhaustion line, by code. */
  #pending = new Map<string, { count: number; where: string }>();
  #lastLogAt = 0;
  #logTimer: NodeJS.Timeout | undefined;
  #scanTimer: NodeJS.Timeout | undefined;
  #full = false;
  #stopped = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Reads the limit and warns when it cannot cover `needed` descriptors. */
  async start(needed: number): Promise<void> {
    this.#limits = await readDescriptorLimits();
    if (!this.#limits) return;
    this.#scheduleScan(SCAN_EVERY_MS);
    const { soft, hard } = this.#limits;
    if (soft < needed) {
      this.#logger.warn(
        { event: 'descriptor-limit', soft, hard, needed },
        `the descriptor limit (${soft}) is below what balancer.maxConnections needs (${needed}: two per connection on every listener, plus ${RESERVED_DESCRIPTORS}); ` +
        'connections beyond the limit will be refused. Raise LimitNOFILE= in the unit (or ulimit -Hn), or lower balancer.maxConnections',
      );
    }
  }

  report(code: string, where: string): void {
    this.#exhausted[code] = (this.#exhausted[code] ?? 0) + 1;
    const pending = this.#pending.get(code);
    if (pending) pending.count++;
    else this.#pending.set(code, { count: 1, where });
    const wait = this.#lastLogAt + LOG_EVERY_MS - Date.now();
    if (wait <= 0) this.#flush();
    else if (!this.#logTimer && !this.#stopped) {
      this.#logTimer = setTimeout(() => this.#flush(), wait);
      this.#logTimer.unref();
    }
  }

  snapshot(): ResourcesSnapshot {
    return {
      ...(this.#limits ? { descriptorLimit: this.#limits.soft } : {}),
      ...(this.#inUse !== undefined ? { descriptorsInUse: this.#inUse } : {}),
      exhausted: { ...this.#exhausted },
    };
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#logTimer);
    clearTimeout(this.#scanTimer);
  }

  #flush(): void {
    clearTimeout(this.#logTimer);
    this.#logTimer = undefined;
    if (this.#pending.size === 0) return;
    this.#lastLogAt = Date.now();
    const parts = [...this.#pending].map(([code, { count, where }]) => `${count} × ${code} (${describe(code)}; first at ${where})`);
    this.#pending.clear();
    const limit = this.#limits ? `; limit ${this.#limits.soft} descriptors${this.#inUse !== undefined ? `, ${this.#inUse} in use` : ''}` : '';
    this.#logger.error(
      { event: 'local-exhaustion', exhausted: { ...this.#exhausted }, inUse: this.#inUse, limit: this.#limits?.soft },
      `this host ran out of resources: ${parts.join(', ')}${limit}. Connections fail, but no server is marked down for it; accepting resumes by itself when descriptors free up`,
    );
  }

  #scheduleScan(delayMs: number): void {
    if (this.#scanTimer || this.#stopped) return;
    this.#scanTimer = setTimeout(() => void this.#scan(), delayMs);
    this.#scanTimer.unref();
  }

  /**
   * Counts open descriptors. When they run out, accept() fails inside libuv, which closes the pending
   * connection without telling Node: the listeners cannot report it, so the count has to notice.
   */
  async #scan(): Promise<void> {
    this.#scanTimer = undefined;
    let inUse: number | undefined;
    try {
      inUse = (await readdir('/proc/self/fd')).length;
    } catch (error) {
      // No descriptor left even to look: that is the answer.
      if ((error as NodeJS.ErrnoException).code === 'EMFILE') inUse = this.#limits?.soft;
    }
    const limit = this.#limits?.soft;
    if (inUse === undefined || limit === undefined || this.#stopped) return;
    this.#inUse = inUse;
    const full = inUse >= limit - FULL_MARGIN;
    if (full && !this.#full) {
      this.#exhausted.EMFILE = (this.#exhausted.EMFILE ?? 0) + 1;
      this.#logger.error(
        { event: 'local-exhaustion', inUse, limit },
        `descriptors exhausted: ${inUse} of ${limit} in use; new client and admin connections are closed as they arrive until some free up. No server is marked down for it. Raise LimitNOFILE= (ulimit -Hn) or lower balancer.maxConnections`,
      );
    } else if (!full && this.#full) {
      this.#logger.info({ event: 'local-exhaustion', inUse, limit }, `descriptors back to ${inUse} of ${limit}: accepting again`);
    }
    this.#full = full;
    this.#scheduleScan(inUse >= limit * 0.9 ? SCAN_HIGH_EVERY_MS : SCAN_EVERY_MS);
  }
}

function describe(code: string): string {
  switch (code) {
    case 'EMFILE': return 'this process is out of file descriptors';
    case 'ENFILE': return 'the host is out of file descriptors';
    case 'ENOBUFS': return 'out of socket buffers';
    default: return 'out of memory';
  }
}
