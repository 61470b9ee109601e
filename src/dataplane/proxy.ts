// The proxy data plane: serve accepts every client connection and opens one to a server (src/lb/). It
// reads each server's eligibility at the moment it picks one, so membership changes need no push.
// Listeners keep their bound socket across a reload (same bind and port), so a reload refuses nothing.
import { UserError } from '../errors.js';
import type { ExhaustionSink } from '../local-errors.js';
import type { Logger } from '../log.js';
import { Backend, type ListenerCounters } from '../lb/backend.js';
import { Frontend } from '../lb/frontend.js';
import type { Server } from '../lb/server.js';
import { tcpEngine } from '../lb/tcp/index.js';
import type { Spec } from '../spec/types.js';
import type { DataPlane, DataPlaneListener } from './types.js';

export class ProxyDataPlane implements DataPlane {
  readonly mode = 'proxy' as const;
  readonly description = `proxy, ${tcpEngine().name} engine`;
  readonly #logger: Logger;
  readonly #exhaustion: ExhaustionSink;
  /** Frontends by listener name. */
  #frontends = new Map<string, Frontend>();
  /** Frontends a reload removed: no longer accepting, connections draining. */
  readonly #retired = new Set<Frontend>();

  constructor(logger: Logger, exhaustion: ExhaustionSink) {
    this.#logger = logger;
    this.#exhaustion = exhaustion;
  }

  async apply(spec: Spec, listeners: readonly DataPlaneListener[]): Promise<void> {
    const backends = listeners.map(({ listener, servers }) => new Backend(listener, spec.balancer, servers));
    // Bind new listeners first: if one cannot bind, undo and keep the old runtime.
    const frontends = new Map<string, Frontend>();
    const bound: Frontend[] = [];
    try {
      for (const backend of backends) {
        const existing = this.#frontends.get(backend.name);
        if (existing && existing.port === backend.listener.port && existing.bind === spec.balancer.bind) {
          frontends.set(backend.name, existing);
          continue;
        }
        const frontend = new Frontend(spec.balancer.bind, backend.listener.port, backend, spec.balancer.maxConnections, this.#logger, this.#exhaustion);
        // A port moving between listeners: release the old socket first.
        const holder = [...this.#frontends.values()].find((f) => f.port === frontend.port && f.bind === frontend.bind && !frontends.has(f.backend.name));
        if (holder) throw new UserError('LISTEN', `port ${frontend.port} moves from listener ${holder.backend.name} to ${backend.name}; restart serve for this change`);
        await frontend.listen();
        bound.push(frontend);
        frontends.set(backend.name, frontend);
      }
    } catch (error) {
      for (const frontend of bound) frontend.stopAccepting();
      throw error;
    }
    // Commit: swap backends, retire what is gone.
    const byName = new Map(backends.map((b) => [b.name, b]));
    for (const [name, frontend] of frontends) frontend.backend = byName.get(name)!;
    for (const [name, frontend] of this.#frontends) {
      if (frontends.get(name) === frontend) continue;
      this.#retired.add(frontend);
      frontend.stopAccepting();
      this.#logger.info({ event: 'listener-removed', listener: name }, `listener ${name} removed: no new connections; established ones drain`);
    }
    this.#frontends = frontends;
    this.#prune();
  }

  membershipChanged(): void {
    // Nothing to push: Backend.pick reads Server.eligible for every new connection.
  }

  async closeFlows(server: Server, reason: string): Promise<number> {
    return server.closeConnections(reason);
  }

  flowsOf(server: Server): number {
    return server.connections.size;
  }

  counters(listener: string): ListenerCounters | undefined {
    this.#prune();
    return this.#frontends.get(listener)?.counters;
  }

  async activeFlows(): Promise<number> {
    let total = 0;
    for (const frontend of this.#all()) total += frontend.connections.size;
    return total;
  }

  async stopAccepting(): Promise<void> {
    for (const frontend of this.#all()) frontend.stopAccepting();
  }

  async close(): Promise<void> {
    for (const frontend of this.#all()) frontend.destroyConnections('shutting down');
  }

  async destroy(): Promise<void> {
    await this.stopAccepting();
    await this.close();
  }

  #all(): Frontend[] {
    return [...this.#frontends.values(), ...this.#retired];
  }

  /** Forgets retired listeners once their last connection is gone. */
  #prune(): void {
    for (const frontend of this.#retired) if (frontend.connections.size === 0) this.#retired.delete(frontend);
  }
}
