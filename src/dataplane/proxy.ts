// The proxy data plane: serve accepts every client connection and opens one to a server (src/lb/). It
// reads who is in rotation at the moment it picks a server, so membership changes need no push.
// Listeners keep their bound socket across a reload (same bind and port), so a reload refuses nothing.
// Per member it keeps a Server (lb/server.ts: connections, counters, ejections) as long as the Member lives.
import { UserError } from '../errors.js';
import type { ExhaustionSink } from '../local-errors.js';
import type { Logger } from '../log.js';
import { Backend, type ListenerCounters } from '../lb/backend.js';
import { Frontend } from '../lb/frontend.js';
import { Server } from '../lb/server.js';
import { tcpEngine } from '../lb/tcp/index.js';
import type { Member } from '../membership/member.js';
import type { Spec } from '../spec/types.js';
import type { DataPlane, DataPlaneListener, MemberCounters } from './types.js';

const NO_COUNTERS: MemberCounters = { activeConnections: 0, totalConnections: 0, connectFailures: 0, redispatches: 0, bytesIn: 0, bytesOut: 0, firstByteTimeouts: 0 };

export class ProxyDataPlane implements DataPlane {
  readonly mode = 'proxy' as const;
  readonly description = `proxy, ${tcpEngine().name} engine`;
  readonly #logger: Logger;
  readonly #exhaustion: ExhaustionSink;
  /** Frontends by listener name. */
  #frontends = new Map<string, Frontend>();
  /** Frontends a reload removed: no longer accepting, connections draining. */
  readonly #retired = new Set<Frontend>();
  /** The proxy's state of each member, gone with the Member (a removed member is dropped once drained). */
  readonly #servers = new WeakMap<Member, Server>();

  constructor(logger: Logger, exhaustion: ExhaustionSink) {
    this.#logger = logger;
    this.#exhaustion = exhaustion;
  }

  async apply(spec: Spec, listeners: readonly DataPlaneListener[]): Promise<void> {
    const backends = listeners.map(({ listener, members }) => new Backend(listener, spec.balancer, members.map((m) => this.#serverOf(m))));
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
    // Nothing to push: Backend.pick reads who is in rotation for every new connection.
  }

  async closeFlows(member: Member, reason: string): Promise<number> {
    return this.#servers.get(member)?.closeConnections(reason) ?? 0;
  }

  flowsOf(member: Member): number {
    return this.#servers.get(member)?.connections.size ?? 0;
  }

  memberCounters(member: Member): MemberCounters {
    return this.#servers.get(member)?.counters() ?? { ...NO_COUNTERS };
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

  #serverOf(member: Member): Server {
    let server = this.#servers.get(member);
    if (!server) {
      server = new Server(member);
      this.#servers.set(member, server);
    }
    return server;
  }

  #all(): Frontend[] {
    return [...this.#frontends.values(), ...this.#retired];
  }

  /** Forgets retired listeners once their last connection is gone. */
  #prune(): void {
    for (const frontend of this.#retired) if (frontend.connections.size === 0) this.#retired.delete(frontend);
  }
}
