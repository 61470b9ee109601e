import { inRotation } from '../membership/rotation.js';
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
 * A listener's servers and how to choose one: who is in rotation is membership's decision (inRotation),
 * the choice among them a small strategy (balancers/).
 */
export class Backend {
  readonly name: string;
  readonly listener: Listener;
  readonly settings: ProxySettings;
  readonly servers: readonly Server[];
  readonly #balancer: Balancer;
  readonly #whenAllDown: BalancerSettings['whenAllDown'];

  constructor(listener: Listener, balancer: BalancerSettings, servers: readonly Server[]) {
    this.name = listener.name;
    this.listener = listener;
    this.servers = servers;
    this.#balancer = BALANCERS[listener.balance]();
    this.#whenAllDown = balancer.whenAllDown;
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
   * Picks a server for a new connection among those in rotation, skipping those already tried; servers
   * that passive health ejected (outlier.ts) only when there is no other.
   */
  pick(context: PickContext, tried?: ReadonlySet<Server>): Server | undefined {
    const rotation = inRotation(this.servers, this.#whenAllDown);
    const candidates = tried ? rotation.filter((s) => !tried.has(s)) : rotation;
    return this.#balancer.pick(preferNotEjected(candidates), context);
  }
}
