// The fast engine: libuv TCP handles driven directly, without net.Socket. A proxied connection then
// costs two handle objects instead of two Sockets with their streams, events and ticks — about half the
// CPU per new connection (BENCHMARKS.md). The bindings are Node internals reached through
// process.binding('tcp_wrap' / 'stream_wrap'): documented as deprecated (DEP0111) but present in Node 20,
// the version this project targets. This file is the only place that touches them; where they are
// missing or incomplete, index.ts falls back to sockets.ts.
import { lookup } from 'node:dns';
import { isIP, type Server } from 'node:net';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { ConnectCallback, Probing, StreamHandler, TcpEngine, TcpStream } from './stream.js';

/** A libuv TCP handle as tcp_wrap exposes it (the subset used here). Methods return 0 or -errno. */
interface TcpHandle {
  onread: () => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(request: WriteRequest, chunk: Buffer): number;
  shutdown(request: ShutdownRequest): number;
  useUserBuffer(buffer: Buffer): void;
  setNoDelay(on: boolean): number;
  getpeername(out: { address?: string }): number;
  connect(request: ConnectRequest, address: string, port: number): number;
  connect6(request: ConnectRequest, address: string, port: number): number;
  close(callback?: () => void): void;
}

interface WriteRequest {
  handle: TcpHandle | null;
  buffer: Buffer | null;
  oncomplete: ((status: number) => void) | null;
}
interface ShutdownRequest {
  handle: TcpHandle | null;
  oncomplete: ((status: number) => void) | null;
}
interface ConnectRequest {
  oncomplete: ((status: number) => void) | null;
}

interface Bindings {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectRequest;
  socketType: number;
  WriteWrap: new () => WriteRequest;
  ShutdownWrap: new () => ShutdownRequest;
  /** Shared with C++: the result of the last read and write. */
  state: Int32Array;
  readBytesOrError: number;
  lastWriteWasAsync: number;
}

function loadBindings(): Bindings | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const tcp = binding('tcp_wrap') as { TCP: Bindings['TCP']; TCPConnectWrap: Bindings['TCPConnectWrap']; constants: { SOCKET: number } };
    const stream = binding('stream_wrap') as {
      WriteWrap: Bindings['WriteWrap']; ShutdownWrap: Bindings['ShutdownWrap']; streamBaseState: Int32Array;
      kReadBytesOrError: number; kLastWriteWasAsync: number;
    };
    const proto = tcp.TCP?.prototype as Partial<TcpHandle> | undefined;
    const complete = proto && ['readStart', 'readStop', 'writeBuffer', 'shutdown', 'useUserBuffer', 'setNoDelay', 'getpeername', 'connect', 'connect6', 'close']
      .every((method) => typeof (proto as Record<string, unknown>)[method] === 'function');
    if (!complete || !(stream.streamBaseState instanceof Int32Array) || typeof tcp.constants?.SOCKET !== 'number') return undefined;
    return {
      TCP: tcp.TCP, TCPConnectWrap: tcp.TCPConnectWrap, socketType: tcp.constants.SOCKET,
      WriteWrap: stream.WriteWrap, ShutdownWrap: stream.ShutdownWrap, state: stream.streamBaseState,
      readBytesOrError: stream.kReadBytesOrError, lastWriteWasAsync: stream.kLastWriteWasAsync,
    };
  } catch {
    return undefined;
  }
}

const UV_EOF = -4095;
const ENOTCONN = -constants.errno.ENOTCONN;
const READ_SIZE = 65_536;
/** Reads this large mean bulk transfer: worth a read buffer of the stream's own. */
const BULK_READ = 16_384;

function errorCode(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return `error ${status}`;
  }
}

