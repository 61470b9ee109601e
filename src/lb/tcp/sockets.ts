// The portable engine: net.Socket. Slower per connection than handles.ts (several objects, events and
// ticks per socket) but relies on nothing internal; used where the handles engine is unavailable or
// when CLUSTER_ENDPOINT_TCP=sockets.
import { connect, type Server, type Socket } from 'node:net';
import type { ConnectCallback, Probing, StreamHandler, TcpEngine, TcpStream } from './stream.js';

class SocketStream implements TcpStream {
  readonly #socket: Socket;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  get remoteAddress(): string {
    return this.#socket.remoteAddress ?? '';
  }

  start(handler: StreamHandler): void {
    const socket = this.#socket;
    socket.on('data', (chunk: Buffer) => handler.onData(chunk));
    let ended = false;
    let finished = false;
    socket.on('end', () => { ended = true; handler.onEnd(); });
    socket.on('finish', () => { finished = true; handler.onFinish(); });
    socket.on('drain', () => handler.onDrain());
    socket.on('error', (error: NodeJS.ErrnoException) => handler.onError(error.code ?? error.message));
    // Net closes a socket by itself once both directions ended; any other close is a failure.
    socket.on('close', () => { if (!ended || !finished) handler.onError('closed'); });
    socket.resume();
  }

  write(chunk: Buffer): boolean {
    return this.#socket.write(chunk);
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.removeAllListeners();
    this.#socket.on('error', () => undefined);
    this.#socket.destroy();
  }
}

export const socketsEngine: TcpEngine = {
  name: 'sockets',

  connect(host: string, port: number, onConnect: ConnectCallback): TcpStream {
    const socket = connect({ host, port, allowHalfOpen: true, noDelay: true });
    socket.pause();
    const failed = (error: NodeJS.ErrnoException) => onConnect(error.code ?? error.message);
    socket.once('error', failed);
    socket.once('connect', () => {
      socket.off('error', failed);
      onConnect(undefined);
    });
    return new SocketStream(socket);
  },

  probe(host: string, port: number, onDone: ConnectCallback): Probing {
    const socket = connect({ host, port });
    let done = false;
    const cancel = () => {
      if (done) return;
      done = true;
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
    };
    const finish = (error: string | undefined) => {
      if (done) return;
      cancel();
      onDone(error);
    };
    socket.once('connect', () => finish(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
    return { cancel };
  },

  accept(server: Server, onStream: (stream: TcpStream) => void): void {
    server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      onStream(new SocketStream(socket));
    });
  },
};
