import type { BalancerSettings, Listener } from '../spec/types.js';
import { BALANCERS, type Balancer, type PickContext } from './balancers/index.js';
import { preferNotEjected } from './outlier.js';
import type { Server } from './server.js';

/** Settings the proxy reads per connection, decided once per config (no branching on the hot path). */
export interface ProxySettings {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  retries: number;
  replay: boolean;
  replayBufferSize: number;
  /** 0 when off: turned off with replay too, since a connection that cannot be replayed is never cut. */
  firstByteTimeoutMs: number;
}

export interface ListenerCounters {
  activeConnections: number;
  totalConnections: number;
  failedConnections: number;
  /** Of those, connections that failed because this process was out of descriptors or buffers. */
  localErrors: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * A listener's servers and how to choose one: eligibility and the all-down policy live here, the
 * choice among eligible servers in a small strategy (balancers/).
 */
export class Backend {
  readonly name: string;
  readonly listener: Listener;
  readonly settings: ProxySettings;
  readonly servers: readonly Server[];
  readonly #balancer: Balancer;
  readonly #failOpen: boolean;

  constructor(listener: Listener, balancer: BalancerSettings, servers: readonly Server[]) {
    this.name = listener.name;
    this.listener = listener;
    this.servers = servers;
    this.#balancer = BALANCERS[listener.balance]();
    this.#failOpen = balancer.whenAllDown === 'fail-open';
    this.settings = {
      connectTimeoutMs: balancer.connectTimeoutMs,
      idleTimeoutMs: balancer.idleTimeoutMs,
      retries: balancer.retries,
      replay: listener.replay,
      replayBufferSize: balancer.replayBufferSize,
      firstByteTimeoutMs: listener.replay ? balancer.firstByteTimeoutMs : 0,
    };
  }

  /**
   * Picks a server for a new connection, skipping those already tried. Eligible servers (up and ready)
   * first; when none is eligible and the policy is fail-open, every server not in maintenance — as an
   * AWS NLB routes to all targets when all are unhealthy. Among them, servers that passive health ejected
   * (outlier.ts) only when there is no other.
   */
  pick(context: PickContext, tried?: ReadonlySet<Server>): Server | undefined {
    let candidates = this.servers.filter((s) => s.eligible && !tried?.has(s));
    if (candidates.length === 0) {
      const anyEligible = this.servers.some((s) => s.eligible);
      if (anyEligible || !this.#failOpen) return undefined;
      candidates = this.servers.filter((s) => s.failOpenCandidate && !tried?.has(s));
    }
    return this.#balancer.pick(preferNotEjected(candidates), context);
  }

  /** True when at least one server is up and ready. */
  get healthy(): boolean {
    return this.servers.some((s) => s.eligible);
  }
}
