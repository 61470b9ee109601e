import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { joinHostPort } from '../spec/address.js';
import type { Backend, ListenerCounters } from './backend.js';
import { adoptAccepted } from './adopt.js';
import { ProxyConnection } from './proxy.js';
import { ReadBuffer } from './read-buffer.js';

/**
 * A listening socket and the backend it feeds. The backend can be swapped on reload while the socket
 * stays bound, so a reload never refuses a connection.
 */
export class Frontend {
  readonly bind: string;
  readonly port: number;
  backend: Backend;
  readonly counters: ListenerCounters = { activeConnections: 0, totalConnections: 0, failedConnections: 0, bytesIn: 0, bytesOut: 0 };
  readonly connections = new Set<ProxyConnection>();
  readonly #server: NetServer;
  readonly #logger: Logger;
  readonly #maxConnections: number;
  #closed = false;

  constructor(bind: string, port: number, backend: Backend, maxConnections: number, logger: Logger) {
    this.bind = bind;
    this.port = port;
    this.backend = backend;
    this.#logger = logger;
    // pauseOnConnect: nothing is read before the socket gets its read buffer (adopt.ts).
    this.#server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.#accept(socket));
    this.#maxConnections = maxConnections;
    this.#server.on('error', (error) => logger.error({ event: 'listener-error', listener: backend.name, error: error.message }, `${backend.name}: ${error.message}`));
  }

  get key(): string {
    return joinHostPort(this.bind, this.port);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        reject(new UserError('LISTEN', `listener ${this.backend.name} cannot bind ${this.key}: ${error.code ?? error.message}`, {
          hint: error.code === 'EACCES' ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE' : error.code === 'EADDRINUSE' ? 'another process uses this port; stop it or change listeners[].port' : error.code === 'EADDRNOTAVAIL' ? 'balancer.bind is not an address of this host' : undefined,
        }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host: this.bind, port: this.port, backlog: 4096 }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
  }

  /**
   * Stops accepting; established connections go on. Idempotent. (net.Server.close's callback waits for
   * every connection to end, so it is not awaited here: draining is the caller's business.)
   */
  stopAccepting(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
  }

  /** Closes every established connection now. */
  destroyConnections(reason: string): void {
    for (const connection of [...this.connections]) connection.destroy(reason);
  }

  #accept(accepted: Socket): void {
    if (this.connections.size >= this.#maxConnections) {
      this.counters.failedConnections++;
      accepted.destroy();
      return;
    }
    let connection: ProxyConnection | undefined;
    const reader = new ReadBuffer((chunk) => connection?.onDownstreamRead(chunk) ?? 0);
    const adopted = adoptAccepted(accepted, reader);
    const downstream = adopted ?? accepted;
    // No TCP keepalive (HAProxy's default too): the idle timeout ends connections of vanished clients,
    // and two setsockopt calls per connection are a measurable share of a new connection's cost.
    downstream.setNoDelay(true);
    connection = new ProxyConnection(downstream, adopted === undefined, this.backend, this.counters, this.#logger, (c) => this.connections.delete(c));
    // A connection with no server at all is already closed here.
    if (!connection.closed) this.connections.add(connection);
    downstream.resume();
  }
}
