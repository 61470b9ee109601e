// The proxy's view of one TCP connection, whichever engine carries it (handles.ts or sockets.ts).

/** What a stream reports to the one handler it is started with. */
export interface StreamHandler {
  /**
   * Bytes read. The chunk's memory may be reused by this stream's next read: keep a copy to hold on to
   * it. A handler that writes the chunk on and gets `false` pauses this stream until the write drains,
   * which keeps the memory untouched until the kernel has it.
   */
  onData(chunk: Buffer): void;
  /** The peer sent FIN: no more data comes. Reading stops; writing may go on. */
  onEnd(): void;
  /**
   * Our FIN went out after every queued write (the answer to end()) — or, when the peer had already sent its
   * FIN and nothing was queued, it goes out with destroy(), which the owner calls once both sides are done.
   */
  onFinish(): void;
  /** Every queued write reached the kernel. */
  onDrain(): void;
  /** Reading or writing failed (a reset, say). The stream is unusable; the handler destroys it. */
  onError(code: string): void;
}

export interface TcpStream {
  /** Starts reading and reporting to `handler`. Called once. */
  start(handler: StreamHandler): void;
  /** True when the kernel took all of it; false when it queued (onDrain follows). */
  write(chunk: Buffer): boolean;
  pause(): void;
  resume(): void;
  /** Half-closes: FIN after the queued writes. */
  end(): void;
  /** Closes now, dropping queued writes; no event follows. Idempotent. */
  destroy(): void;
  /** The peer's address. Asked only when needed: it costs a getpeername call. */
  readonly remoteAddress: string;
}

/** Reports the outcome of a connect once: undefined on success, else an error code. */
export type ConnectCallback = (error: string | undefined) => void;

/** A connect-only attempt in progress (see TcpEngine.probe). */
export interface Probing {
  /** Closes the attempt now; its callback is not called. Idempotent, and harmless once it has reported. */
  cancel(): void;
}

/** One of the two ways to carry connections (see index.ts). */
export interface TcpEngine {
  readonly name: 'handles' | 'sockets';
  /** Opens a connection; the stream exists at once so a connect timeout can destroy it. */
  connect(host: string, port: number, onConnect: ConnectCallback): TcpStream;
  /**
   * Connects and closes at once, for a health check: no stream, no reading, just the handshake. Reports once,
   * after the connection is already closed: undefined when the server accepted, else an error code.
   */
  probe(host: string, port: number, onDone: ConnectCallback): Probing;
  /**
   * Hands each connection a listening net.Server accepts to `onStream`. Call after 'listening'.
   * The server must be created with allowHalfOpen and pauseOnConnect.
   */
  accept(server: import('node:net').Server, onStream: (stream: TcpStream) => void, onError: (code: string) => void): void;
}
