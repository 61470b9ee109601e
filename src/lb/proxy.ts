// One downstream (client) connection and the upstream (server) connection it is proxied to.
//
// Until the upstream has sent its first byte, everything the client sent is kept (up to
// replayBufferSize). If the upstream connect fails, times out, or the upstream closes before answering,
// the same bytes are replayed to another server: the client never sees the failure. A server cannot
// have acted on a TLS client's data before answering its handshake, so this is safe for the
// Kubernetes and Talos APIs. After the first upstream byte the two sockets are spliced.
import { connect, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Backend, ListenerCounters } from './backend.js';
import { READ_PAUSE, READ_RETAINED, ReadBuffer } from './read-buffer.js';
import type { Closable, Server } from './server.js';

type Phase = 'connecting' | 'awaiting' | 'streaming' | 'closed';

export class ProxyConnection implements Closable {
  readonly #downstream: Socket;
  readonly #backend: Backend;
  readonly #counters: ListenerCounters;
  readonly #logger: Logger;
  readonly #onClose: (connection: ProxyConnection) => void;

  #phase: Phase = 'connecting';
  #upstream: Socket | undefined;
  #server: Server | undefined;
  #tried: Set<Server> | undefined;
  #attempts = 0;
  /** Client bytes received before the upstream answered: replayed on a retry. */
  #prelude: Buffer[] = [];
  #preludeBytes = 0;
  #replayable: boolean;
  #downstreamEnded = false;
  #connectStartedAt = 0;
  #connectTimer: NodeJS.Timeout | undefined;

  /**
   * `downstream` either reads through a ReadBuffer whose handler calls onDownstreamRead (see
   * frontend.ts), or, when `dataEvents` is true, emits 'data' as a plain socket does.
   */
  constructor(downstream: Socket, dataEvents: boolean, backend: Backend, counters: ListenerCounters, logger: Logger, onClose: (connection: ProxyConnection) => void) {
    this.#downstream = downstream;
    this.#backend = backend;
    this.#counters = counters;
    this.#logger = logger;
    this.#onClose = onClose;
    this.#replayable = backend.settings.replay;
    counters.activeConnections++;
    counters.totalConnections++;

    downstream.setTimeout(backend.settings.idleTimeoutMs);
    downstream.on('timeout', () => this.destroy('idle timeout'));
    if (dataEvents) {
      downstream.on('data', (chunk: Buffer) => {
        if ((this.onDownstreamRead(chunk) & READ_PAUSE) !== 0) downstream.pause();
      });
    }
    downstream.on('end', () => this.#onDownstreamEnd());
    downstream.on('error', () => this.destroy('downstream error'));
    downstream.on('close', () => this.destroy('downstream closed'));
    this.#connectNext();
  }

  /** Asked only when needed (source balancing, logs): it costs a getpeername call. */
  get clientAddress(): string {
    return this.#downstream.remoteAddress ?? '';
  }

  get closed(): boolean {
    return this.#phase === 'closed';
  }

  get server(): Server | undefined {
    return this.#server;
  }

  /** Closes both sides now. Idempotent. */
  destroy(reason: string): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#prelude = [];
    this.#detachServer();
    this.#upstream?.destroy();
    this.#downstream.destroy();
    this.#counters.activeConnections--;
    this.#onClose(this);
    if (reason !== 'downstream closed' && reason !== 'upstream closed' && this.#logger.isLevelEnabled('debug')) {
      this.#logger.debug({ event: 'connection-closed', listener: this.#backend.name, client: this.clientAddress, reason }, `connection from ${this.clientAddress} closed: ${reason}`);
    }
  }

