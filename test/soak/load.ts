// The client side of a soak or a drill: many short connections, long-lived watch-like streams that reconnect
// when cut, and bulk transfers checked for integrity, all through one balancer port against node-program.ts
// nodes. Everything a client sees is recorded with its time and, where known, the server that served it, so
// a driver can tell a loss it caused (a killed server) from one it did not.
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { payload, payloadDigest } from '../helpers/payload.js';

export interface Failure { at: number; kind: 'short' | 'stream' | 'bulk'; reason: string }
export interface Loss { at: number; kind: 'stream' | 'bulk'; server: string | undefined; reason: string }

export interface LoadOptions {
  host?: string;
  port: number;
  shortWorkers: number;
  streams: number;
  bulkWorkers: number;
  bulkBytes: number;
  /** A new connection that gets no answer within this is a failure (must cover firstByteTimeout + 1 s). */
  answerTimeoutMs: number;
}

export class Load {
  readonly options: LoadOptions;
  /** Connections that reached the balancer (TCP connect completed). */
  connections = 0;
  /** Bytes the kernel took from us and bytes we read, over every connection (socket.bytesWritten/bytesRead). */
  bytesWritten = 0;
  bytesRead = 0;
  shortOk = 0;
  bulkOk = 0;
  readonly failures: Failure[] = [];
  readonly losses: Loss[] = [];
  readonly integrityErrors: string[] = [];
  /** From a stream being cut to the first tick on its replacement. */
  readonly reconnectMs: number[] = [];
  /** Stream ticks that came more than 1 s apart (a frozen or draining server): not losses. */
  stalls = 0;
  readonly servedBy = new Map<string, number>();
  #running = false;
  #paused: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  #workers: Promise<void>[] = [];
  readonly #open = new Set<Socket>();
  #seed = 1;

  constructor(options: LoadOptions) {
    this.options = options;
  }

  /** Clients stop by themselves after this, whatever happens to whoever started them. */
  static readonly MAX_RUN_MS = 30 * 60_000;