function createEngine(b: Bindings): TcpEngine {
  const { state } = b;
  // Small reads of every stream land here and are copied out at once, so an idle connection owns no
  // buffer. A stream that reads bulk gets a buffer of its own and hands out views of it (stream.ts says
  // why that is safe).
  const scratch = Buffer.allocUnsafe(READ_SIZE);
  // A write the kernel takes at once never touches its request object, so one serves every such write;
  // a write that queues keeps it, and the next write gets a new one.
  let spareWrite = new b.WriteWrap();

  class HandleStream implements TcpStream {
    readonly #handle: TcpHandle;
    #handler: StreamHandler | undefined;
    /** Set once the stream reads bulk: its own read buffer, handed out as views. */
    #readBuffer: Buffer | undefined;
    #queuedWrites = 0;
    #ending = false;
    /** FIN received: reading must not start again (libuv would report the end once more). */
    #ended = false;
    /** libuv refuses to start reading twice. */
    #reading = false;
    #readerSet = false;
    #closed = false;
    #failed = false;
    #onWriteDone: ((status: number) => void) | undefined;

    constructor(handle: TcpHandle) {
      this.#handle = handle;
    }

    get remoteAddress(): string {
      const out: { address?: string } = {};
      return this.#closed || this.#handle.getpeername(out) !== 0 ? '' : out.address ?? '';
    }

    get closed(): boolean {
      return this.#closed;
    }

    start(handler: StreamHandler): void {
      if (this.#closed) return;
      this.#handler = handler;
      this.#startReading();
    }

    #startReading(): void {
      if (!this.#readerSet) {
        this.#readerSet = true;
        this.#handle.onread = () => this.#read();
        this.#handle.useUserBuffer(scratch);
      }
      if (this.#reading || this.#ended) return;
      this.#reading = true;
      this.#check(this.#handle.readStart());
    }

    #read(): void {
      const size = state[b.readBytesOrError]!;
      const handler = this.#handler;
      // Before start(): only a failed connect's leftovers (connectTo reads early); its caller is told.
      if (this.#closed || !handler) return;
      if (size > 0) {
        if (this.#readBuffer) {
          handler.onData(this.#readBuffer.subarray(0, size));
          return;
        }
        const chunk = Buffer.from(scratch.subarray(0, size));
        if (size >= BULK_READ) {
          this.#readBuffer = Buffer.allocUnsafe(READ_SIZE);
          this.#handle.useUserBuffer(this.#readBuffer);
        }
        handler.onData(chunk);
        return;
      }
      if (size === UV_EOF) {
        if (this.#ended) return;
        this.#ended = true;
        this.#reading = false; // libuv stops reading at the end
        handler.onEnd();
      } else if (size < 0) {
        handler.onError(errorCode(size));
      }
    }

    write(chunk: Buffer): boolean {
      if (this.#closed) return true;
      const request = spareWrite;
      const status = this.#handle.writeBuffer(request, chunk);
      if (status !== 0) {
        this.#fail(status);
        return true;
      }
      if (state[b.lastWriteWasAsync] === 0) return true;
      // Queued: libuv completes it later and only then reads these fields, so they are set now, not
      // for every write. The chunk stays referenced until then.
      request.handle = this.#handle;
      request.buffer = chunk;
      request.oncomplete = this.#onWriteDone ??= (status: number): void => this.#writeDone(status);
      spareWrite = new b.WriteWrap();
      this.#queuedWrites++;
      return false;
    }

    #writeDone(status: number): void {
      if (this.#closed) return;
      if (status < 0) {
        this.#fail(status);
        return;
      }
      if (--this.#queuedWrites === 0) this.#handler?.onDrain();
    }

    pause(): void {
      if (!this.#reading || this.#closed) return;
      this.#reading = false;
      this.#handle.readStop();
    }

    resume(): void {
      if (!this.#closed && this.#handler) this.#startReading();
    }

    end(): void {
      if (this.#closed || this.#ending) return;
      this.#ending = true;
      // The peer sent its FIN and nothing waits to be written: close() will send ours (the socket holds no
      // unread bytes after the peer's FIN, so the close is graceful) — one shutdown call fewer per connection.
      if (this.#ended && this.#queuedWrites === 0) {
        this.#finishLater();
        return;
      }
      const request = new b.ShutdownWrap();
      request.handle = this.#handle;
      request.oncomplete = (status) => {
        if (this.#closed) return;
        if (status < 0 && status !== ENOTCONN) this.#fail(status);
        else this.#handler?.onFinish();
      };
      const status = this.#handle.shutdown(request);
      // 1: finished at once; ENOTCONN: the peer is gone and there is nothing left to finish.
      if (status === 1 || status === ENOTCONN) this.#finishLater();
      else if (status < 0) this.#fail(status);
    }

    #finishLater(): void {
      queueMicrotask(() => { if (!this.#closed) this.#handler?.onFinish(); });
    }

    destroy(): void {
      if (this.#closed) return;
      this.#closed = true;
      this.#handle.close();
    }

    /** Connects the handle to an IP address. */
    connectTo(address: string, family: number, port: number, onConnect: ConnectCallback): void {
      if (this.#closed) return;
      const request = new b.TCPConnectWrap();
      request.oncomplete = (status) => {
        if (this.#closed) return;
        if (status < 0) {
          onConnect(errorCode(status));
          return;
        }
        this.#handle.setNoDelay(true);
        onConnect(undefined);
      };
      const status = family === 6 ? this.#handle.connect6(request, address, port) : this.#handle.connect(request, address, port);
      // Reported on a later tick, as an asynchronous failure would be.
      if (status !== 0) {
        queueMicrotask(() => { if (!this.#closed) onConnect(errorCode(status)); });
        return;
      }
      // Reading from now on (libuv allows it while connecting) registers the socket for the connect and
      // for reads at once, which saves libuv a failed EPOLL_CTL_ADD and a MOD after the connect. Nothing
      // is read before the connect completes.
      this.#startReading();
    }

    /** A failed call: reported once, asynchronously, so the caller's own call returns first. */
    #check(status: number): void {
      if (status !== 0) this.#fail(status);
    }

    #fail(status: number): void {
      if (this.#failed) return;
      this.#failed = true;
      queueMicrotask(() => { if (!this.#closed) this.#handler?.onError(errorCode(status)); });
    }
  }

  /**
   * A connect-only attempt (a health check): a bare handle and its connect request, closed as soon as the
   * connect completes. No stream object, no reading, no TCP_NODELAY: a thousand checks a second then cost
   * little more than the connects themselves. A local shortage (EMFILE: libuv creates the socket in connect)
   * is reported as its code, like any other failure.
   */
  class HandleProbe implements Probing {
    #handle: TcpHandle | undefined = new b.TCP(b.socketType);
    /** Undefined once reported or cancelled: nothing is reported twice, or after cancel(). */
    #onDone: ConnectCallback | undefined;

    constructor(onDone: ConnectCallback) {
      this.#onDone = onDone;
    }

    connectTo(address: string, family: number, port: number): void {
      const handle = this.#handle;
      if (!handle) return;
      const request = new b.TCPConnectWrap();
      request.oncomplete = (status) => this.finish(status < 0 ? errorCode(status) : undefined);
      const status = family === 6 ? handle.connect6(request, address, port) : handle.connect(request, address, port);
      // Reported on a later tick, as an asynchronous failure would be.
      if (status !== 0) queueMicrotask(() => this.finish(errorCode(status)));
    }

    /** Closes the handle, then reports. */
    finish(error: string | undefined): void {
      const onDone = this.#onDone;
      if (!onDone) return;
      this.cancel();
      onDone(error);
    }

    cancel(): void {
      this.#onDone = undefined;
      this.#handle?.close();
      this.#handle = undefined;
    }
  }

  return {
    name: 'handles',

    connect(host: string, port: number, onConnect: ConnectCallback): TcpStream {
      const stream = new HandleStream(new b.TCP(b.socketType));
      const family = isIP(host);
      if (family !== 0) {
        stream.connectTo(host, family, port, onConnect);
      } else {
        // A server given by DNS name is looked up for every connection, as net.connect does.
        lookup(host, (error, address, resolvedFamily) => {
          if (stream.closed) return;
          if (error) onConnect(error.code ?? error.message);
          else stream.connectTo(address, resolvedFamily, port, onConnect);
        });
      }
      return stream;
    },

    probe(host: string, port: number, onDone: ConnectCallback): Probing {
      const probe = new HandleProbe(onDone);
      const family = isIP(host);
      if (family !== 0) probe.connectTo(host, family, port);
      else lookup(host, (error, address, resolvedFamily) => (error ? probe.finish(error.code ?? error.message) : probe.connectTo(address, resolvedFamily, port)));
      return probe;
    },

    accept(server: Server, onStream: (stream: TcpStream) => void, onError: (code: string) => void): void {
      const listening = (server as unknown as { _handle: { onconnection?: unknown } | null })._handle;
      if (!listening || typeof listening.onconnection !== 'function') throw new Error('the server is not listening');
      // Linux copies TCP_NODELAY from the listening socket to every socket it accepts: one call, not one each.
      const inherited = (listening as unknown as TcpHandle).setNoDelay(true) === 0;
      listening.onconnection = (status: number, handle: TcpHandle | undefined) => {
        if (status !== 0 || !handle) {
          onError(errorCode(status));
          return;
        }
        if (!inherited) handle.setNoDelay(true);
        onStream(new HandleStream(handle));
      };
    },
  };
}

const bindings = loadBindings();

/** The handles engine, or undefined where this Node has not the bindings it needs. */
export const handlesEngine: TcpEngine | undefined = bindings ? createEngine(bindings) : undefined;
