// The rehearsal's client: kubectl-like traffic through the endpoint, as the operators' and the cluster's own
// clients make it. New requests at a steady rate (each a new TCP + TLS connection, as each kubectl run is);
// watch streams that open with one event and then stay idle (HTTP/1.1, no pings: only the balancer's
// timeouts can end them); an exec-like upgraded stream that echoes a byte a second; and talosctl-like gRPC
// calls on the Talos port. Everything it sees is an event with the time it happened, for the verdict.
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import type { Socket } from 'node:net';
import { errorCode } from '../health/probes/attempt.js';
import { joinHostPort } from '../spec/address.js';
import { CLIENT_AGENT } from './apiserver.js';

export interface ClientCredentials { port: number; ca: string; cert: string; key: string }

export interface ClientOptions {
  endpoint: string;
  kubernetes?: ClientCredentials;
  talos?: ClientCredentials;
  requestsPerSecond: number;
  talosPerSecond: number;
  watches: number;
  execs: number;
  /** A request that takes longer has failed (the user gave up). */
  requestTimeoutMs: number;
  emit(event: ClientEvent): void;
}

export type ClientEvent =
  | { e: 'sent'; api: 'kubernetes' | 'talos'; id: number; at: number }
  | { e: 'request'; api: 'kubernetes' | 'talos'; id: number; at: number; ms: number; ok: boolean; node?: string; error?: string }
  | { e: 'stream'; kind: 'watch' | 'exec'; id: number; event: 'open'; at: number; node?: string }
  | { e: 'stream'; kind: 'watch' | 'exec'; id: number; event: 'cut'; at: number; reason: string; idleMs: number; openedAt: number }
  | { e: 'stream'; kind: 'watch' | 'exec'; id: number; event: 'open-failed'; at: number; reason: string };

/** How long a cut stream waits before it opens again (client-go's reflector backs off about this much at first). */
const REOPEN_MS = 200;
/** An exec stream that has not echoed for this long is stalled. */
const EXEC_STALL_MS = 3000;

export class RehearsalClient {
  readonly #o: ClientOptions;
  #stopped = false;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #sockets = new Set<{ destroy(): void }>();
  #inFlight = 0;
  #nextId = 0;

  constructor(options: ClientOptions) {
    this.#o = options;
  }

  start(): void {
    const o = this.#o;
    if (o.kubernetes) {
      this.#every(1000 / o.requestsPerSecond, () => this.#kubernetesRequest(o.kubernetes!));
      for (let id = 0; id < o.watches; id++) this.#watch(o.kubernetes, id);
      for (let id = 0; id < o.execs; id++) this.#exec(o.kubernetes, id);
    }
    if (o.talos && o.talosPerSecond > 0) this.#every(1000 / o.talosPerSecond, () => this.#talosCall(o.talos!));
  }

  /** Stops starting anything; resolves once the requests still in flight have ended (each is bounded by its timeout). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.#sockets) socket.destroy();
    const deadline = Date.now() + this.#o.requestTimeoutMs + 500;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Runs fn at a fixed rate from now on (drift-free: each run is due at start + n × interval). */
  #every(intervalMs: number, fn: () => void): void {
    const start = Date.now();
    let n = 0;
    const tick = () => {
      if (this.#stopped) return;
      fn();
      n++;
      this.#later(Math.max(0, start + n * intervalMs - Date.now()), tick);
    };
    tick();
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => { this.#timers.delete(timer); fn(); }, ms);
    this.#timers.add(timer);
  }

  #options(c: ClientCredentials, path: string, headers: Record<string, string> = {}) {
    return {
      host: this.#o.endpoint, port: c.port, path, ca: c.ca, cert: c.cert, key: c.key, agent: false as const,
      headers: { 'user-agent': `${CLIENT_AGENT} (kubectl-like)`, accept: 'application/json', ...headers },
    };
  }

  #kubernetesRequest(c: ClientCredentials): void {
    const at = Date.now();
    const id = this.#nextId++;
    let done = false;
    this.#inFlight++;
    this.#o.emit({ e: 'sent', api: 'kubernetes', id, at });
    const finish = (ok: boolean, extra: { node?: string; error?: string }) => {
      if (done) return;
      done = true;
      this.#inFlight--;
      clearTimeout(timer);
      this.#o.emit({ e: 'request', api: 'kubernetes', id, at, ms: Date.now() - at, ok, ...extra });
    };
    const req = httpsRequest({ ...this.#options(c, '/api/v1/namespaces/default/pods?limit=1', { connection: 'close' }), method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode === 200, { node: header(res.headers['x-demo-node']), ...(res.statusCode === 200 ? {} : { error: `http ${res.statusCode}` }) }));
      res.on('error', (error) => finish(false, { error: errorCode(error) }));
    });
    const timer = setTimeout(() => { finish(false, { error: 'timeout' }); req.destroy(); }, this.#o.requestTimeoutMs);
    req.on('error', (error) => finish(false, { error: errorCode(error) }));
    req.end();
  }