  start(): void {
    this.#running = true;
    const guard = setTimeout(() => { this.#running = false; this.resume(); }, Load.MAX_RUN_MS);
    guard.unref();
    const o = this.options;
    for (let i = 0; i < o.shortWorkers; i++) this.#workers.push(this.#shortWorker(i));
    for (let i = 0; i < o.streams; i++) this.#workers.push(this.#stream(i));
    for (let i = 0; i < o.bulkWorkers; i++) this.#workers.push(this.#bulkWorker(i));
  }

  /** Short and bulk workers wait after their current round; streams keep running. */
  pause(): void {
    this.#paused ??= new Promise((resolve) => { this.#resume = resolve; });
  }

  resume(): void {
    this.#resume?.();
    this.#paused = undefined;
  }

  /** Stops every client (streams end cleanly) and waits for them. */
  async stop(): Promise<void> {
    this.#running = false;
    this.resume();
    for (const socket of this.#open) socket.end();
    await Promise.all(this.#workers);
    this.#workers = [];
  }

  #served(server: string): void {
    this.servedBy.set(server, (this.servedBy.get(server) ?? 0) + 1);
  }

  /** A socket counted from connect to close; resolves on close. */
  #open_(onConnect: (socket: Socket) => void): { socket: Socket; closed: Promise<void>; connected: () => boolean } {
    const socket = connect({ host: this.options.host ?? '127.0.0.1', port: this.options.port });
    let connected = false;
    this.#open.add(socket);
    socket.on('error', () => undefined);
    socket.once('connect', () => { connected = true; this.connections++; onConnect(socket); });
    const closed = new Promise<void>((resolve) => socket.once('close', () => {
      this.#open.delete(socket);
      this.bytesWritten += socket.bytesWritten;
      this.bytesRead += socket.bytesRead;
      resolve();
    }));
    return { socket, closed, connected: () => connected };
  }

  async #shortWorker(worker: number): Promise<void> {
    for (let i = 0; this.#running; i++) {
      if (this.#paused) await this.#paused;
      if (!this.#running) return;
      const tag = `s${worker}-${i};`;
      let reply = '';
      let error = '';
      const { socket, closed } = this.#open_((s) => s.write(tag));
      const timer = setTimeout(() => { error ||= `no answer within ${this.options.answerTimeoutMs} ms`; socket.destroy(); }, this.options.answerTimeoutMs);
      socket.on('data', (d: Buffer) => {
        reply += d.toString('latin1');
        if (reply.endsWith(tag)) socket.end();
      });
      let ended = '';
      socket.once('end', () => { ended = reply ? 'FIN after a partial reply' : 'FIN before any reply'; });
      socket.once('error', (e: NodeJS.ErrnoException) => { error ||= `${e.code ?? e.message}${ended ? ` (${ended})` : ''} on local port ${socket.localPort}`; });
      await closed;
      clearTimeout(timer);
      const match = /^(cp-\d+):(.*)$/.exec(reply);
      if (match && match[2] === tag) {
        this.shortOk++;
        this.#served(match[1]);
      } else if (this.#running) { // not one that stop() ended half-way
        this.failures.push({ at: Date.now(), kind: 'short', reason: error || (reply ? `bad reply ${JSON.stringify(reply.slice(0, 80))}` : 'closed without a reply') });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** A watch-like stream: ticks every 100 ms; when cut, it is recorded and replaced at once. */
  async #stream(index: number): Promise<void> {
    let cutAt: number | undefined;
    while (this.#running) {
      let server: string | undefined;
      let ticks = 0;
      let lastTickAt = 0;
      let buffer = '';
      let endedByUs = false;
      const { socket, closed } = this.#open_((s) => s.write('WATCH\n'));
      const answer = setTimeout(() => { if (ticks === 0) socket.destroy(); }, this.options.answerTimeoutMs);
      socket.on('data', (d: Buffer) => {
        buffer += d.toString('latin1');
        let newline: number;
        while ((newline = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          const match = /^(cp-\d+) tick \d+$/.exec(line);
          if (!match) { this.integrityErrors.push(`stream ${index}: unexpected line ${JSON.stringify(line.slice(0, 80))}`); continue; }
          const now = Date.now();
          if (ticks === 0) {
            server = match[1];
            this.#served(server);
            if (cutAt !== undefined) this.reconnectMs.push(now - cutAt);
            cutAt = undefined;
          } else if (match[1] !== server) {
            this.integrityErrors.push(`stream ${index}: ticks from ${server} then ${match[1]} on one connection`);
          } else if (now - lastTickAt > 1000) {
            this.stalls++;
          }
          ticks++;
          lastTickAt = now;
        }
      });
      const stopWatch = setInterval(() => { if (!this.#running) { endedByUs = true; socket.end(); } }, 50);
      await closed;
      clearInterval(stopWatch);
      clearTimeout(answer);
      if (endedByUs || !this.#running) return;
      const now = Date.now();
      if (ticks === 0) this.failures.push({ at: now, kind: 'stream', reason: 'a new stream got no tick' });
      else this.losses.push({ at: now, kind: 'stream', server, reason: 'stream cut' });
      cutAt ??= now;
    }
  }

  async #bulkWorker(worker: number): Promise<void> {
    for (let i = 0; this.#running; i++) {
      if (this.#paused) await this.#paused;
      if (!this.#running) return;
      if ((worker + i) % 2 === 0) await this.#download();
      else await this.#upload();
    }
  }

  async #download(): Promise<void> {
    const bytes = this.options.bulkBytes;
    const seed = this.#seed++;
    const hash = createHash('sha256');
    let head = '';
    let server: string | undefined;
    let body = 0;
    const { socket, closed, connected } = this.#open_((s) => s.write(`DOWNLOAD ${bytes} ${seed}\n`));
    const timer = setTimeout(() => { if (server === undefined) socket.destroy(); }, this.options.answerTimeoutMs);
    socket.on('data', (d: Buffer) => {
      if (server === undefined) {
        head += d.toString('latin1');
        const newline = head.indexOf('\n');
        if (newline === -1) return;
        server = head.slice(0, newline);
        const rest = Buffer.from(head.slice(newline + 1), 'latin1');
        body += rest.length;
        hash.update(rest);
        return;
      }
      body += d.length;
      hash.update(d);
    });
    let ended = false;
    socket.once('end', () => { ended = true; socket.end(); });
    await closed;
    clearTimeout(timer);
    this.#bulkOutcome('download', server, connected(), ended && body === bytes, () => hash.digest('hex') === payloadDigest(seed, bytes), `${body} of ${bytes} bytes`);
  }

  async #upload(): Promise<void> {
    const bytes = this.options.bulkBytes;
    const seed = this.#seed++;
    let reply = '';
    // As a TLS client waits for the server's handshake before its data: the payload goes once the server has
    // said who it is, so until then the request is small enough to be replayed elsewhere.
    const send = async (s: Socket) => {
      for (const block of payload(seed, bytes)) {
        if (s.destroyed) return;
        if (!s.write(block)) await new Promise((r) => { s.once('drain', r); s.once('close', r); });
      }
    };
    const { socket, closed, connected } = this.#open_((s) => s.write(`UPLOAD ${bytes}\n`));
    const timer = setTimeout(() => { if (!reply) socket.destroy(); }, this.options.answerTimeoutMs);
    let sending = false;
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (!sending && reply.includes('\n')) { sending = true; clearTimeout(timer); void send(socket); }
    });
    socket.once('end', () => socket.end());
    await closed;
    clearTimeout(timer);
    const server = /^(cp-\d+)\n/.exec(reply)?.[1];
    const match = /^cp-\d+\n([0-9a-f]{64})\n$/.exec(reply);
    this.#bulkOutcome('upload', server, connected(), match !== null, () => match![1] === payloadDigest(seed, bytes), reply ? JSON.stringify(reply.slice(0, 80)) : 'no reply');
  }

  #bulkOutcome(kind: string, server: string | undefined, connected: boolean, complete: boolean, intact: () => boolean, detail: string): void {
    const now = Date.now();
    if (complete) {
      if (intact()) { this.bulkOk++; this.#served(server!); } else this.integrityErrors.push(`${kind} from ${server}: the data differs (${detail})`);
    } else if (!this.#running) {
      // stopped by us mid-transfer
    } else if (!connected || server === undefined) {
      this.failures.push({ at: now, kind: 'bulk', reason: `${kind}: ${connected ? 'no answer' : 'no connection'}` });
    } else {
      this.losses.push({ at: now, kind: 'bulk', server, reason: `${kind} cut: ${detail}` });
    }
  }
}
