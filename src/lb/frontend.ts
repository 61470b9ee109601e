import { createServer, type Server as NetServer } from 'node:net';
import { UserError } from '../errors.js';
import { IGNORE_EXHAUSTION, localExhaustion, type ExhaustionSink } from '../local-errors.js';
import type { Logger } from '../log.js';
import { joinHostPort } from '../spec/address.js';
import type { Backend, ListenerCounters } from './backend.js';
import { ProxyConnection } from './proxy.js';
import { tcpEngine, type TcpEngine, type TcpStream } from './tcp/index.js';

/** How often idle connections are looked for: a tenth of the idle timeout, between 100 ms and 1 s. */
export function idleSweepMs(idleTimeoutMs: number): number {
  return Math.min(1000, Math.max(100, Math.floor(idleTimeoutMs / 10)));
}

/**
 * A listening socket and the backend it feeds. The backend can be swapped on reload while the socket
 * stays bound, so a reload never refuses a connection.
 */
export class Frontend {
  readonly bind: string;
  readonly port: number;
  backend: Backend;
  readonly counters: ListenerCounters = { activeConnections: 0, totalConnections: 0, failedConnections: 0, localErrors: 0, bytesIn: 0, bytesOut: 0 };
  readonly connections = new Set<ProxyConnection>();
  readonly #server: NetServer;
  readonly #logger: Logger;
  readonly #maxConnections: number;
  readonly #engine: TcpEngine;
  #idleSweep: NodeJS.Timeout | undefined;
  #closed = false;

  readonly #exhaustion: ExhaustionSink;

  constructor(bind: string, port: number, backend: Backend, maxConnections: number, logger: Logger, exhaustion: ExhaustionSink = IGNORE_EXHAUSTION) {
    this.bind = bind;
    this.port = port;
    this.backend = backend;
    this.#logger = logger;
    this.#exhaustion = exhaustion;
    this.#engine = tcpEngine();
    // pauseOnConnect: nothing is read before the proxy starts the stream.
    this.#server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    this.#maxConnections = maxConnections;
    this.#server.on('error', (error) => this.#logAcceptError(error.message));
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
        this.#engine.accept(this.#server, (stream) => this.#accept(stream), (code) => this.#logAcceptError(`accept ${code}`));
        this.#scheduleIdleSweep();
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
    this.#scheduleIdleSweep();
  }

  /** Closes every established connection now. */
  destroyConnections(reason: string): void {
    for (const connection of [...this.connections]) connection.destroy(reason);
    if (this.#closed && this.#idleSweep) {
      clearTimeout(this.#idleSweep);
      this.#idleSweep = undefined;
    }
  }

  #accept(downstream: TcpStream): void {
    if (this.connections.size >= this.#maxConnections) {
      this.counters.failedConnections++;
      // Summarised per listener by log.ts (REPEATED): a full listener does not flood the log.
      this.#logger.warn(
        { event: 'connection-limit', listener: this.backend.name, client: downstream.remoteAddress, maxConnections: this.#maxConnections },
        `${this.backend.name}: ${this.#maxConnections} connections open (balancer.maxConnections): connection from ${downstream.remoteAddress} refused`,
      );
      downstream.destroy();
      return;
    }
    const connection = new ProxyConnection(downstream, this.#engine, this.backend, this.counters, this.#logger, (c) => this.connections.delete(c), this.#exhaustion);
    // A connection with no server at all is already closed here.
    if (!connection.closed) this.connections.add(connection);
  }

  /**
   * One timer per frontend rather than one per connection: every sweep closes connections idle past
   * the current backend's idle timeout. It runs while connections remain, also after stopAccepting.
   */
  #scheduleIdleSweep(): void {
    if (this.#idleSweep || (this.#closed && this.connections.size === 0)) return;
    const timeoutMs = this.backend.settings.idleTimeoutMs;
    this.#idleSweep = setTimeout(() => {
      this.#idleSweep = undefined;
      const now = Date.now();
      for (const connection of this.connections) connection.checkIdle(now, this.backend.settings.idleTimeoutMs);
      this.#scheduleIdleSweep();
    }, idleSweepMs(timeoutMs));
    this.#idleSweep.unref();
  }

  #logAcceptError(message: string): void {
    const local = localExhaustion(message);
    if (local) {
      this.counters.localErrors++;
      this.#exhaustion.report(local, `${this.backend.name}: accept`);
      return;
    }
    this.#logger.error({ event: 'listener-error', listener: this.backend.name, error: message }, `${this.backend.name}: ${message}`);
  }
}
