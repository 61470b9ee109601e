// Servers that survive reloads: one Server per listener + address + port, with its health state, admin
// state and counters. A reload plans the servers of the new spec (reusing the ones that stay), and the
// commit retires the ones that are gone; a removed server is kept until its flows are over.
import { UserError } from '../errors.js';
import type { AdminState } from '../health/types.js';
import type { Logger } from '../log.js';
import { Server, serverKey, type ServerEvents } from '../lb/server.js';
import type { Listener, Spec } from '../spec/types.js';

/** The servers a spec would have, before anything changes. */
export interface RegistryPlan {
  readonly spec: Spec;
  /** Servers per listener, in the spec's order. */
  readonly listeners: ReadonlyArray<{ listener: Listener; servers: readonly Server[] }>;
  readonly created: readonly Server[];
  /** Servers a reload removed and this one brings back while they still drain: the same object again. */
  readonly revived: readonly Server[];
  readonly servers: ReadonlyMap<string, Server>;
}

/** What the registry asks of its owner: when a server's flows must go. */
export interface RegistryEvents extends ServerEvents {
  /** A drain or a removal reached its deadline: close the server's established flows now. */
  onDeadline(server: Server): void;
}

export class ServerRegistry {
  readonly #events: RegistryEvents;
  readonly #logger: Logger;
  #servers = new Map<string, Server>();
  /** The current servers of each listener, in the spec's order. */
  #byListener = new Map<string, readonly Server[]>();
  /** Servers a reload removed, kept while they still carry flows. */
  readonly #removed = new Set<Server>();

  constructor(events: RegistryEvents, logger: Logger) {
    this.#events = events;
    this.#logger = logger;
  }

  /** The current servers of a listener in the spec's order, then its removed servers still draining. */
  serversOf(listener: string): Server[] {
    const removed = [...this.#removed].filter((s) => s.listener === listener);
    return [...(this.#byListener.get(listener) ?? []), ...removed];
  }

  /** The servers for `spec`: existing ones by key, new ones created (not started). Changes nothing. */
  plan(spec: Spec): RegistryPlan {
    const servers = new Map<string, Server>();
    const created: Server[] = [];
    const revived: Server[] = [];
    const draining = new Map([...this.#removed].map((s) => [s.key, s]));
    const listeners = spec.listeners.map((listener) => ({
      listener,
      servers: listener.servers.map((target) => {
        const key = serverKey(listener.name, target);
        let server = this.#servers.get(key);
        if (!server && draining.has(key)) {
          server = draining.get(key)!;
          revived.push(server);
        }
        if (!server) {
          server = new Server(listener.name, target, listener.healthCheck, this.#events, this.#logger);
          created.push(server);
        }
        servers.set(key, server);
        return server;
      }),
    }));
    return { spec, listeners, created, revived, servers };
  }

  /** Servers (listener/name) the registry has and `spec` would not. */
  removal(spec: Spec): { removed: string[]; total: number } {
    const next = new Set(spec.listeners.flatMap((l) => l.servers.map((t) => serverKey(l.name, t))));
    const removed = [...this.#servers.values()].filter((s) => !next.has(s.key)).map((s) => `${s.listener}/${s.name}`);
    return { removed, total: this.#servers.size };
  }

  /** Makes `plan` current: new weights and checks, servers gone retired, new servers started. */
  commit(plan: RegistryPlan, flowsOf: (server: Server) => number): void {
    for (const { listener, servers } of plan.listeners) {
      listener.servers.forEach((target, index) => {
        const server = servers[index];
        server.weight = target.weight;
        if (!plan.created.includes(server)) server.setCheck(listener.healthCheck);
      });
    }
    for (const [key, server] of this.#servers) {
      if (!plan.servers.has(key)) this.#retire(server, plan.spec.deregistrationDelayMs, flowsOf(server));
    }
    this.#servers = new Map(plan.servers);
    this.#byListener = new Map(plan.listeners.map(({ listener, servers }) => [listener.name, servers]));
    for (const server of plan.revived) {
      // Back in the spec before its drain ended: it keeps its flows, counters and state.
      this.#removed.delete(server);
      server.removed = false;
      server.cancelDrain();
      server.start();
    }
    for (const server of plan.created) server.start();
  }

  /** Sets the admin state of every server named `target.server` (on one listener, or all). */
  setAdminState(target: { server: string; listener?: string }, state: AdminState, delayMs: number): Server[] {
    const matched: Server[] = [];
    for (const server of this.#servers.values()) {
      if (server.name !== target.server || (target.listener !== undefined && server.listener !== target.listener)) continue;
      const previous = server.adminState;
      server.adminState = state;
      if (state === 'ready') server.cancelDrain();
      else server.drainFor(delayMs, () => this.#events.onDeadline(server));
      matched.push(server);
      if (previous !== state) {
        this.#logger.info(
          { event: 'admin-state', listener: server.listener, server: server.name, from: previous, to: state },
          `${server.name} ${server.listener} admin state ${previous} → ${state}${state === 'ready' ? '' : ` (established connections closed in ${delayMs / 1000}s)`}`,
        );
      }
    }
    if (matched.length === 0) {
      const where = target.listener ? ` on listener ${target.listener}` : '';
      throw new UserError('ADMIN_NOT_FOUND', `no server named ${target.server}${where}`, { hint: `known servers: ${[...new Set([...this.#servers.values()].map((s) => s.name))].join(', ')}` });
    }
    return matched;
  }

  /** Forgets removed servers whose flows are over. */
  prune(flowsOf: (server: Server) => number): void {
    for (const server of this.#removed) if (flowsOf(server) === 0) this.#removed.delete(server);
  }

  /** Stops every check and timer (flows are the data plane's business). */
  stop(): void {
    for (const server of [...this.#servers.values(), ...this.#removed]) server.stop();
  }

  /** A server removed from the spec: no new flows, its flows closed at the delay. */
  #retire(server: Server, delayMs: number, flows: number): void {
    server.removed = true;
    server.stop();
    if (flows === 0) return;
    this.#removed.add(server);
    this.#logger.info({ event: 'server-removed', listener: server.listener, server: server.name, connections: flows }, `${server.name} ${server.listener} removed from the spec: ${flows} connection(s) drain for up to ${delayMs / 1000}s`);
    server.drainFor(delayMs, () => this.#events.onDeadline(server));
  }
}