  #watch(c: ClientCredentials, id: number): void {
    if (this.#stopped) return;
    const openedAt = Date.now();
    let lastByte = openedAt;
    let open = false;
    let ended = false;
    const end = (reason: string) => {
      if (ended || this.#stopped) return;
      ended = true;
      const at = Date.now();
      if (open) this.#o.emit({ e: 'stream', kind: 'watch', id, event: 'cut', at, reason, idleMs: at - lastByte, openedAt });
      else this.#o.emit({ e: 'stream', kind: 'watch', id, event: 'open-failed', at, reason });
      this.#later(open ? REOPEN_MS : 500, () => this.#watch(c, id));
    };
    const req = httpsRequest({ ...this.#options(c, '/api/v1/namespaces/default/pods?watch=1&resourceVersion=0'), method: 'GET' }, (res) => {
      if (res.statusCode !== 200) { res.resume(); end(`http ${res.statusCode}`); req.destroy(); return; }
      open = true;
      this.#o.emit({ e: 'stream', kind: 'watch', id, event: 'open', at: Date.now(), ...(header(res.headers['x-demo-node']) ? { node: header(res.headers['x-demo-node']) } : {}) });
      res.on('data', () => { lastByte = Date.now(); });
      res.on('end', () => end('ended by the server'));
      res.on('error', (error) => end(errorCode(error)));
      res.on('close', () => end('closed'));
    });
    req.setTimeout(this.#o.requestTimeoutMs, () => { if (!open) { end('timeout'); req.destroy(); } });
    req.on('socket', (socket) => { this.#sockets.add(socket); socket.on('close', () => this.#sockets.delete(socket)); });
    req.on('error', (error) => end(errorCode(error)));
    req.end();
  }

  #exec(c: ClientCredentials, id: number): void {
    if (this.#stopped) return;
    const openedAt = Date.now();
    let lastEcho = openedAt;
    let socket: Socket | undefined;
    let ended = false;
    let pinger: NodeJS.Timeout | undefined;
    const end = (reason: string) => {
      if (ended || this.#stopped) return;
      ended = true;
      clearInterval(pinger);
      socket?.destroy();
      const at = Date.now();
      if (socket) this.#o.emit({ e: 'stream', kind: 'exec', id, event: 'cut', at, reason, idleMs: at - lastEcho, openedAt });
      else this.#o.emit({ e: 'stream', kind: 'exec', id, event: 'open-failed', at, reason });
      this.#later(socket ? REOPEN_MS : 500, () => this.#exec(c, id));
    };
    const req = httpsRequest({
      ...this.#options(c, '/api/v1/namespaces/default/pods/rehearsal/exec?command=sh&stdin=true&stdout=true&tty=true', { connection: 'Upgrade', upgrade: 'SPDY/3.1' }),
      method: 'POST',
    });
    req.on('upgrade', (res, upgraded: Socket) => {
      socket = upgraded;
      // The stall clock starts at the upgrade: a stream that took seconds to open (a node down, the VIP on
      // its way) is not stalled before it has had the chance to echo.
      lastEcho = Date.now();
      this.#sockets.add(upgraded);
      this.#o.emit({ e: 'stream', kind: 'exec', id, event: 'open', at: Date.now(), ...(header(res.headers['x-demo-node']) ? { node: header(res.headers['x-demo-node']) } : {}) });
      upgraded.on('data', () => { lastEcho = Date.now(); });
      upgraded.on('close', () => { this.#sockets.delete(upgraded); end('closed'); });
      upgraded.on('error', (error) => end(errorCode(error)));
      pinger = setInterval(() => {
        if (Date.now() - lastEcho > EXEC_STALL_MS) { end('stalled'); return; }
        upgraded.write('.');
      }, 1000);
    });
    req.on('response', (res) => { res.resume(); end(`http ${res.statusCode}`); });
    req.setTimeout(this.#o.requestTimeoutMs, () => { if (!socket) { end('timeout'); req.destroy(); } });
    req.on('error', (error) => end(errorCode(error)));
    req.end();
  }

  /** talosctl version: one gRPC call over a new HTTP/2 connection with the talosconfig's client certificate. */
  #talosCall(c: ClientCredentials): void {
    const at = Date.now();
    const id = this.#nextId++;
    let done = false;
    this.#o.emit({ e: 'sent', api: 'talos', id, at });
    const session = http2Connect(`https://${joinHostPort(this.#o.endpoint, c.port)}`, { ca: c.ca, cert: c.cert, key: c.key });
    this.#inFlight++;
    const finish = (ok: boolean, extra: { node?: string; error?: string }) => {
      if (done) return;
      done = true;
      this.#inFlight--;
      clearTimeout(timer);
      session.destroy();
      this.#o.emit({ e: 'request', api: 'talos', id, at, ms: Date.now() - at, ok, ...extra });
    };
    const timer = setTimeout(() => finish(false, { error: 'timeout' }), this.#o.requestTimeoutMs);
    session.on('error', (error) => finish(false, { error: errorCode(error) }));
    const stream = session.request({ [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: '/machine.MachineService/Version', 'content-type': 'application/grpc', te: 'trailers' });
    let node: string | undefined;
    stream.on('response', (headers) => { node = header(headers['x-demo-node'] as string | string[] | undefined); });
    stream.on('trailers', (trailers) => finish(trailers['grpc-status'] === '0', { ...(node ? { node } : {}), ...(trailers['grpc-status'] === '0' ? {} : { error: `grpc-status ${String(trailers['grpc-status'])}` }) }));
    stream.on('error', (error) => finish(false, { error: errorCode(error) }));
    stream.on('close', () => finish(false, { error: 'closed' }));
    stream.resume();
    stream.end(Buffer.alloc(5));
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
