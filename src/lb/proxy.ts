// One downstream (client) connection and the upstream (server) connection it is proxied to.
//
// Until the upstream has sent its first byte, everything the client sent is kept (up to
// replayBufferSize). If the upstream connect fails, times out, or the upstream closes before answering,
// the same bytes are replayed to another server: the client never sees the failure. A server cannot
// have acted on a TLS client's data before answering its handshake, so this is safe for the
// Kubernetes and Talos APIs. After the first upstream byte the two streams are spliced.
//
// A server that has the client's bytes and sends nothing back within firstByteTimeout is treated the same
// way, while a retry is left and another server can take the connection: a frozen process whose kernel
// still accepts is found by the traffic itself, and ejected (outlier.ts). The clock starts when the client
// has sent something, never at connect: a server that speaks first (a greeting) waits for nobody.
import { localExhaustion, type ExhaustionSink } from '../local-errors.js';
import type { Logger } from '../log.js';
import { formatDuration } from '../spec/duration.js';
import type { Backend, ListenerCounters } from './backend.js';
import { answered, eject } from './outlier.js';
import type { Closable, Server } from './server.js';
import type { StreamHandler, TcpEngine, TcpStream } from './tcp/index.js';

type Phase = 'connecting' | 'awaiting' | 'streaming' | 'closed';

/** Reasons that are the normal end of a connection: not logged. */
const ORDINARY_CLOSE = 'both sides closed';


export class ProxyConnection implements Closable {
  readonly #downstream: TcpStream;
  readonly #engine: TcpEngine;
  readonly #backend: Backend;
  readonly #counters: ListenerCounters;
  readonly #logger: Logger;
  readonly #onClose: (connection: ProxyConnection) => void;
  readonly #exhaustion: ExhaustionSink;

  #phase: Phase = 'connecting';
  #upstream: TcpStream | undefined;
  #server: Server | undefined;
  #tried: Set<Server> | undefined;
  #attempts = 0;
  /** Client bytes received before the upstream answered: replayed on a retry. */
  #prelude: Buffer[] = [];
  #preludeBytes = 0;
  #replayable: boolean;
  /** FIN received from each side, and our FIN sent to each side (after its queued writes). */
  #downstreamEnded = false;
  #upstreamEnded = false;
  #downstreamFinished = false;
  #upstreamFinished = false;
  #connectStartedAt = 0;
  #connectTimer: NodeJS.Timeout | undefined;
  /** Epoch ms by which the upstream must send its first byte (0: no deadline); checked by the sweep. */
  #firstByteDue = 0;
  /** Set by traffic, cleared by the idle sweep (checkIdle): no clock read per chunk. */
  #active = true;
  #idleSince = 0; // first set by the sweep: #active starts true