  /** One chunk from the client; returns READ_PAUSE / READ_RETAINED flags (read-buffer.ts). */
  onDownstreamRead(chunk: Buffer): number {
    if (this.#phase === 'closed') return 0;
    this.#counters.bytesIn += chunk.length;
    if (this.#server) this.#server.bytesIn += chunk.length;
    if (this.#phase === 'streaming') return this.#forward(chunk, this.#upstream!, this.#downstream);
    let flags = 0;
    if (this.#replayable || this.#phase === 'connecting') {
      this.#prelude.push(chunk);
      this.#preludeBytes += chunk.length;
      flags = READ_RETAINED;
      if (this.#preludeBytes > this.#backend.settings.replayBufferSize) this.#replayable = false;
    }
    if (this.#phase === 'awaiting') {
      if (!this.#replayable) this.#prelude = [];
      return flags | this.#forward(chunk, this.#upstream!, this.#downstream);
    }
    // Connecting without replay: keep what must still be delivered, but read no more until connected.
    return this.#replayable ? flags : flags | READ_PAUSE;
  }

  /** Writes a chunk on; asks the reader to pause until the writer drains when the writer is full. */
  #forward(chunk: Buffer, writer: Socket, reader: Socket): number {
    const flushed = writer.write(chunk);
    // A write the kernel did not take at once still references the chunk.
    let flags = writer.writableLength > 0 ? READ_RETAINED : 0;
    if (!flushed) {
      flags |= READ_PAUSE;
      writer.once('drain', () => {
        if (this.#phase !== 'closed') reader.resume();
      });
    }
    return flags;
  }

  #onDownstreamEnd(): void {
    this.#downstreamEnded = true;
    if (this.#phase === 'streaming' || this.#phase === 'awaiting') this.#upstream!.end();
  }

  #connectNext(): void {
    if (this.#phase === 'closed') return;
    const server = this.#backend.pick(this, this.#tried);
    if (!server || this.#attempts > this.#backend.settings.retries) {
      this.#counters.failedConnections++;
      this.#logger.warn(
        { event: 'no-server', listener: this.#backend.name, client: this.clientAddress, attempts: this.#attempts },
        `${this.#backend.name}: no server for ${this.clientAddress} after ${this.#attempts} attempt(s)`,
      );
      this.destroy('no server available');
      return;
    }
    this.#attempts++;
    (this.#tried ??= new Set()).add(server);
    this.#attachServer(server);
    this.#phase = 'connecting';
    this.#connectStartedAt = Date.now();

    const upstream: Socket = connect({
      // No TCP keepalive upstream: health checks find a dead server, and its connections are closed then.
      host: server.address, port: server.port, allowHalfOpen: true, noDelay: true,
      onread: new ReadBuffer((chunk) => this.#onUpstreamData(upstream, chunk)).onread,
    });
    this.#upstream = upstream;
    this.#connectTimer = setTimeout(() => this.#upstreamFailed(upstream, `connect timeout after ${this.#backend.settings.connectTimeoutMs}ms`, true), this.#backend.settings.connectTimeoutMs);
    upstream.once('connect', () => this.#onUpstreamConnect(upstream));
    upstream.on('end', () => this.#onUpstreamEnd(upstream));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      const connecting = this.#phase === 'connecting';
      this.#upstreamFailed(upstream, `${connecting ? 'connect ' : ''}${error.code ?? error.message}`, connecting);
    });
    upstream.on('close', () => this.#onUpstreamClose(upstream));
  }

  #onUpstreamConnect(upstream: Socket): void {
    if (upstream !== this.#upstream || this.#phase !== 'connecting') return;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#phase = 'awaiting';
    for (const chunk of this.#prelude) upstream.write(chunk);
    if (!this.#replayable) this.#prelude = [];
    if (this.#downstreamEnded) upstream.end();
    else this.#downstream.resume();
  }

  /** One chunk from the server; returns READ_PAUSE / READ_RETAINED flags (read-buffer.ts). */
  #onUpstreamData(upstream: Socket, chunk: Buffer): number {
    if (upstream !== this.#upstream || this.#phase === 'closed') return 0;
    if (this.#phase !== 'streaming') {
      this.#phase = 'streaming';
      this.#prelude = [];
      this.#preludeBytes = 0;
    }
    this.#counters.bytesOut += chunk.length;
    this.#server!.bytesOut += chunk.length;
    return this.#forward(chunk, this.#downstream, upstream);
  }

  #onUpstreamEnd(upstream: Socket): void {
    if (upstream !== this.#upstream) return;
    if (this.#phase === 'awaiting') {
      if (this.#downstreamEnded) {
        // The client closed first and the server closed in turn: an ordinary close (a port scan, an
        // upstream LB's TCP check), not a failure of the server.
        this.#phase = 'streaming';
        this.#downstream.end();
        return;
      }
      // The server closed before answering while the client waits: replay elsewhere. A graceful close
      // can also be a server's own idle timeout, so it does not count against the server; resets do.
      this.#upstreamFailed(upstream, 'closed before answering', false, false);
      return;
    }
    this.#downstream.end();
  }

  #onUpstreamClose(upstream: Socket): void {
    if (upstream !== this.#upstream || this.#phase === 'closed') return;
    if (this.#phase === 'connecting' || this.#phase === 'awaiting') {
      this.#upstreamFailed(upstream, 'closed before answering', this.#phase === 'connecting');
      return;
    }
    // Streaming: the upstream is fully closed; finish the downstream side once its data is flushed.
    if (!this.#downstream.writableEnded) this.#downstream.end();
    if (this.#downstreamEnded || this.#downstream.destroyed) this.destroy('upstream closed');
  }

  /** A connect failed, or the upstream went away before its first byte: retry on another server if we may. */
  #upstreamFailed(upstream: Socket, reason: string, duringConnect: boolean, countAgainstServer = true): void {
    if (upstream !== this.#upstream || this.#phase === 'closed') return;
    if (this.#phase === 'streaming') {
      this.destroy(`upstream ${reason}`);
      return;
    }
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    const server = this.#server!;
    upstream.destroy();
    this.#upstream = undefined;
    this.#detachServer();
    if (countAgainstServer) server.observeFailure(duringConnect ? `proxy ${reason}` : `proxy ${reason} before answering`, Date.now() - this.#connectStartedAt);
    const canRetry = duringConnect || this.#replayable;
    // HAProxy counts a redispatch on the server that failed.
    if (canRetry) server.redispatches++;
    this.#logger.debug(
      { event: 'upstream-failed', listener: this.#backend.name, server: server.name, reason, retry: canRetry },
      `${server.name} ${this.#backend.name}: ${reason}${canRetry ? ', retrying on another server' : ''}`,
    );
    if (!canRetry) {
      this.destroy(`upstream ${reason}`);
      return;
    }
    this.#connectNext();
  }

  #attachServer(server: Server): void {
    this.#server = server;
    server.activeConnections++;
    server.totalConnections++;
    server.connections.add(this);
  }

  #detachServer(): void {
    const server = this.#server;
    if (!server) return;
    server.activeConnections--;
    server.connections.delete(this);
    this.#server = undefined;
  }
}