  constructor(downstream: TcpStream, engine: TcpEngine, backend: Backend, counters: ListenerCounters, logger: Logger, onClose: (connection: ProxyConnection) => void, exhaustion: ExhaustionSink) {
    this.#downstream = downstream;
    this.#engine = engine;
    this.#backend = backend;
    this.#counters = counters;
    this.#logger = logger;
    this.#onClose = onClose;
    this.#exhaustion = exhaustion;
    this.#replayable = backend.settings.replay;
    counters.activeConnections++;
    counters.totalConnections++;
    downstream.start(this.#downstreamHandler());
    this.#connectNext();
  }

  get clientAddress(): string {
    return this.#downstream.remoteAddress;
  }

  get closed(): boolean {
    return this.#phase === 'closed';
  }

  get server(): Server | undefined {
    return this.#server;
  }

  /** Its server is taken out: before the server answered, move to another (nothing is lost); after, close. */
  evict(reason: string): void {
    if (this.#upstream && (this.#phase === 'connecting' || (this.#phase === 'awaiting' && this.#replayable))) {
      this.#upstreamFailed(this.#upstream, reason, this.#phase === 'connecting', false);
      return;
    }
    this.destroy(reason);
  }

  /** Closes both sides now. Idempotent. */
  destroy(reason: string): void {
    if (this.#phase === 'closed') return;
    const logged = reason !== ORDINARY_CLOSE && this.#logger.isLevelEnabled('debug');
    const client = logged ? this.clientAddress : ''; // while the socket is still open
    this.#phase = 'closed';
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#prelude = [];
    this.#detachServer();
    this.#upstream?.destroy();
    this.#downstream.destroy();
    this.#counters.activeConnections--;
    this.#onClose(this);
    if (logged) this.#logger.debug({ event: 'connection-closed', listener: this.#backend.name, client, reason }, `connection from ${client} closed: ${reason}`);
  }

  /**
   * Called by the frontend's idle sweep: closes the connection when no byte moved either way for
   * `timeoutMs`. Traffic since the last sweep restarts the count from `now`.
   */
  checkIdle(now: number, timeoutMs: number): void {
    if (this.#firstByteDue !== 0 && now >= this.#firstByteDue) this.#firstByteOverdue(now);
    if (this.#active) {
      this.#active = false;
      this.#idleSince = now;
    } else if (now - this.#idleSince >= timeoutMs) {
      this.destroy('idle timeout');
    }
  }

  #downstreamHandler(): StreamHandler {
    return {
      onData: (chunk) => this.#onDownstreamData(chunk),
      onEnd: () => this.#onDownstreamEnd(),
      onFinish: () => {
        this.#downstreamFinished = true;
        this.#closeIfDone();
      },
      onDrain: () => {
        if (this.#phase !== 'closed') this.#upstream?.resume();
      },
      onError: (code) => this.destroy(`downstream ${code}`),
    };
  }

  #onDownstreamData(chunk: Buffer): void {
    if (this.#phase === 'closed') return;
    this.#active = true;
    this.#counters.bytesIn += chunk.length;
    if (this.#server) this.#server.bytesIn += chunk.length;
    if (this.#phase === 'streaming') {
      if (!this.#upstream!.write(chunk)) this.#downstream.pause();
      return;
    }
    if (this.#replayable || this.#phase === 'connecting') {
      // Kept past this call: a copy (stream.ts: the chunk's memory may be reused).
      chunk = Buffer.from(chunk);
      this.#prelude.push(chunk);
      this.#preludeBytes += chunk.length;
      if (this.#preludeBytes > this.#backend.settings.replayBufferSize) this.#replayable = false;
    }
    if (this.#phase === 'awaiting') {
      if (!this.#replayable) {
        this.#prelude = [];
        this.#firstByteDue = 0; // past the replay buffer: this server is the only one that can answer
      } else if (this.#firstByteDue === 0) {
        this.#armFirstByte();
      }
      if (!this.#upstream!.write(chunk)) this.#downstream.pause();
      return;
    }
    // Connecting without replay: keep what must still be delivered, but read no more until connected.
    if (!this.#replayable) this.#downstream.pause();
  }

  #onDownstreamEnd(): void {
    this.#downstreamEnded = true;
    if (this.#phase === 'streaming' || this.#phase === 'awaiting') this.#upstream!.end();
    this.#closeIfDone();
  }

  /** Connects to `preselected`, or to the server the backend picks among those not tried yet. */
  #connectNext(preselected?: Server): void {
    if (this.#phase === 'closed') return;
    const server = preselected ?? this.#backend.pick(this, this.#tried);
    if (!server || this.#attempts > this.#backend.settings.retries) {
      this.#counters.failedConnections++;
      const client = this.clientAddress;
      // Summarised per listener by log.ts (REPEATED): an outage is a few lines, not one per client.
      this.#logger.warn(
        { event: 'no-server', listener: this.#backend.name, client, attempts: this.#attempts },
        `${this.#backend.name}: no server for ${client} after ${this.#attempts} attempt(s)`,
      );
      this.destroy('no server available');
      return;
    }
    this.#attempts++;
    (this.#tried ??= new Set()).add(server);
    this.#attachServer(server);
    this.#phase = 'connecting';
    this.#connectStartedAt = Date.now();
    // No TCP keepalive upstream: health checks find a dead server, and its connections are closed then.
    const upstream: TcpStream = this.#engine.connect(server.address, server.port, (error) => {
      if (error === undefined) this.#onUpstreamConnect(upstream);
      else this.#upstreamFailed(upstream, `connect ${error}`, true);
    });
    this.#upstream = upstream;
    this.#connectTimer = setTimeout(() => this.#upstreamFailed(upstream, `connect timeout after ${this.#backend.settings.connectTimeoutMs}ms`, true), this.#backend.settings.connectTimeoutMs);
  }

  #onUpstreamConnect(upstream: TcpStream): void {
    if (upstream !== this.#upstream || this.#phase !== 'connecting') return;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#phase = 'awaiting';
    upstream.start(this.#upstreamHandler(upstream));
    let flushed = true;
    for (const chunk of this.#prelude) flushed = upstream.write(chunk);
    if (!this.#replayable) this.#prelude = [];
    else if (this.#preludeBytes > 0) this.#armFirstByte();
    if (this.#downstreamEnded) upstream.end();
    else if (flushed) this.#downstream.resume();
  }

  #upstreamHandler(upstream: TcpStream): StreamHandler {
    const current = () => upstream === this.#upstream && this.#phase !== 'closed';
    return {
      onData: (chunk) => {
        if (current()) this.#onUpstreamData(chunk);
      },
      onEnd: () => {
        if (current()) this.#onUpstreamEnd(upstream);
      },
      onFinish: () => {
        if (!current()) return;
        this.#upstreamFinished = true;
        this.#closeIfDone();
      },
      onDrain: () => {
        if (current()) this.#downstream.resume();
      },
      onError: (code) => this.#upstreamFailed(upstream, code, false),
    };
  }

  #onUpstreamData(chunk: Buffer): void {
    this.#active = true;
    if (this.#phase !== 'streaming') {
      this.#phase = 'streaming';
      this.#prelude = [];
      this.#preludeBytes = 0;
      this.#firstByteDue = 0;
      answered(this.#server!);
    }
    this.#counters.bytesOut += chunk.length;
    this.#server!.bytesOut += chunk.length;
    if (!this.#downstream.write(chunk)) this.#upstream!.pause();
  }

  #onUpstreamEnd(upstream: TcpStream): void {
    if (this.#phase === 'awaiting' && !this.#downstreamEnded) {
      // The server closed before answering while the client waits: replay elsewhere. A graceful close
      // can also be a server's own idle timeout, so it does not count against the server; resets do.
      this.#upstreamFailed(upstream, 'closed before answering', false, false);
      return;
    }
    // Streaming, or the client closed first and the server closed in turn: an ordinary close (a port
    // scan, an upstream LB's TCP check), not a failure of the server.
    this.#phase = 'streaming';
    this.#upstreamEnded = true;
    this.#downstream.end();
    this.#closeIfDone();
  }

  /** Both sides sent FIN and received ours after everything queued for them: the connection is done. */
  #closeIfDone(): void {
    if (this.#downstreamEnded && this.#upstreamEnded && this.#downstreamFinished && this.#upstreamFinished) this.destroy(ORDINARY_CLOSE);
  }

  /**
   * The upstream has the client's bytes and no retry is pending: from now it has firstByteTimeout to answer.
   * Only while a retry is left: the last server tried may take as long as it needs.
   */
  #armFirstByte(): void {
    const { firstByteTimeoutMs, retries } = this.#backend.settings;
    if (firstByteTimeoutMs > 0 && this.#replayable && this.#attempts <= retries) this.#firstByteDue = Date.now() + firstByteTimeoutMs;
  }

  /** The upstream kept the client's bytes past firstByteTimeout without a word: replay them elsewhere. */
  #firstByteOverdue(now: number): void {
    this.#firstByteDue = 0;
    if (this.#phase !== 'awaiting' || !this.#replayable) return;
    // Nowhere else to go: waiting for this server is the client's best chance, and proves nothing against it.
    const next = this.#backend.pick(this, this.#tried);
    if (!next) return;
    const server = this.#server!;
    const waited = formatDuration(this.#backend.settings.firstByteTimeoutMs);
    server.firstByteTimeouts++;
    const ejectedMs = eject(server, now);
    if (ejectedMs > 0) {
      this.#logger.warn(
        { event: 'server-ejected', listener: this.#backend.name, server: server.name, reason: `no answer within ${waited}`, ejectedMs },
        `${server.name} ${this.#backend.name}: sent nothing back within ${waited} of the client's first bytes (frozen?); new connections avoid it for ${formatDuration(ejectedMs)}, this one is replayed elsewhere`,
      );
    }
    this.#upstreamFailed(this.#upstream!, `silent for ${waited}`, false, true, next);
  }

  /** A connect failed, or the upstream went away before its first byte: retry on another server if we may. */
  #upstreamFailed(upstream: TcpStream, reason: string, duringConnect: boolean, countAgainstServer = true, next?: Server): void {
    if (upstream !== this.#upstream || this.#phase === 'closed') return;
    this.#firstByteDue = 0;
    if (this.#phase === 'streaming') {
      this.destroy(`upstream ${reason}`);
      return;
    }
    const local = localExhaustion(reason);
    if (local) {
      // Out of descriptors or buffers here: another server would fail the same way, and this one did
      // nothing wrong. The client's connection fails; the server's health and counters stay.
      this.#counters.failedConnections++;
      this.#counters.localErrors++;
      this.#exhaustion.report(local, `${this.#backend.name}: connect to ${this.#server?.name ?? 'a server'}`);
      this.destroy(`local ${local}`);
      return;
    }
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    const server = this.#server!;
    upstream.destroy();
    this.#upstream = undefined;
    this.#upstreamFinished = false;
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
    this.#connectNext(next);
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
